import { DataSource } from 'typeorm';
import { DEMO } from '../../src/database/demo-seed';

export interface SyntheticCustomers {
  count: number;
  /** Days since the last booking (fractions allowed). */
  daysAgo: number;
  /** Distinguishes batches inserted by one test. */
  tag: string;
}

/** Inserts `count` customers with one completed plumbing booking each; returns their ids. */
export async function insertCustomers(dataSource: DataSource, { count, daysAgo, tag }: SyntheticCustomers): Promise<string[]> {
  const rows: { id: string }[] = await dataSource.query(
    `WITH new_users AS (
       INSERT INTO users (id, name, email)
       SELECT md5($1 || i)::uuid, 'গ্রাহক ' || $1 || i, $1 || i || '@example.com' FROM generate_series(1, $2) AS i
       RETURNING id)
     INSERT INTO customers (id) SELECT id FROM new_users RETURNING id`,
    [tag, count],
  );
  const ids = rows.map((row) => row.id);
  await dataSource.query(
    `INSERT INTO bookings (customer_id, service_id, status, booked_at)
     SELECT id, $2, 'completed', now() - make_interval(secs => $3::float8 * 86400) FROM unnest($1::uuid[]) AS id`,
    [ids, DEMO.services.plumbing, daysAgo],
  );
  return ids;
}

/** How many messages each customer has; customers with none are left out. */
export async function messagesPerCustomer(dataSource: DataSource): Promise<Map<string, number>> {
  const rows: { user_id: string; n: number }[] = await dataSource.query(
    'SELECT user_id, count(*)::int AS n FROM ai_messages GROUP BY user_id',
  );
  return new Map(rows.map((row) => [row.user_id, row.n]));
}
