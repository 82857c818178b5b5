import { MigrationInterface, QueryRunner } from 'typeorm';

const TYPES_BEFORE = `'message_opened', 'message_clicked', 'booking_started', 'booking_completed', 'unsubscribed'`;
const MINUTE = `date_trunc('minute', occurred_at AT TIME ZONE 'UTC')`;

/**
 * SMS opt-out by reply and opens fetched by mail proxies:
 * - message_events.source gains `sms_reply` (a STOP reply received by POST /webhooks/sms/inbound);
 * - event_type gains `machine_open` (the pixel fetched by a mail proxy right after the send, not by a reader),
 *   stored once a minute like opens and clicks;
 * - a reply's unsubscribe is stored once per message: gateways deliver at least once, customers repeat STOP;
 * - users_phone_idx: a reply names its customer by phone number only.
 */
export class SmsRepliesAndMachineOpens1733270400000 implements MigrationInterface {
  name = 'SmsRepliesAndMachineOpens1733270400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE message_events
        DROP CONSTRAINT message_events_source_check,
        ADD CONSTRAINT message_events_source_check CHECK (source IN ('email', 'sms', 'sms_reply')),
        DROP CONSTRAINT message_events_event_type_check,
        ADD CONSTRAINT message_events_event_type_check CHECK (event_type IN (${TYPES_BEFORE}, 'machine_open'))`);
    await db.query(`DROP INDEX message_events_once_a_minute`);
    await db.query(`
      CREATE UNIQUE INDEX message_events_once_a_minute ON message_events (message_id, event_type, (${MINUTE}))
       WHERE event_type IN ('message_opened', 'message_clicked', 'machine_open')`);
    await db.query(`
      CREATE UNIQUE INDEX message_events_sms_reply_once ON message_events (message_id)
       WHERE event_type = 'unsubscribed' AND source = 'sms_reply'`);
    await db.query(`CREATE INDEX users_phone_idx ON users (phone) WHERE phone IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX users_phone_idx`);
    await db.query(`DROP INDEX message_events_sms_reply_once`);
    await db.query(`DELETE FROM message_events WHERE event_type = 'machine_open' OR source = 'sms_reply'`);
    await db.query(`DROP INDEX message_events_once_a_minute`);
    await db.query(`
      CREATE UNIQUE INDEX message_events_once_a_minute ON message_events (message_id, event_type, (${MINUTE}))
       WHERE event_type IN ('message_opened', 'message_clicked')`);
    await db.query(`
      ALTER TABLE message_events
        DROP CONSTRAINT message_events_source_check,
        ADD CONSTRAINT message_events_source_check CHECK (source IN ('email', 'sms')),
        DROP CONSTRAINT message_events_event_type_check,
        ADD CONSTRAINT message_events_event_type_check CHECK (event_type IN (${TYPES_BEFORE}))`);
  }
}
