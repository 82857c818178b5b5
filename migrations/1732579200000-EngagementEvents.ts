import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Engagement: message_events (opened, clicked, booking started/completed, unsubscribed, stored once per
 * message, type and instant), delivery statuses that follow them, and SMS segment counts.
 */
export class EngagementEvents1732579200000 implements MigrationInterface {
  name = 'EngagementEvents1732579200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE ai_messages DROP CONSTRAINT ai_messages_delivery_status_check`);
    await db.query(`
      ALTER TABLE ai_messages ADD CONSTRAINT ai_messages_delivery_status_check CHECK (delivery_status IN
        ('queued', 'sent', 'delivered', 'failed', 'opened', 'clicked', 'booked', 'unsubscribed'))`);
    await db.query(`ALTER TABLE ai_messages ADD COLUMN sms_segments smallint`);
    await db.query(`CREATE INDEX ai_messages_sent_at_idx ON ai_messages (sent_at) WHERE sent_at IS NOT NULL`);
    await db.query(`CREATE INDEX ai_messages_delivery_status_idx ON ai_messages (delivery_status)`);

    await db.query(`
      CREATE TABLE message_events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        message_id uuid NOT NULL REFERENCES ai_messages (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        event_type text NOT NULL CHECK (event_type IN
          ('message_opened', 'message_clicked', 'booking_started', 'booking_completed', 'unsubscribed')),
        source text NOT NULL CHECK (source IN ('email', 'sms')),
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT message_events_once UNIQUE (message_id, event_type, occurred_at)
      )`);
    await db.query(`CREATE INDEX message_events_type_idx ON message_events (event_type, message_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE message_events`);
    await db.query(`DROP INDEX ai_messages_delivery_status_idx`);
    await db.query(`DROP INDEX ai_messages_sent_at_idx`);
    await db.query(`ALTER TABLE ai_messages DROP COLUMN sms_segments`);
    await db.query(`ALTER TABLE ai_messages DROP CONSTRAINT ai_messages_delivery_status_check`);
    await db.query(`
      ALTER TABLE ai_messages ADD CONSTRAINT ai_messages_delivery_status_check
        CHECK (delivery_status IN ('queued', 'sent', 'delivered', 'failed'))`);
  }
}
