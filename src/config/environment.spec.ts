import { AppConfig } from './app-config';
import { InvalidEnvironmentError, validateEnvironment } from './environment';
import { DEVELOPMENT_JWT_SECRET } from './secret-strength';

function problemsOf(env: Record<string, string>): string[] {
  try {
    validateEnvironment(env);
    return [];
  } catch (error) {
    if (error instanceof InvalidEnvironmentError) return error.problems;
    throw error;
  }
}

describe('validateEnvironment', () => {
  it('applies the documented defaults to an empty environment', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({
      PORT: 8000,
      MIGRATIONS_RUN: true,
      OPENAI_MODEL: 'gpt-4o-mini',
      BOOKING_BASE_URL: 'https://app.sheba.xyz/book',
      DEFAULT_TTL_HOURS: 48,
      FREQUENCY_CAP_MAX_MESSAGES: 1,
      FREQUENCY_CAP_WINDOW_DAYS: 7,
      OPENAI_DEADLINE_SECONDS: 15,
      OPENAI_BREAKER_FAILURES: 5,
      OPENAI_BREAKER_COOLDOWN_SECONDS: 30,
    });
  });

  it('parses numbers and booleans from strings', () => {
    expect(validateEnvironment({ PORT: '9000', MIGRATIONS_RUN: 'false' })).toMatchObject({ PORT: 9000, MIGRATIONS_RUN: false });
    expect(validateEnvironment({ AUTO_PAUSE_WINDOW: '50', AUTO_PAUSE_FAILURE_RATIO: '1' })).toMatchObject({
      AUTO_PAUSE_WINDOW: 50,
      AUTO_PAUSE_FAILURE_RATIO: 1,
    });
    expect(validateEnvironment({})).toMatchObject({ AUTO_PAUSE_WINDOW: 200, AUTO_PAUSE_FAILURE_RATIO: 0.5 });
  });

  it.each([
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['SMTP_URL', 'http://mail'],
    ['OPENAI_TIMEOUT_SECONDS', '0'],
    ['OPENAI_DEADLINE_SECONDS', '0'],
    ['OPENAI_BREAKER_FAILURES', 'five'],
    ['OPENAI_BREAKER_COOLDOWN_SECONDS', '-1'],
    ['MIGRATIONS_RUN', 'maybe'],
    ['JWT_SECRET', 'short'],
    ['LOG_FORMAT', 'xml'],
    ['AUTO_PAUSE_WINDOW', '0'],
    ['AUTO_PAUSE_WINDOW', '2.5'],
    ['AUTO_PAUSE_FAILURE_RATIO', '0'],
    ['AUTO_PAUSE_FAILURE_RATIO', '1.5'],
    ['AUTO_PAUSE_FAILURE_RATIO', 'half'],
  ])('names %s when its value is wrong', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
  });

  it('requires the database, JWT secret and admin keys in production, naming each', () => {
    const problems = problemsOf({ NODE_ENV: 'production' });
    expect(problems.join('\n')).toMatch(/DATABASE_URL[\s\S]*JWT_SECRET[\s\S]*ADMIN_API_KEYS/);
  });

  it('refuses credentials inside OPENAI_BASE_URL and SMS_GATEWAY_URL', () => {
    const problems = problemsOf({ OPENAI_BASE_URL: 'https://user:s3cret@llm.example.com/v1' });
    expect(problems).toEqual([expect.stringContaining('OPENAI_BASE_URL must not contain a user name or password')]);
    expect(problems.join()).not.toContain('s3cret');
    expect(problemsOf({ SMS_GATEWAY_URL: 'https://key@sms.example.com/send' })).toHaveLength(1);
    expect(problemsOf({ SMS_GATEWAY_URL: 'https://sms.example.com/send?to=a@b' })).toHaveLength(0);
  });

  it('logs JSON in production and readable lines elsewhere, unless LOG_FORMAT says otherwise', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/app',
      JWT_SECRET: 'production-jwt-secret-0123456789',
      ADMIN_API_KEYS: 'production-admin-key-0123456789abcdef',
    };
    const logOf = (env: Record<string, string>) => new AppConfig(validateEnvironment(env)).log;

    expect(logOf(production)).toEqual({ level: 'log', format: 'json' });
    expect(logOf({})).toEqual({ level: 'log', format: 'pretty' });
    expect(logOf({ ...production, LOG_FORMAT: 'pretty', LOG_LEVEL: 'warn' })).toEqual({ level: 'warn', format: 'pretty' });
    expect(logOf({ LOG_FORMAT: 'json' })).toEqual({ level: 'log', format: 'json' });
  });

  it('does not echo secret values in its messages', () => {
    const problems = problemsOf({ JWT_SECRET: 'tiny-secret' });
    expect(problems.join('\n')).not.toContain('tiny-secret');
  });

  describe('ADMIN_API_KEYS in production', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/smartengage',
      JWT_SECRET: 'production-jwt-secret-0123456789',
    };
    const longKey = 'f3a9c1e7b25d8046a1c3e5f7092b4d6e';
    const base64Key = 'rAy_wD7Wl_P9pvngNO2jXKazTAEzuok4';

    it.each([
      ['a lone comma', ','],
      ['a blank', ' '],
      ['an empty entry between keys', `${longKey},,${longKey}`],
      ['a trailing comma', `${longKey},`],
      ['a key shorter than 32 characters', `${longKey},short-key-31-characters-long-xx`],
      ['one character repeated', `${longKey},${'a'.repeat(32)}`],
      ['a repeated pattern', 'abcd1234'.repeat(5)],
      ['hardly more than one character', `${'a'.repeat(39)}b`],
      ['control characters', '\x01'.repeat(40)],
      ['a control character inside a good key', `${longKey.slice(0, 16)}\x07${longKey.slice(16)}`],
      ['a space inside a key', `${longKey.slice(0, 16)} ${longKey.slice(16)}`],
      ['non-ASCII characters', `${longKey}é`],
      ['the docker-compose.yml example', 'change-me-to-an-admin-key-of-at-least-32-characters'],
      ['a key derived from an example', 'CHANGE-ME-please-to-a-real-key-0123456789'],
    ])('stops the boot naming ADMIN_API_KEYS for %s, without echoing a key', (_case, keys) => {
      const problems = problemsOf({ ...production, ADMIN_API_KEYS: keys });
      expect(problems).toEqual([expect.stringContaining('ADMIN_API_KEYS')]);
      expect(problems[0]).not.toContain('short-key');
      expect(problems[0]).not.toContain(longKey);
      expect(problems[0]).not.toContain('aaaa');
    });

    it('accepts random keys of 32 characters or more (hex, base64url), with spaces around the commas', () => {
      expect(problemsOf({ ...production, ADMIN_API_KEYS: ` ${longKey} , ${base64Key} ` })).toEqual([]);
    });

    it('leaves development alone: a short key still works there', () => {
      expect(problemsOf({ ADMIN_API_KEYS: 'dev-key' })).toEqual([]);
    });
  });

  describe('JWT_SECRET in production', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/smartengage', ADMIN_API_KEYS: 'f3a9c1e7b25d8046a1c3e5f7092b4d6e' };

    it.each([
      ['the development secret committed in the repository', DEVELOPMENT_JWT_SECRET],
      ['the docker-compose.yml example', 'change-me-to-a-long-random-secret-of-32-chars'],
      ['the docs example', 'change-me-to-a-long-random-secret'],
      ['a value of 31 bytes', 'x'.repeat(31)],
      ['a value of 16 characters, enough outside production', 'sixteen-chars-ok'],
    ])('stops the boot naming JWT_SECRET for %s, without echoing it', (_case, secret) => {
      const problems = problemsOf({ ...production, JWT_SECRET: secret });
      expect(problems).toEqual([expect.stringContaining('JWT_SECRET')]);
      expect(problems[0]).not.toContain(secret);
    });

    it('accepts a secret of its own of 32 bytes or more', () => {
      expect(problemsOf({ ...production, JWT_SECRET: 'b7e1c9a4f2d86305e1b7c9a4f2d86305' })).toEqual([]);
    });

    it('leaves development alone: the development secret still boots there', () => {
      expect(problemsOf({ JWT_SECRET: DEVELOPMENT_JWT_SECRET })).toEqual([]);
    });
  });

  describe('SMS_INBOUND_SECRET in production', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/smartengage',
      ADMIN_API_KEYS: 'f3a9c1e7b25d8046a1c3e5f7092b4d6e',
      JWT_SECRET: 'b7e1c9a4f2d86305e1b7c9a4f2d86305',
    };

    it.each([
      ['an example from the docs', 'change-me-to-a-long-random-secret'],
      ['a value of 16 characters, enough outside production', 'sixteen-chars-ok'],
    ])('stops the boot naming SMS_INBOUND_SECRET for %s, without echoing it', (_case, secret) => {
      const problems = problemsOf({ ...production, SMS_INBOUND_SECRET: secret });
      expect(problems).toEqual([expect.stringContaining('SMS_INBOUND_SECRET')]);
      expect(problems[0]).not.toContain(secret);
    });

    it('accepts a secret of its own of 32 bytes or more, and leaves it optional', () => {
      expect(problemsOf({ ...production, SMS_INBOUND_SECRET: '4d9e2b7a1c6f03e8d5b2a7c4f1e0938b' })).toEqual([]);
      expect(problemsOf(production)).toEqual([]);
      expect(problemsOf({ SMS_INBOUND_SECRET: 'sixteen-chars-ok' })).toEqual([]);
    });
  });

  it('refuses TRUST_PROXY=true in production, where any client could name its own IP, and allows it elsewhere', () => {
    const production = {
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/smartengage',
      ADMIN_API_KEYS: 'f3a9c1e7b25d8046a1c3e5f7092b4d6e',
      JWT_SECRET: 'b7e1c9a4f2d86305e1b7c9a4f2d86305',
    };
    expect(problemsOf({ ...production, TRUST_PROXY: 'TRUE' })).toEqual([expect.stringContaining('TRUST_PROXY')]);
    expect(problemsOf({ ...production, TRUST_PROXY: '1' })).toEqual([]);
    expect(problemsOf({ ...production, TRUST_PROXY: '10.0.0.0/8' })).toEqual([]);
    expect(problemsOf({ TRUST_PROXY: 'true' })).toEqual([]);
  });

  it.each([
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/cache'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/1/2'],
    ['PUBLIC_RATE_LIMIT_PER_MINUTE', '0'],
    ['PUBLIC_RATE_LIMIT_PER_MINUTE', 'lots'],
    ['CLICK_RATE_LIMIT_PER_MINUTE', '0'],
    ['OPEN_RECORD_LIMIT_PER_MINUTE', 'lots'],
    ['SMS_INBOUND_SECRET', 'too-short'],
    ['TRUST_PROXY', 'the load balancer'],
  ])('names %s when it is %p', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(name);
  });

  it('accepts redis:// and rediss:// URLs and does not echo a Redis password', () => {
    expect(validateEnvironment({ REDIS_URL: 'redis://127.0.0.1:6379/2' }).REDIS_URL).toBe('redis://127.0.0.1:6379/2');
    expect(problemsOf({ REDIS_URL: 'rediss://:hunter2@cache.example.com:6380' })).toEqual([]);
    expect(problemsOf({ REDIS_URL: 'memcached://:hunter2@cache' }).join()).not.toContain('hunter2');
  });

  it.each(['false', 'true', '1', 'loopback', '10.0.0.0/8, 192.168.1.1', 'loopback,uniquelocal'])('accepts TRUST_PROXY=%p', (value) => {
    expect(problemsOf({ TRUST_PROXY: value })).toEqual([]);
  });

  it('refuses an SMTP_URL that sends credentials to a remote server with ignoreTLS unless requireTLS=false says so', () => {
    const problems = problemsOf({ SMTP_URL: 'smtp://user:s3cret@mail.example.com:587?ignoreTLS=true' });
    expect(problems).toEqual([expect.stringContaining('SMTP_URL')]);
    expect(problems.join()).not.toContain('s3cret');
    expect(problemsOf({ SMTP_URL: 'smtp://user:s3cret@mail.example.com:587?ignoreTLS=true&requireTLS=false' })).toEqual([]);
    expect(problemsOf({ SMTP_URL: 'smtp://user:s3cret@127.0.0.1:1025?ignoreTLS=true' })).toEqual([]);
  });
});
