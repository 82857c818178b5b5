import { DataSource } from 'typeorm';

/** The three customers of the demo guide, with their fixed ids. */
export const DEMO = {
  services: {
    homeCleaning: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    plumbing: 'c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f',
  },
  customers: {
    regular: '229211b0-9cf4-4e36-b707-d593034bfb0f',
    vip: '201df462-8e81-475b-9b9b-2a2946218312',
    newcomer: '55a91395-0760-4c57-a7db-ad97f2256917',
  },
} as const;

const SERVICES = [
  [DEMO.services.homeCleaning, 'home_cleaning', 'Home Cleaning', 'হোম ক্লিনিং', '🏠'],
  [DEMO.services.plumbing, 'plumbing', 'Plumbing', 'প্লাম্বিং', '🔧'],
  ['e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b', 'electrical', 'Electrical Repair', 'ইলেকট্রিক্যাল মেরামত', '⚡'],
  ['f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b9c', 'ac_servicing', 'AC Servicing', 'এসি সার্ভিসিং', '❄️'],
  ['a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d', 'pest_control', 'Pest Control', 'পেস্ট কন্ট্রোল', '🐜'],
  ['b8c9d0e1-f2a3-4b4c-9d5e-6f7a8b9c0d1e', 'painting', 'Painting', 'রং করা', '🎨'],
] as const;

const CUSTOMERS = [
  [DEMO.customers.regular, 'kamalnavid50', 'kamalnavid50@example.com', '+8801711000050'],
  [DEMO.customers.vip, 'navidkamal5688', 'navidkamal5688@example.com', '+8801711005688'],
  [DEMO.customers.newcomer, 'navidkamal568', 'navidkamal568@example.com', '+8801711000568'],
] as const;

/** [booking id, customer, service, days ago]; the latest booking of each customer comes first. */
const BOOKINGS = [
  ['0b1c2d3e-0001-4000-8000-000000000001', DEMO.customers.regular, DEMO.services.homeCleaning, 22],
  ['0b1c2d3e-0001-4000-8000-000000000002', DEMO.customers.regular, DEMO.services.homeCleaning, 64],
  ['0b1c2d3e-0002-4000-8000-000000000001', DEMO.customers.vip, DEMO.services.plumbing, 21],
  ['0b1c2d3e-0002-4000-8000-000000000002', DEMO.customers.vip, DEMO.services.homeCleaning, 49],
  ['0b1c2d3e-0002-4000-8000-000000000003', DEMO.customers.vip, DEMO.services.plumbing, 95],
  ['0b1c2d3e-0003-4000-8000-000000000001', DEMO.customers.newcomer, DEMO.services.plumbing, 23],
] as const;

/**
 * Loads the demo services, customers and bookings. Idempotent: rows are upserted by id and the
 * bookings are moved so that they are again 22, 21 and 23 days old. The customers' opt-outs are cleared.
 */
export async function seedDemoData(dataSource: DataSource): Promise<void> {
  await dataSource.transaction(async (db) => {
    for (const [id, code, name, nameBn, emoji] of SERVICES) {
      await db.query(
        `INSERT INTO services (id, code, name, name_bn, emoji) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO UPDATE SET code = $2, name = $3, name_bn = $4, emoji = $5, active = true`,
        [id, code, name, nameBn, emoji],
      );
    }
    for (const [id, name, email, phone] of CUSTOMERS) {
      await db.query(
        `INSERT INTO users (id, name, email, phone) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = $2, email = $3, phone = $4, updated_at = now()`,
        [id, name, email, phone],
      );
      await db.query(
        `INSERT INTO customers (id) VALUES ($1)
         ON CONFLICT (id) DO UPDATE SET opted_out_at = NULL, opt_out_source = NULL, updated_at = now()`,
        [id],
      );
    }
    for (const [id, customerId, serviceId, daysAgo] of BOOKINGS) {
      await db.query(
        `INSERT INTO bookings (id, customer_id, service_id, status, booked_at, scheduled_for)
         VALUES ($1, $2, $3, 'completed', now() - make_interval(days => $4), now() - make_interval(days => $4))
         ON CONFLICT (id) DO UPDATE SET customer_id = $2, service_id = $3, status = 'completed',
           booked_at = EXCLUDED.booked_at, scheduled_for = EXCLUDED.scheduled_for`,
        [id, customerId, serviceId, daysAgo],
      );
    }
  });
}
