import { QueryRunner } from 'typeorm';

export interface DataShape {
  customers: number;
  bookingsPerCustomer: number;
}

const HISTORY_DAYS = 120;
/** Customers whose latest booking is older than the default 21-day cadence (plus an hour of slack). */
const LAPSED_MIN_DAYS = 21;

// Deterministic per-row fractions in [0, 1): the same N and K always give the same data.
const frac = (expr: string, stream: number) => `((hashint8extended((${expr})::bigint, ${stream}) & 2147483647)::float8 / 2147483648)`;
// A uuid from a key, shaped like a v4 uuid (version and variant nibbles set) and randomly ordered like one.
const uuidOf = (prefix: string, expr: string) =>
  `overlay(overlay(md5('${prefix}' || (${expr})) placing '4' from 13) placing '8' from 17)::uuid`;

export const customerId = (expr: string) => uuidOf('bench-customer-', expr);

// Who is who, by customer number i (1..N). The moduli are coprime so the groups overlap at random.
const NO_EMAIL = (i: string) => `(${i} % 37 = 0)`; // ~2.7 %
const OPTED_OUT = (i: string) => `(${i} % 29 = 1)`; // ~3.4 %
const UPCOMING = (i: string) => `(${i} % 23 = 2)`; // ~4.3 %: latest booking is pending, scheduled in the future
const LAPSED = (i: string) => `(${i} % 2 = 0)`; // ~50 %: latest booking >= 21 days ago

const SERVICES: [string, string, string, string][] = [
  ['home_cleaning', 'Home Cleaning', 'হোম ক্লিনিং', '🏠'],
  ['plumbing', 'Plumbing', 'প্লাম্বিং', '🔧'],
  ['electrical', 'Electrical Repair', 'ইলেকট্রিক্যাল মেরামত', '⚡'],
  ['ac_servicing', 'AC Servicing', 'এসি সার্ভিসিং', '❄️'],
  ['pest_control', 'Pest Control', 'পেস্ট কন্ট্রোল', '🐜'],
  ['painting', 'Painting', 'রং করা', '🎨'],
];

const NAMES = ['রহিম', 'করিম', 'ফাতেমা', 'আয়েশা', 'Nusrat', 'Tanvir', 'Sadia', 'Imran', 'Mitu', 'Shakib', 'Rupa', 'Jamal'];

/** Secondary indexes of the bulk tables (not the ones behind a constraint): dropped for the load, rebuilt after. */
async function secondaryIndexes(db: QueryRunner): Promise<{ name: string; def: string }[]> {
  return db.query(`
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
      FROM pg_index i
     WHERE i.indrelid IN ('users'::regclass, 'customers'::regclass, 'bookings'::regclass)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`);
}

/**
 * Fills users, customers, services and bookings with set-based SQL on one connection, then derives
 * the customers' booking summary in one UPDATE, as the bookings trigger would have.
 *
 * session_replication_role = replica skips every trigger for this session only: the
 * bookings_refresh_customer trigger (its result is computed in bulk below), customers_set_has_email
 * (has_email is inserted directly) and the foreign-key checks (the generator only emits valid keys).
 * Nothing is left disabled if the load dies half-way.
 */
