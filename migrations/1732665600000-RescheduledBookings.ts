import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * customers.upcoming_booking_at comes from bookings.scheduled_for, so a booking that is (re)scheduled must
 * refresh the customer's summary too; the trigger only watched the other columns.
 */
export class RescheduledBookings1732665600000 implements MigrationInterface {
  name = 'RescheduledBookings1732665600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER bookings_refresh_customer ON bookings`);
    await db.query(`
      CREATE TRIGGER bookings_refresh_customer
        AFTER INSERT OR DELETE OR UPDATE OF customer_id, service_id, status, booked_at, scheduled_for ON bookings
        FOR EACH ROW EXECUTE FUNCTION bookings_refresh_customer()`);
    await db.query(`
      UPDATE customers c SET upcoming_booking_at = s.upcoming
        FROM (SELECT customer_id,
                     max(scheduled_for) FILTER (WHERE status IN ('pending', 'confirmed')) AS upcoming
                FROM bookings GROUP BY customer_id) s
       WHERE s.customer_id = c.id AND c.upcoming_booking_at IS DISTINCT FROM s.upcoming`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TRIGGER bookings_refresh_customer ON bookings`);
    await db.query(`
      CREATE TRIGGER bookings_refresh_customer
        AFTER INSERT OR DELETE OR UPDATE OF customer_id, service_id, status, booked_at ON bookings
        FOR EACH ROW EXECUTE FUNCTION bookings_refresh_customer()`);
  }
}
