export interface SendWindow {
  /** First local hour messages may go out (0-23). */
  startHour: number;
  /** Local hour from which they may not (1-24). */
  endHour: number;
}

function parts(at: Date, timeZone: string): Record<string, string> {
  const formatted = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  return Object.fromEntries(formatted.map((part) => [part.type, part.value]));
}

/** The hour (0-23) on the wall clock in `timeZone`. */
export function localHour(at: Date, timeZone: string): number {
  return Number(parts(at, timeZone).hour);
}

/** The calendar day (YYYY-MM-DD) in `timeZone`: the campaign's claim key. */
export function localDay(at: Date, timeZone: string): string {
  const { year, month, day } = parts(at, timeZone);
  return `${year}-${month}-${day}`;
}

export function isWithinSendWindow(at: Date, timeZone: string, window: SendWindow): boolean {
  const hour = localHour(at, timeZone);
  return hour >= window.startHour && hour < window.endHour;
}
