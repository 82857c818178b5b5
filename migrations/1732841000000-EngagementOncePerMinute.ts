import { MigrationInterface, QueryRunner } from 'typeorm';

/** The minute an open or click falls in, in UTC; immutable, so it can be indexed. */
const MINUTE = `date_trunc('minute', occurred_at AT TIME ZONE 'UTC')`;
const PER_MINUTE_TYPES = `('message_opened', 'message_clicked')`;

/**
 * At most one open and one click per message and minute: a probe of 2,000 requests per public route grew
 * message_events from 13 to 4,075 rows. Repeats already stored are deleted, keeping each minute's first
 * (they are not distinct engagement; delivery statuses already reflect them).
 */
export class EngagementOncePerMinute1732841000000 implements MigrationInterface {
  name = 'EngagementOncePerMinute1732841000000';

  async up(db: QueryRunner): Promise<void> {
    // Writers wait until the index exists: a repeat committed between the DELETE and the index would fail the build.
    await db.query('LOCK TABLE message_events IN SHARE ROW EXCLUSIVE MODE');
    await db.query(`
      DELETE FROM message_events e
       USING message_events k
       WHERE e.event_type IN ${PER_MINUTE_TYPES}
         AND k.message_id = e.message_id AND k.event_type = e.event_type
         AND date_trunc('minute', k.occurred_at AT TIME ZONE 'UTC') = date_trunc('minute', e.occurred_at AT TIME ZONE 'UTC')
         AND (k.occurred_at, k.id) < (e.occurred_at, e.id)`);
    await db.query(`
      CREATE UNIQUE INDEX message_events_once_a_minute ON message_events (message_id, event_type, (${MINUTE}))
       WHERE event_type IN ${PER_MINUTE_TYPES}`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX message_events_once_a_minute`);
  }
}
