import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each table has one owning module; what others need from it is a verb of the owner's repository or one of
 * these:
 * - refresh_last_message_at(customer ids), Segmentation's: a failed message gives its frequency-cap slot back,
 *   so customers.last_message_at goes back to the customer's latest message that did not fail. Messaging calls
 *   it when a message fails.
 * - message_sends, Messaging's view for reports: the messages handed to their channel (not failed), with the
 *   send time (for `unknown` ones, the hand-over) and whether the channel's answer is unknown.
 * - kept_bookings, Segmentation's view for reports: bookings that were not cancelled.
 */
export class TableOwners1733097600000 implements MigrationInterface {
  name = 'TableOwners1733097600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION refresh_last_message_at(p_customers uuid[]) RETURNS void LANGUAGE sql AS $$
        UPDATE customers c
           SET last_message_at = (SELECT max(m.created_at) FROM ai_messages m
                                   WHERE m.user_id = c.id AND m.delivery_status <> 'failed')
         WHERE c.id = ANY(p_customers)
      $$`);
    await db.query(`
      CREATE VIEW message_sends AS
        SELECT id, user_id AS customer_id, message_type, tone, promo_code, channel, sent_at,
               delivery_status = 'unknown' AS outcome_unknown
          FROM ai_messages
         WHERE delivery_status <> 'failed'`);
    await db.query(`
      CREATE VIEW kept_bookings AS
        SELECT id, customer_id, service_id, booked_at FROM bookings WHERE status <> 'cancelled'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP VIEW kept_bookings`);
    await db.query(`DROP VIEW message_sends`);
    await db.query(`DROP FUNCTION refresh_last_message_at(uuid[])`);
  }
}
