import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * - claim_ai_messages(jsonb): many claims in one round trip and one commit (the campaign sends concurrently,
 *   and per-message transactions were most of Postgres' work). Claims run in customer-id order, so two
 *   batches that share customers lock them in the same order and cannot deadlock.
 * - ai_messages_delivery_status_idx goes: no query reads it (the status gauge counts the whole table), and
 *   every status change paid to maintain it.
 */
export class BatchedMessageWrites1732752000000 implements MigrationInterface {
  name = 'BatchedMessageWrites1732752000000';

  async up(db: QueryRunner): Promise<void> {
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
                                      c.promo_code, c.tone, c.correlation_id, c.link_expires_at, c.bypass_cap,
                                      c.cap_max, c.cap_days, c.campaign_day, c.job_run_id);
          RETURN NEXT;
        END LOOP;
      END
      $$ LANGUAGE plpgsql`);
    await db.query(`DROP INDEX ai_messages_delivery_status_idx`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX ai_messages_delivery_status_idx ON ai_messages (delivery_status)`);
    await db.query(`DROP FUNCTION claim_ai_messages(jsonb)`);
  }
}
