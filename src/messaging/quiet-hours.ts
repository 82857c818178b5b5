import { localHour } from '../jobs/send-window';

/** True inside [startHour, endHour) on the clock of `timeZone`; an empty range (start = end) is never quiet. */
export function isQuietHour(at: Date, timeZone: string, quiet: { startHour: number; endHour: number }): boolean {
  const hour = localHour(at, timeZone);
  return quiet.startHour <= quiet.endHour
    ? hour >= quiet.startHour && hour < quiet.endHour
    : hour >= quiet.startHour || hour < quiet.endHour;
}
