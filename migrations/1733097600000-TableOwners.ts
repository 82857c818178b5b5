import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each table has one owning module; what others need from it is a verb of the owner's repository or one of
 * these:
 * - stamp_last_message_at(customer), Segmentation's: a claim counts against the customer's frequency cap from
 *   now; claim_ai_message calls it instead of updating customers itself (same statement, same transaction).
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
      CREATE FUNCTION stamp_last_message_at(p_customer uuid) RETURNS void LANGUAGE sql AS $$
        UPDATE customers SET last_message_at = now() WHERE id = p_customer
      $$`);
    await db.query(claimAiMessage('PERFORM stamp_last_message_at(p_user);'));
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
    await db.query(claimAiMessage('UPDATE customers SET last_message_at = now() WHERE id = p_user;'));
    await db.query(`DROP FUNCTION stamp_last_message_at(uuid)`);
  }
}

/** claim_ai_message as migration 1732924800000 left it, with the write to customers given. */
function claimAiMessage(stamp: string): string {
  return `
    CREATE OR REPLACE FUNCTION claim_ai_message(
      p_id uuid, p_user uuid, p_message_type text, p_channel text, p_recipient text, p_service uuid,
      p_promo text, p_tone text, p_correlation text, p_link_expires timestamptz, p_bypass_cap boolean,
      p_cap_max int, p_cap_days int, p_campaign_day date, p_job_run uuid
    ) RETURNS text AS $$
    DECLARE
      v_opted_out timestamptz;
      v_recent int;
    BEGIN
      -- The row lock serialises claims for one customer; each statement below sees the claims
      -- committed while we waited for it.
      SELECT opted_out_at INTO v_opted_out FROM customers WHERE id = p_user FOR NO KEY UPDATE;
      IF NOT FOUND THEN RETURN 'customer_not_found'; END IF;
      -- Checked before opt-out and cap: the message was claimed when they allowed it.
      IF EXISTS (SELECT 1 FROM ai_messages WHERE id = p_id) THEN RETURN 'exists'; END IF;
      IF v_opted_out IS NOT NULL THEN RETURN 'opted_out'; END IF;
      IF p_campaign_day IS NOT NULL AND EXISTS (
        SELECT 1 FROM ai_messages
         WHERE user_id = p_user AND campaign_day = p_campaign_day AND channel = p_channel
      ) THEN
        RETURN 'already_claimed';
      END IF;
      IF NOT p_bypass_cap THEN
        SELECT count(*) INTO v_recent FROM ai_messages
         WHERE user_id = p_user AND delivery_status <> 'failed'
           AND created_at > now() - make_interval(days => p_cap_days);
        IF v_recent >= p_cap_max THEN RETURN 'frequency_capped'; END IF;
      END IF;
      INSERT INTO ai_messages (id, user_id, message_type, channel, recipient, service_id, promo_code, tone,
                               correlation_id, link_expires_at, bypassed_frequency_cap, campaign_day, job_run_id)
      VALUES (p_id, p_user, p_message_type, p_channel, p_recipient, p_service, p_promo, p_tone,
              p_correlation, p_link_expires, p_bypass_cap, p_campaign_day, p_job_run);
      ${stamp}
      RETURN 'claimed';
    END
    $$ LANGUAGE plpgsql`;
}
