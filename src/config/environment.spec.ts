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

  it('does not echo secret values in its messages', () => {
    const problems = problemsOf({ JWT_SECRET: 'tiny-secret' });
    expect(problems.join('\n')).not.toContain('tiny-secret');
  });
});
