import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CustomerProfile } from './customer-profile';

export interface EligibilityCriteria {
  /** Customers must be reachable on it: an email address, or a phone number for SMS. */
  channel: 'EMAIL' | 'SMS';
  /** Last booking at least this long ago. */
  bookedBefore: Date;
  /** Exclude customers messaged after this instant (the frequency-cap window); null = no filter. */
  messagedBefore: Date | null;
  /** "Now" for the upcoming-booking test. */
  now: Date;
}

/**
 * Position after the last row of a page: pages are read by (last_booking_at, id). The timestamp is
 * kept as Postgres' own text: a JS Date would drop the microseconds and repeat rows.
 */
export interface EligibilityCursor {
  lastBookingAt: string;
  id: string;
}

export interface SegmentPage {
  customers: CustomerProfile[];
  /** Where the next page starts; null after the last page. */
  next: EligibilityCursor | null;
}

// Every predicate but the cursor. The email form matches the partial index customers_segment_idx;
// SMS campaigns (rarer) check the phone number on users. has_email and is_valid_phone_number() follow the
// rules of contact-address.ts, so nobody is selected whom delivery would then skip.
const eligible = (channel: EligibilityCriteria['channel']) => `
  c.opted_out_at IS NULL
  AND ${channel === 'SMS' ? 'EXISTS (SELECT 1 FROM users p WHERE p.id = c.id AND is_valid_phone_number(p.phone))' : 'c.has_email'}
  AND c.last_booking_at <= $1
  AND (c.upcoming_booking_at IS NULL OR c.upcoming_booking_at <= $2)
  AND ($3::timestamptz IS NULL OR c.last_message_at IS NULL OR c.last_message_at <= $3)`;

/** Finds customers due for a reminder, by keyset pages, never all at once. */
@Injectable()
export class EligibleCustomerRepository {
  constructor(private readonly dataSource: DataSource) {}

  async countEligible(criteria: EligibilityCriteria): Promise<number> {
    const [{ count }] = await this.dataSource.query(
      `SELECT count(*)::int AS count FROM customers c WHERE ${eligible(criteria.channel)}`,
      params(criteria),
    );
    return count;
  }

  async page(criteria: EligibilityCriteria, after: EligibilityCursor | null, size: number): Promise<SegmentPage> {
    const rows: ProfileRow[] = await this.dataSource.query(
      `SELECT c.id, u.name, u.email, u.phone, c.last_booking_at, c.last_booking_service_id, c.total_bookings,
              c.opted_out_at, c.last_booking_at::text AS cursor_at
         FROM customers c JOIN users u ON u.id = c.id
        WHERE ${eligible(criteria.channel)}
          AND ($4::timestamptz IS NULL OR (c.last_booking_at, c.id) > ($4, $5::uuid))
        ORDER BY c.last_booking_at, c.id
        LIMIT $6`,
      [...params(criteria), after?.lastBookingAt ?? null, after?.id ?? null, size],
    );
    const last = rows[rows.length - 1];
    const customers = rows.map((row) => ({
      id: row.id,
      name: row.name,
      email: row.email,
      phone: row.phone,
      lastBookingAt: row.last_booking_at,
      lastBookingServiceId: row.last_booking_service_id,
      totalBookings: row.total_bookings,
      optedOutAt: row.opted_out_at,
    }));
    return { customers, next: rows.length === size ? { lastBookingAt: last.cursor_at, id: last.id } : null };
  }
}

interface ProfileRow {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  last_booking_at: Date | null;
  last_booking_service_id: string | null;
  total_bookings: number;
  opted_out_at: Date | null;
  cursor_at: string;
}

const params = (criteria: EligibilityCriteria) => [criteria.bookedBefore, criteria.now, criteria.messagedBefore];