export async function loadBenchData(db: QueryRunner, shape: DataShape, step: (label: string) => void): Promise<void> {
  const { customers: n, bookingsPerCustomer: k } = shape;
  await db.query(`SET session_replication_role = replica`);
  await db.query(`SET synchronous_commit = off`);
  await db.query(`SET maintenance_work_mem = '1GB'`);
  await db.query(`SET work_mem = '256MB'`);

  const indexes = await secondaryIndexes(db);
  for (const index of indexes) await db.query(`DROP INDEX ${index.name}`);
  step(`dropped ${indexes.length} secondary indexes`);

  const serviceIds: string[] = [];
  for (const [code, name, nameBn, emoji] of SERVICES) {
    const [{ id }] = await db.query(
      `INSERT INTO services (id, code, name, name_bn, emoji) VALUES (${uuidOf('bench-service-', '$1')}, $1, $2, $3, $4) RETURNING id`,
      [code, name, nameBn, emoji],
    );
    serviceIds.push(id);
  }
  const serviceArray = `ARRAY[${serviceIds.map((id) => `'${id}'::uuid`).join(', ')}]`;

  await db.query(
    `INSERT INTO users (id, name, email, phone, created_at, updated_at)
     SELECT ${customerId('i')},
            ($2::text[])[1 + i % array_length($2::text[], 1)] || ' ' || i,
            CASE WHEN ${NO_EMAIL('i')} THEN NULL ELSE 'customer' || i || '@example.com' END,
            '+8801' || lpad(i::text, 9, '0'),
            now() - interval '${HISTORY_DAYS + 30} days', now() - interval '${HISTORY_DAYS + 30} days'
       FROM generate_series(1, $1::int) i`,
    [n, NAMES],
  );
  step(`users: ${n}`);

  await db.query(
    `INSERT INTO customers (id, has_email, opted_out_at, opt_out_source, created_at, updated_at)
     SELECT ${customerId('i')}, NOT ${NO_EMAIL('i')},
            CASE WHEN ${OPTED_OUT('i')} THEN now() - interval '10 days' END,
            CASE WHEN ${OPTED_OUT('i')} THEN 'unsubscribe_link' END,
            now() - interval '${HISTORY_DAYS + 30} days', now()
       FROM generate_series(1, $1::int) i`,
    [n],
  );
  step(`customers: ${n}`);

  // Each customer's latest booking is `age` seconds old; the others fall between it and HISTORY_DAYS ago.
  const day = 86_400;
  const age = `(CASE WHEN ${LAPSED('i')}
                  THEN ${LAPSED_MIN_DAYS * day + 3600} + ${frac('i', 1)} * ${(HISTORY_DAYS - LAPSED_MIN_DAYS - 1) * day}
                  ELSE ${frac('i', 1)} * ${(LAPSED_MIN_DAYS - 1) * day} END)`;
  await db.query(
    `INSERT INTO bookings (id, customer_id, service_id, status, booked_at, scheduled_for, created_at)
     SELECT gen_random_uuid(), ${customerId('i')}, (${serviceArray})[1 + (i + j) % ${serviceIds.length}],
            CASE WHEN j = 0 AND ${UPCOMING('i')} THEN 'pending'
                 WHEN j > 0 AND ${frac(`i::bigint * ${k} + j`, 2)} < 0.05 THEN 'cancelled'
                 ELSE 'completed' END,
            b.at,
            CASE WHEN j = 0 AND ${UPCOMING('i')} THEN now() + make_interval(days => 1 + (i % 14))
                 ELSE least(b.at + interval '1 day', now()) END,
            b.at
       FROM generate_series(1, $1::int) i
      CROSS JOIN LATERAL (SELECT ${age} AS secs) latest
      CROSS JOIN generate_series(0, $2::int - 1) j
      CROSS JOIN LATERAL (
        SELECT now() - make_interval(secs => CASE WHEN j = 0 THEN latest.secs
                 ELSE latest.secs + (${HISTORY_DAYS * day} - latest.secs) * ${frac(`i::bigint * ${k} + j`, 3)} END) AS at
      ) b`,
    [n, k],
  );
  step(`bookings: ${n * k}`);

  for (const index of indexes.filter((i) => i.def.includes(' ON public.bookings '))) await db.query(index.def);
  step('bookings indexes rebuilt');

  // What refresh_customer_booking_summary() computes, for every customer at once.
  await db.query(`
    UPDATE customers c
       SET last_booking_at = s.last_at,
           last_booking_service_id = s.last_service,
           total_bookings = s.total,
           upcoming_booking_at = s.upcoming
      FROM (
        SELECT b.customer_id,
               max(b.booked_at) FILTER (WHERE b.status <> 'cancelled') AS last_at,
               (array_agg(b.service_id ORDER BY b.booked_at DESC) FILTER (WHERE b.status <> 'cancelled'))[1]
                 AS last_service,
               count(*) FILTER (WHERE b.status <> 'cancelled')::int AS total,
               max(b.scheduled_for) FILTER (WHERE b.status IN ('pending', 'confirmed')) AS upcoming
          FROM bookings b
         GROUP BY b.customer_id
      ) s
     WHERE c.id = s.customer_id`);
  step('customer booking summaries');

  for (const index of indexes.filter((i) => !i.def.includes(' ON public.bookings '))) await db.query(index.def);
  step(`users and customers indexes rebuilt (${indexes.map((i) => i.name).join(', ')})`);

  await db.query(`RESET session_replication_role`);
  await db.query(`VACUUM ANALYZE customers`);
  await db.query(`VACUUM ANALYZE bookings`);
  await db.query(`VACUUM ANALYZE users`);
  await db.query(`ANALYZE services`);
  step('VACUUM ANALYZE');
}

/** Undoes a previous campaign run on a kept database, so --reuse measures the same work again. */
export async function resetCampaignState(db: QueryRunner): Promise<void> {
  await db.query(`TRUNCATE message_events, ai_messages, job_runs`);
  await db.query(`UPDATE customers SET last_message_at = NULL WHERE last_message_at IS NOT NULL`);
  await db.query(`VACUUM ANALYZE customers`);
  // Not ai_messages: analysed empty, the planner trusts "0 rows" (TRUNCATE alone leaves it unknown), the
  // claim function's cached plans scan the table, and with autovacuum off a rerun slowed from 218 to 29/s.
}
