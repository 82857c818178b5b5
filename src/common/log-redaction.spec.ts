import { scrubSecrets } from './log-redaction';

describe(scrubSecrets.name, () => {
  it.each([
    ['postgres://smartengage:pg-pass@db:5432/app', 'postgres://[redacted]@db:5432/app'],
    ['connect to smtps://apikey:sg.SECRET@smtp.example.com:465 failed', 'connect to smtps://[redacted]@smtp.example.com:465 failed'],
    ['GET /events/booked?token=eyJ.abc.def&x=1', 'GET /events/booked?token=[redacted]&x=1'],
    ['https://app.sheba.xyz/book?token=eyJ.abc.def&promo=VIP20', 'https://app.sheba.xyz/book?token=[redacted]&promo=VIP20'],
    ['/unsubscribe/AbC-_1.XyZ-_2?x=1', '/unsubscribe/[redacted]?x=1'],
    ['GET /r/Qm9vay1jb2RlLTEyMzQ', 'GET /r/[redacted]'],
    ['http://smartengage.test/r/Qm9vay1jb2RlLTEyMzQ?token=eyJ.a.b', 'http://smartengage.test/r/[redacted]?token=[redacted]'],
    ['GET /o/Qm9vay1jb2RlLTEyMzQ.gif', 'GET /o/[redacted]'],
    ['Authorization: Bearer e2e-admin-key-0123456789', 'Authorization: Bearer [redacted]'],
  ])('scrubs %s', (input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });

  it('leaves text without secrets alone', () => {
    const text =
      'Campaign progress: 10/20 processed, mail to navid@example.com, see http://localhost:8000/docs; ' +
      'Mapped {/unsubscribe/:token, GET} route, Mapped {/r/:code, GET} route, Mapped {/o/:code, GET} route';
    expect(scrubSecrets(text)).toBe(text);
  });
});
