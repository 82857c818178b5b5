import { MigrationInterface, QueryRunner } from 'typeorm';

const STATUSES_BEFORE = `'queued', 'sent', 'delivered', 'failed', 'opened', 'clicked', 'booked', 'unsubscribed'`;

/**
 * Every claimed message ends sent, failed or unknown:
 * - delivery_status gains `sending` (written, with the drafted content, before the message is handed to its
 *   channel) and `unknown` (it was `sending` when its process died: for email nobody can tell whether it went);
 * - attempts counts the hand-overs to the channel (0 for messages written before this migration);
 * - error becomes last_error: the latest failure, kept when a later attempt succeeded;
 * - claim_ai_message answers 'exists' for an id that already has a row, so a redelivered job continues from
 *   that row's state instead of failing on the primary key.
 * The sweeper scans for stale queued/sending rows without an index on purpose: an index on the status would
 * make every status change a non-HOT update on the hot path, and the sweep runs once a minute.
 */
export class DeliveryStates1732924800000 implements MigrationInterface {
  name = 'DeliveryStates1732924800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE ai_messages DROP CONSTRAINT ai_messages_delivery_status_check`);
    // NOT VALID then VALIDATE: the scan of existing rows does not block writes.
    await db.query(`
      ALTER TABLE ai_messages ADD CONSTRAINT ai_messages_delivery_status_check
        CHECK (delivery_status IN (${STATUSES_BEFORE}, 'sending', 'unknown')) NOT VALID`);
    await db.query(`ALTER TABLE ai_messages VALIDATE CONSTRAINT ai_messages_delivery_status_check`);
    await db.query(`ALTER TABLE ai_messages ADD COLUMN attempts integer NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE ai_messages RENAME COLUMN error TO last_error`);
    await db.query(claimAiMessage(true));
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(claimAiMessage(false));
    await db.query(`ALTER TABLE ai_messages RENAME COLUMN last_error TO error`);
    await db.query(`ALTER TABLE ai_messages DROP COLUMN attempts`);
    await db.query(`UPDATE ai_messages SET delivery_status = 'failed' WHERE delivery_status IN ('sending', 'unknown')`);
    await db.query(`ALTER TABLE ai_messages DROP CONSTRAINT ai_messages_delivery_status_check`);
    await db.query(`
      ALTER TABLE ai_messages ADD CONSTRAINT ai_messages_delivery_status_check CHECK (delivery_status IN (${STATUSES_BEFORE}))`);
  }
}

/** claim_ai_message as migration 1732752000000 left it, with the check for an existing row when `resumable`. */
function claimAiMessage(resumable: boolean): string {
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
      ${resumable ? `-- Checked before opt-out and cap: the message was claimed when they allowed it.
      IF EXISTS (SELECT 1 FROM ai_messages WHERE id = p_id) THEN RETURN 'exists'; END IF;` : ''}
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
      UPDATE customers SET last_message_at = now() WHERE id = p_user;
      RETURN 'claimed';
    END
    $$ LANGUAGE plpgsql`;
}
