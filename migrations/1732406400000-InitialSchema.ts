import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, customers, services, bookings, promo codes and the message log.
 * customers.last_booking_at / last_booking_service_id / total_bookings are kept current by a trigger on bookings,
 * so every writer (API, imports, psql) keeps segmentation's inputs right.
 */
export class InitialSchema1732406400000 implements MigrationInterface {
  name = 'InitialSchema1732406400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        email text,
        phone text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL`);

    await db.query(`
      CREATE TABLE services (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        code text NOT NULL UNIQUE,
        name text NOT NULL,
        name_bn text NOT NULL,
        emoji text NOT NULL DEFAULT '✨',
        active boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);

    await db.query(`
      CREATE TABLE customers (
        id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        last_booking_at timestamptz,
        last_booking_service_id uuid REFERENCES services (id),
        total_bookings integer NOT NULL DEFAULT 0,
        opted_out_at timestamptz,
        opt_out_source text,
        timezone text NOT NULL DEFAULT 'Asia/Dhaka',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    await db.query(`
      CREATE TABLE bookings (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        service_id uuid NOT NULL REFERENCES services (id),
        status text NOT NULL DEFAULT 'completed'
          CHECK (status IN ('pending', 'confirmed', 'completed', 'cancelled')),
        booked_at timestamptz NOT NULL DEFAULT now(),
        scheduled_for timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX bookings_customer_booked_at_idx ON bookings (customer_id, booked_at DESC)`);
    await db.query(`CREATE INDEX bookings_service_idx ON bookings (service_id)`);

    await db.query(`
      CREATE FUNCTION refresh_customer_booking_summary(target uuid) RETURNS void AS $$
        UPDATE customers c
           SET last_booking_at = s.last_at,
               last_booking_service_id = s.last_service,
               total_bookings = s.total,
               updated_at = now()
          FROM (
            SELECT max(b.booked_at) AS last_at,
                   (array_agg(b.service_id ORDER BY b.booked_at DESC))[1] AS last_service,
                   count(*)::int AS total
              FROM bookings b
             WHERE b.customer_id = target AND b.status <> 'cancelled'
          ) s
         WHERE c.id = target
      $$ LANGUAGE sql`);
    await db.query(`
      CREATE FUNCTION bookings_refresh_customer() RETURNS trigger AS $$
      BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          PERFORM refresh_customer_booking_summary(OLD.customer_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.customer_id <> OLD.customer_id) THEN
          PERFORM refresh_customer_booking_summary(NEW.customer_id);
        END IF;
        RETURN NULL;
      END
      $$ LANGUAGE plpgsql`);
    await db.query(`
      CREATE TRIGGER bookings_refresh_customer
        AFTER INSERT OR DELETE OR UPDATE OF customer_id, service_id, status, booked_at ON bookings
        FOR EACH ROW EXECUTE FUNCTION bookings_refresh_customer()`);

    await db.query(`
      CREATE TABLE promo_codes (
        code text PRIMARY KEY CHECK (code ~ '^[A-Z0-9]{3,20}$'),
        discount_percent smallint NOT NULL CHECK (discount_percent BETWEEN 1 AND 90),
        description text NOT NULL DEFAULT '',
        active boolean NOT NULL DEFAULT true,
        valid_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      INSERT INTO promo_codes (code, discount_percent, description) VALUES
        ('VIP20', 20, 'Premium thank-you for repeat customers'),
        ('WELCOME10', 10, 'Second booking for new customers'),
        ('DEMO15', 15, 'Demo campaign'),
        ('COMEBACK15', 15, 'Aggressive win-back campaign'),
        ('WEEKEND20', 20, 'Weekend campaign'),
        ('SPECIAL10', 10, 'Special campaign')`);

    await db.query(`
      CREATE TABLE ai_messages (
        id uuid PRIMARY KEY,
        user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        agent_type text NOT NULL DEFAULT 'smartengage',
        message_type text NOT NULL,
        channel text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
        delivery_status text NOT NULL DEFAULT 'queued'
          CHECK (delivery_status IN ('queued', 'sent', 'delivered', 'failed')),
        recipient text NOT NULL,
        subject text,
        message_text text,
        service_id uuid REFERENCES services (id),
        promo_code text REFERENCES promo_codes (code),
        tone text,
        generator text CHECK (generator IN ('template', 'openai')),
        fallback_reason text,
        safety_violations jsonb,
        bypassed_frequency_cap boolean NOT NULL DEFAULT false,
        correlation_id text NOT NULL,
        link_expires_at timestamptz,
        provider_message_id text,
        error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX ai_messages_user_created_idx ON ai_messages (user_id, created_at DESC)`);
    await db.query(`CREATE INDEX ai_messages_correlation_idx ON ai_messages (correlation_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE ai_messages`);
    await db.query(`DROP TABLE promo_codes`);
    await db.query(`DROP TRIGGER bookings_refresh_customer ON bookings`);
    await db.query(`DROP FUNCTION bookings_refresh_customer()`);
    await db.query(`DROP FUNCTION refresh_customer_booking_summary(uuid)`);
    await db.query(`DROP TABLE bookings`);
    await db.query(`DROP TABLE customers`);
    await db.query(`DROP TABLE services`);
    await db.query(`DROP TABLE users`);
  }
}
