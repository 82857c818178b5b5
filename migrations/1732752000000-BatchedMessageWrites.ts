import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - claim_ai_messages(jsonb): many claims in one round trip and one commit (the campaign sends concurrently,
 *   and per-message transactions were most of Postgres' work). Claims run in customer-id order, so two
 *   batches that share customers lock them in the same order and cannot deadlock. A missing bypass_cap
 *   means the cap applies.
 * - claim_ai_message locks the customer FOR NO KEY UPDATE instead of FOR UPDATE: claims and opt-outs still
 *   wait for each other, but inserts that only reference the customer (message_events, bookings) no longer
 *   wait for a batch to commit.
 * - ai_messages_delivery_status_idx goes: no query reads it (the status gauge counts the whole table), and
 *   every status change paid to maintain it.
 */
export class BatchedMessageWrites1732752000000 implements MigrationInterface {
  name = 'BatchedMessageWrites1732752000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(claimAiMessage('FOR NO KEY UPDATE'));
    await db.query(`
      CREATE FUNCTION claim_ai_messages(p_claims jsonb) RETURNS TABLE (id uuid, outcome text) AS $$
      DECLARE
        c record;
      BEGIN
        FOR c IN
          SELECT * FROM jsonb_to_recordset(p_claims) AS r(
            id uuid, user_id uuid, message_type text, channel text, recipient text, service_id uuid,
            promo_code text, tone text, correlation_id text, link_expires_at timestamptz,
            bypass_cap boolean, cap_max int, cap_days int, campaign_day date, job_run_id uuid)
          ORDER BY r.user_id, r.id
        LOOP
          id := c.id;
          outcome := claim_ai_message(c.id, c.user_id, c.message_type, c.channel, c.recipient, c.service_id,
                                      c.promo_code, c.tone, c.correlation_id, c.link_expires_at,
                                      coalesce(c.bypass_cap, false), c.cap_max, c.cap_days, c.campaign_day,
                                      c.job_run_id);
          RETURN NEXT;
        END LOOP;
      END
      $$ LANGUAGE plpgsql`);
    await db.query(`DROP INDEX ai_messages_delivery_status_idx`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ai_messages_delivery_status_idx ON ai_messages (delivery_status)`);
    await db.query(`DROP FUNCTION claim_ai_messages(jsonb)`);
    await db.query(claimAiMessage('FOR UPDATE'));
  }
}

/** claim_ai_message as migration 1732492800000 made it, with the customer's row lock given. */
function claimAiMessage(rowLock: 'FOR UPDATE' | 'FOR NO KEY UPDATE'): string {
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
      SELECT opted_out_at INTO v_opted_out FROM customers WHERE id = p_user ${rowLock};
      IF NOT FOUND THEN RETURN 'customer_not_found'; END IF;
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
