import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Experiments (holdouts and A/B variants of the reminder):
 * - experiments: the definition, immutable once created but for `stopped_at`; `variants` is the list of
 *   {name, weight, generator, promo_code, tone} in bucket order;
 * - experiment_assignments: one row per experiment and customer, written once, when the customer would first
 *   have been messaged under it; `bucket` is GrowthBook's version-2 hash of (key, customer id) in [0, 10000);
 * - experiment_assignment_outcomes: per assignment, whether a message went out, was clicked, and whether the
 *   customer booked (not cancelled) within `attribution_days` of the assignment. A view, so Experiments reads
 *   the other modules' tables through one reviewed definition instead of SQL of its own: Messaging's
 *   `message_sends` (a message counts as sent as the engagement stats count it: not failed, answer known) and
 *   Segmentation's `kept_bookings`, both from 1733097600000-TableOwners.
 */
export class Experiments1733356800000 implements MigrationInterface {
  name = 'Experiments1733356800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE experiments (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key text NOT NULL UNIQUE CHECK (key ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(key) <= 64),
        description text,
        holdout_percent integer NOT NULL CHECK (holdout_percent BETWEEN 0 AND 50),
        variants jsonb NOT NULL CHECK (jsonb_typeof(variants) = 'array' AND jsonb_array_length(variants) >= 1),
        attribution_days integer NOT NULL DEFAULT 7 CHECK (attribution_days BETWEEN 1 AND 90),
        channel text CHECK (channel IN ('EMAIL', 'SMS')),
        created_at timestamptz NOT NULL DEFAULT now(),
        stopped_at timestamptz
      )`);
    await db.query(`
      CREATE TABLE experiment_assignments (
        experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        customer_id uuid NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
        arm text NOT NULL,
        bucket integer NOT NULL CHECK (bucket BETWEEN 0 AND 9999),
        assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (experiment_id, customer_id)
      )`);
    await db.query(`
      CREATE VIEW experiment_assignment_outcomes AS
      SELECT a.experiment_id, a.customer_id, a.arm, a.assigned_at,
             EXISTS (
               SELECT 1 FROM message_sends s
                WHERE s.customer_id = a.customer_id
                  AND NOT s.outcome_unknown
                  AND s.sent_at >= a.assigned_at
                  AND s.sent_at < a.assigned_at + e.attribution_days * interval '1 day'
             ) AS messaged,
             EXISTS (
               SELECT 1 FROM message_sends s
                 JOIN message_events ev ON ev.message_id = s.id AND ev.event_type = 'message_clicked'
                WHERE s.customer_id = a.customer_id
                  AND s.sent_at >= a.assigned_at
                  AND s.sent_at < a.assigned_at + e.attribution_days * interval '1 day'
             ) AS clicked,
             EXISTS (
               SELECT 1 FROM kept_bookings b
                WHERE b.customer_id = a.customer_id
                  AND b.booked_at >= a.assigned_at
                  AND b.booked_at < a.assigned_at + e.attribution_days * interval '1 day'
             ) AS converted
        FROM experiment_assignments a
        JOIN experiments e ON e.id = a.experiment_id`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP VIEW experiment_assignment_outcomes`);
    await db.query(`DROP TABLE experiment_assignments`);
    await db.query(`DROP TABLE experiments`);
  }
}
