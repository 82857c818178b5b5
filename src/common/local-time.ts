/** 24 hours in milliseconds: cadences and frequency-cap windows count elapsed time, not calendar days. */
export const DAY_MS = 86_400_000;

/** A range of local hours, [startHour, endHour): a send window, or SMS quiet hours. */
export interface HourRange {
  /** First hour inside the range (0-23). */
  startHour: number;
  /** First hour past it (1-24). */
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

/**
 * True inside the range on the clock of `timeZone`. A range whose start is after its end wraps past
 * midnight (22-6); one whose start equals its end is empty.
 */
export function isWithinHours(at: Date, timeZone: string, range: HourRange): boolean {
  const hour = localHour(at, timeZone);
  return range.startHour <= range.endHour
    ? hour >= range.startHour && hour < range.endHour
    : hour >= range.startHour || hour < range.endHour;
}

/**
 * When the range that contains `at` ends, to the minute (Intl knows the zone's offsets, including half-hour ones).
 * `at` itself when it is outside the range.
 */
export function rangeEndsAt(at: Date, timeZone: string, range: HourRange): Date {
  let end = new Date(Math.ceil(at.getTime() / 60_000) * 60_000);
  if (!isWithinHours(at, timeZone, range)) return at;
  for (let minute = 0; minute < 24 * 60 && isWithinHours(end, timeZone, range); minute++) end = new Date(end.getTime() + 60_000);
  return end;
}

/**
 * Calendar days from `from` to the local day `day` (YYYY-MM-DD) in `timeZone`, never negative: the same count
 * for a draft prepared at 02:00 and its send at 10:00 the same day.
 */
export function calendarDaysSince(from: Date, day: string, timeZone: string): number {
  return Math.max(0, Math.round((Date.parse(day) - Date.parse(localDay(from, timeZone))) / DAY_MS));
}

/** The first minute at or after `at` inside the range; `at` itself when it is inside. */
export function nextRangeStart(at: Date, timeZone: string, range: HourRange): Date {
  let start = at;
  for (let minute = 0; minute < 48 * 60 && !isWithinHours(start, timeZone, range); minute++) {
    start = new Date((Math.floor(start.getTime() / 60_000) + 1) * 60_000);
  }
  return start;
}
