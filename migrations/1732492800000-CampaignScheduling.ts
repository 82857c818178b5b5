import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the daily campaign needs at marketplace scale:
 * - customers carry has_email, upcoming_booking_at and last_message_at (kept by triggers and by the claim),
 *   so segmentation pages one partial index instead of joining users, bookings and ai_messages;
 * - ai_messages.campaign_day with a unique key per (customer, day, channel): a second run, replica or
 *   restart on the same day cannot message anyone twice;
 * - claim_ai_message(): the opt-out and frequency-cap check and the queued row in one round trip, under
 *   the customer's row lock;
 * - job_runs: one row per campaign run.
 */
export class CampaignScheduling1732492800000 implements MigrationInterface {
  name = 'CampaignScheduling1732492800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE customers
        ADD COLUMN has_email boolean NOT NULL DEFAULT false,
        ADD COLUMN upcoming_booking_at timestamptz,
        ADD COLUMN last_message_at timestamptz`);
    await db.query(`
      UPDATE customers c SET has_email = (u.email IS NOT NULL AND u.email <> '') FROM users u WHERE u.id = c.id`);
    await db.query(`
      UPDATE customers c SET last_message_at = m.last_at
        FROM (SELECT user_id, max(created_at) AS last_at FROM ai_messages GROUP BY user_id) m
       WHERE m.user_id = c.id`);

    await db.query(`
      CREATE FUNCTION customers_set_has_email() RETURNS trigger AS $$
      BEGIN
        SELECT u.email IS NOT NULL AND u.email <> '' INTO NEW.has_email FROM users u WHERE u.id = NEW.id;
        NEW.has_email := coalesce(NEW.has_email, false);
        RETURN NEW;
      END
      $$ LANGUAGE plpgsql`);
    await db.query(`
      CREATE TRIGGER customers_set_has_email BEFORE INSERT ON customers
        FOR EACH ROW EXECUTE FUNCTION customers_set_has_email()`);
    await db.query(`
      CREATE FUNCTION users_refresh_customer_email() RETURNS trigger AS $$
      BEGIN
        UPDATE customers SET has_email = (NEW.email IS NOT NULL AND NEW.email <> '') WHERE id = NEW.id;
        RETURN NULL;
      END
      $$ LANGUAGE plpgsql`);
    await db.query(`
      CREATE TRIGGER users_refresh_customer_email AFTER UPDATE OF email ON users
        FOR EACH ROW EXECUTE FUNCTION users_refresh_customer_email()`);

    await db.query(`
      CREATE OR REPLACE FUNCTION refresh_customer_booking_summary(target uuid) RETURNS void AS $$
        UPDATE customers c
           SET last_booking_at = s.last_at,
               last_booking_service_id = s.last_service,
               total_bookings = s.total,
               upcoming_booking_at = s.upcoming,
               updated_at = now()
          FROM (
            SELECT max(b.booked_at) FILTER (WHERE b.status <> 'cancelled') AS last_at,
                   (array_agg(b.service_id ORDER BY b.booked_at DESC) FILTER (WHERE b.status <> 'cancelled'))[1]
                     AS last_service,
                   count(*) FILTER (WHERE b.status <> 'cancelled')::int AS total,
                   max(b.scheduled_for) FILTER (WHERE b.status IN ('pending', 'confirmed')) AS upcoming
              FROM bookings b
             WHERE b.customer_id = target
          ) s
         WHERE c.id = target
      $$ LANGUAGE sql`);
    await db.query(`
      UPDATE customers c SET upcoming_booking_at = s.upcoming
        FROM (SELECT customer_id, max(scheduled_for) AS upcoming FROM bookings
               WHERE status IN ('pending', 'confirmed') GROUP BY customer_id) s
       WHERE s.customer_id = c.id`);

    // Segmentation pages this index by (last_booking_at, id); the INCLUDEd columns keep it index-only.
    await db.query(`
      CREATE INDEX customers_segment_idx ON customers (last_booking_at, id)
        INCLUDE (upcoming_booking_at, last_message_at)
        WHERE opted_out_at IS NULL AND has_email`);

    await db.query(`ALTER TABLE ai_messages ADD COLUMN campaign_day date, ADD COLUMN job_run_id uuid`);
    await db.query(`
      CREATE UNIQUE INDEX ai_messages_campaign_claim_key ON ai_messages (user_id, campaign_day, channel)
        WHERE campaign_day IS NOT NULL`);

    await db.query(`
      CREATE FUNCTION claim_ai_message(
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
        SELECT opted_out_at INTO v_opted_out FROM customers WHERE id = p_user FOR UPDATE;
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
      $$ LANGUAGE plpgsql`);

    await db.query(`
      CREATE TABLE job_runs (
        id uuid PRIMARY KEY,
        job_type text NOT NULL,
        job_name text NOT NULL,
        trigger text NOT NULL CHECK (trigger IN ('cron', 'manual')),
        status text NOT NULL CHECK (status IN ('RUNNING', 'DONE', 'FAILED', 'SKIPPED')),
        correlation_id text NOT NULL,
        attempt integer NOT NULL DEFAULT 1,
        params jsonb NOT NULL DEFAULT '{}',
        dry_run boolean NOT NULL DEFAULT false,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        total_eligible integer NOT NULL DEFAULT 0,
        processed integer NOT NULL DEFAULT 0,
        sent integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        skipped integer NOT NULL DEFAULT 0,
        error text
      )`);
    await db.query(`CREATE INDEX job_runs_type_started_idx ON job_runs (job_type, started_at DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE job_runs`);
    await db.query(`DROP FUNCTION claim_ai_message`);
    await db.query(`DROP INDEX ai_messages_campaign_claim_key`);
    await db.query(`ALTER TABLE ai_messages DROP COLUMN campaign_day, DROP COLUMN job_run_id`);
    await db.query(`DROP INDEX customers_segment_idx`);
    await db.query(`DROP TRIGGER users_refresh_customer_email ON users`);
    await db.query(`DROP FUNCTION users_refresh_customer_email()`);
    await db.query(`DROP TRIGGER customers_set_has_email ON customers`);
    await db.query(`DROP FUNCTION customers_set_has_email()`);
    await db.query(`
      CREATE OR REPLACE FUNCTION refresh_customer_booking_summary(target uuid) RETURNS void AS $$
        UPDATE customers c
           SET last_booking_at = s.last_at, last_booking_service_id = s.last_service, total_bookings = s.total,
               updated_at = now()
          FROM (SELECT max(b.booked_at) AS last_at,
                       (array_agg(b.service_id ORDER BY b.booked_at DESC))[1] AS last_service,
                       count(*)::int AS total
                  FROM bookings b WHERE b.customer_id = target AND b.status <> 'cancelled') s
         WHERE c.id = target
      $$ LANGUAGE sql`);
    await db.query(`ALTER TABLE customers DROP COLUMN has_email, DROP COLUMN upcoming_booking_at, DROP COLUMN last_message_at`);
  }
}
