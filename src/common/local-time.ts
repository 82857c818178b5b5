/** 24 hours in milliseconds: cadences and frequency-cap windows count elapsed time, not calendar days. */
export const DAY_MS = 86_400_000;

/** A range of local hours, [startHour, endHour): a send window, or SMS quiet hours. */
export interface HourRange {
  /** First hour inside the range (0-23). */
  startHour: number;
  /** First hour past it (1-24). */
  endHour: number;
}

/**
 * One formatter per zone, kept: an Intl.DateTimeFormat holds tens of kilobytes of ICU memory outside the V8 heap,
 * which a collection frees late, so making one per call grew a campaign's resident memory by ~40 MB.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function parts(at: Date, timeZone: string): Record<string, string> {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  return Object.fromEntries(formatter.formatToParts(at).map((part) => [part.type, part.value]));
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

/** Every zone's offset is a multiple of 15 minutes (Kathmandu's +5:45 too), so local hours start on these steps. */
const QUARTER_HOUR_MS = 15 * 60_000;

/**
 * When the range that contains `at` ends (Intl knows the zone's offsets, including half-hour ones): the first
 * quarter hour past it, at most a day ahead. `at` itself when it is outside the range.
 */
export function rangeEndsAt(at: Date, timeZone: string, range: HourRange): Date {
  if (!isWithinHours(at, timeZone, range)) return at;
  let end = new Date(Math.ceil(at.getTime() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS);
  for (let step = 0; step < 96 && isWithinHours(end, timeZone, range); step++) end = new Date(end.getTime() + QUARTER_HOUR_MS);
  return end;
}

/**
 * Calendar days from `from` to the local day `day` (YYYY-MM-DD) in `timeZone`, never negative: the same count
 * for a draft prepared at 02:00 and its send at 10:00 the same day.
 */
export function calendarDaysSince(from: Date, day: string, timeZone: string): number {
  return Math.max(0, Math.round((Date.parse(day) - Date.parse(localDay(from, timeZone))) / DAY_MS));
}

/** When the range next opens: `at` itself when it is inside, else the quarter hour a local hour starts on. */
export function nextRangeStart(at: Date, timeZone: string, range: HourRange): Date {
  if (isWithinHours(at, timeZone, range)) return at;
  let start = new Date(Math.ceil(at.getTime() / QUARTER_HOUR_MS) * QUARTER_HOUR_MS);
  for (let step = 0; step < 2 * 96 && !isWithinHours(start, timeZone, range); step++) start = new Date(start.getTime() + QUARTER_HOUR_MS);
  return start;
}
