import { InvalidEnvironmentError, validateEnvironment } from './environment';

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

  it('does not echo secret values in its messages', () => {
    const problems = problemsOf({ JWT_SECRET: 'tiny-secret' });
    expect(problems.join('\n')).not.toContain('tiny-secret');
  });
});
