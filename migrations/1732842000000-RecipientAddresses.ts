import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A stored email or phone number is a recipient only when it is exactly one address: `a@x.com, b@y.com`
 * or `a@x.com\r\nBcc: b@y.com` counted as "has email" and went to strangers. is_valid_email_address() and
 * is_valid_phone_number() are the rules of src/segmentation/contact-address.ts (same patterns, same length
 * limits; test/contact-addresses.e2e-spec.ts checks they agree), and customers.has_email now follows them.
 * Only rows whose flag changes are rewritten.
 */
export class RecipientAddresses1732842000000 implements MigrationInterface {
  name = 'RecipientAddresses1732842000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION is_valid_email_address(address text) RETURNS boolean
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
        SELECT coalesce(length(address) <= 254 AND length(split_part(address, '@', 1)) <= 64
                        AND address ~ ${literal(EMAIL_ADDRESS_PATTERN)}, false)
      $fn$`);
    await db.query(`
      CREATE FUNCTION is_valid_phone_number(phone text) RETURNS boolean
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
        SELECT coalesce(phone ~ ${literal(PHONE_NUMBER_PATTERN)}, false)
      $fn$`);
    await setHasEmailRule(db, 'is_valid_email_address(u.email)', 'is_valid_email_address(NEW.email)');
  }

  async down(db: QueryRunner): Promise<void> {
    await setHasEmailRule(db, `(u.email IS NOT NULL AND u.email <> '')`, `(NEW.email IS NOT NULL AND NEW.email <> '')`);
    await db.query(`DROP FUNCTION is_valid_phone_number(text)`);
    await db.query(`DROP FUNCTION is_valid_email_address(text)`);
  }
}

const EMAIL_ADDRESS_PATTERN =
  "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*" +
  '@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$';
const PHONE_NUMBER_PATTERN = '^[+][1-9][0-9]{6,14}$';

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The has_email triggers of migration 1732492800000 with another rule, and the flags recomputed by it. */
async function setHasEmailRule(db: QueryRunner, ofUser: string, ofNewUser: string): Promise<void> {
  await db.query(`
    CREATE OR REPLACE FUNCTION customers_set_has_email() RETURNS trigger AS $$
    BEGIN
      SELECT ${ofUser} INTO NEW.has_email FROM users u WHERE u.id = NEW.id;
      NEW.has_email := coalesce(NEW.has_email, false);
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql`);
  await db.query(`
    CREATE OR REPLACE FUNCTION users_refresh_customer_email() RETURNS trigger AS $$
    BEGIN
      UPDATE customers SET has_email = ${ofNewUser} WHERE id = NEW.id;
      RETURN NULL;
    END
    $$ LANGUAGE plpgsql`);
  await db.query(`
    UPDATE customers c SET has_email = ${ofUser}
      FROM users u
     WHERE u.id = c.id AND c.has_email IS DISTINCT FROM ${ofUser}`);
}
