import { calendarDaysSince, isWithinHours, localDay, localHour, nextRangeStart, rangeEndsAt } from './local-time';

const DHAKA = 'Asia/Dhaka'; // UTC+6, no daylight saving
const window = { startHour: 9, endHour: 18 };

describe('send window', () => {
  it('reads the hour on the customers’ wall clock, not UTC', () => {
    expect(localHour(new Date('2026-11-24T09:00:00Z'), DHAKA)).toBe(15);
    expect(localHour(new Date('2026-11-24T20:30:00Z'), DHAKA)).toBe(2);
  });

  it.each([
    ['2026-11-24T02:59:59Z', false], // 08:59:59 in Dhaka
    ['2026-11-24T03:00:00Z', true], // 09:00 opens
    ['2026-11-24T09:00:00Z', true], // the daily cron at 09:00 UTC is 15:00 in Dhaka
    ['2026-11-24T11:59:59Z', true], // 17:59:59
    ['2026-11-24T12:00:00Z', false], // 18:00 closes
  ])('at %s the window is open: %s', (instant, open) => {
    expect(isWithinHours(new Date(instant), DHAKA, window)).toBe(open);
  });

  it('uses the local calendar day for the claim key across midnight', () => {
    expect(localDay(new Date('2026-11-24T17:59:59Z'), DHAKA)).toBe('2026-11-24');
    expect(localDay(new Date('2026-11-24T18:00:00Z'), DHAKA)).toBe('2026-11-25');
    expect(localDay(new Date('2026-11-24T18:00:00Z'), 'UTC')).toBe('2026-11-24');
  });

  it('wraps a range past midnight and treats an empty range as never', () => {
    const night = { startHour: 22, endHour: 6 };
    expect(isWithinHours(new Date('2026-11-24T17:00:00Z'), DHAKA, night)).toBe(true); // 23:00
    expect(isWithinHours(new Date('2026-11-24T23:59:00Z'), DHAKA, night)).toBe(true); // 05:59
    expect(isWithinHours(new Date('2026-11-25T00:00:00Z'), DHAKA, night)).toBe(false); // 06:00
    expect(isWithinHours(new Date('2026-11-24T17:00:00Z'), DHAKA, { startHour: 0, endHour: 0 })).toBe(false);
  });

  it('treats a 0-24 window as always open', () => {
    for (let hour = 0; hour < 24; hour++) {
      expect(isWithinHours(new Date(Date.UTC(2026, 10, 24, hour)), DHAKA, { startHour: 0, endHour: 24 })).toBe(true);
    }
  });
});

describe('rangeEndsAt', () => {
  it('is the first minute past the range, on the zone clock (Dhaka is UTC+6)', () => {
    const at = new Date('2026-12-07T05:30:20Z'); // 11:30 in Dhaka
    expect(rangeEndsAt(at, 'Asia/Dhaka', { startHour: 9, endHour: 21 }).toISOString()).toBe('2026-12-07T15:00:00.000Z');
  });

  it('follows a half-hour offset and a range that wraps past midnight', () => {
    const at = new Date('2026-12-07T18:00:00Z'); // 23:30 in Kolkata
    expect(rangeEndsAt(at, 'Asia/Kolkata', { startHour: 22, endHour: 6 }).toISOString()).toBe('2026-12-08T00:30:00.000Z');
  });

  it('is `at` itself outside the range', () => {
    const at = new Date('2026-12-07T16:00:00Z'); // 22:00 in Dhaka
    expect(rangeEndsAt(at, 'Asia/Dhaka', { startHour: 9, endHour: 21 })).toBe(at);
  });
});

describe('calendarDaysSince', () => {
  it('counts local calendar days, so 02:00 and 10:00 of the send day agree', () => {
    const booked = new Date('2026-11-02T17:30:00Z'); // 23:30 on Nov 2 in Dhaka
    const at0200 = new Date('2026-11-23T20:00:00Z'); // 02:00 on Nov 24
    const at1000 = new Date('2026-11-24T04:00:00Z'); // 10:00 on Nov 24
    expect(calendarDaysSince(booked, localDay(at0200, DHAKA), DHAKA)).toBe(22);
    expect(calendarDaysSince(booked, localDay(at1000, DHAKA), DHAKA)).toBe(22);
  });

  it('is never negative', () => {
    expect(calendarDaysSince(new Date('2026-11-25T04:00:00Z'), '2026-11-24', DHAKA)).toBe(0);
  });
});

describe('nextRangeStart', () => {
  it('is `at` inside the range, else the minute the range next opens on the zone clock', () => {
    const inside = new Date('2026-12-07T05:30:20Z'); // 11:30 in Dhaka
    expect(nextRangeStart(inside, DHAKA, { startHour: 9, endHour: 21 })).toBe(inside);
    const night = new Date('2026-12-07T20:00:00Z'); // 02:00 on Dec 8 in Dhaka
    expect(nextRangeStart(night, DHAKA, { startHour: 9, endHour: 21 }).toISOString()).toBe('2026-12-08T03:00:00.000Z');
  });
});

describe('rangeEndsAt in a zone a quarter hour off the hour', () => {
  it('ends on the local hour in Kathmandu (UTC+5:45)', () => {
    const at = new Date('2026-12-07T10:00:00Z'); // 15:45 in Kathmandu
    expect(rangeEndsAt(at, 'Asia/Kathmandu', { startHour: 9, endHour: 18 }).toISOString()).toBe('2026-12-07T12:15:00.000Z');
  });

  it('is a day ahead for a range that never closes', () => {
    const at = new Date('2026-12-07T10:07:00Z');
    expect(rangeEndsAt(at, 'Asia/Dhaka', { startHour: 0, endHour: 24 }).getTime()).toBeGreaterThanOrEqual(at.getTime() + 86_400_000);
  });
});
