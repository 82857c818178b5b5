import { isLoopbackHost, smtpConnectionOptions, smtpUrlWarnings } from './smtp-url';

describe('smtpConnectionOptions', () => {
  it('requires STARTTLS when credentials go to a remote server over smtp://', () => {
    expect(smtpConnectionOptions('smtp://user:pass@mail.example.com:587')).toMatchObject({
      host: 'mail.example.com',
      port: 587,
      secure: false,
      auth: { user: 'user', pass: 'pass' },
      requireTLS: true,
    });
  });

  it.each([
    ['no credentials', 'smtp://mail.example.com:25'],
    ['implicit TLS', 'smtps://user:pass@mail.example.com:465'],
    ['a loopback relay', 'smtp://user:pass@127.0.0.1:1025'],
    ['localhost', 'smtp://user:pass@localhost:1025'],
  ])('leaves requireTLS unset for %s', (_case, url) => {
    expect(smtpConnectionOptions(url).requireTLS).toBeUndefined();
  });

  it('keeps an explicit requireTLS=false, and warns about it and about unchecked certificates', () => {
    const url = 'smtp://user:pass@mail.example.com:587?requireTLS=false&tls.rejectUnauthorized=false';
    expect(smtpConnectionOptions(url)).toMatchObject({ requireTLS: false, tls: { rejectUnauthorized: false } });
    const warnings = smtpUrlWarnings(url);
    expect(warnings).toEqual([expect.stringContaining('requireTLS=false'), expect.stringContaining('NODE_EXTRA_CA_CERTS')]);
    expect(warnings.join()).not.toContain('pass@');
    expect(smtpUrlWarnings('smtp://user:pass@mail.example.com:587')).toEqual([]);
  });
});

describe('isLoopbackHost', () => {
  it('requires STARTTLS for credentials sent to a name that merely starts like a loopback address', () => {
    expect(smtpConnectionOptions('smtp://user:pass@127.mail-relay.example.com:587')).toMatchObject({ requireTLS: true });
    expect(smtpConnectionOptions('smtp://user:pass@relay.localhost:587')).toMatchObject({ requireTLS: true });
    expect(smtpConnectionOptions('smtp://user:pass@127.0.0.1:2525').requireTLS).toBeUndefined();
  });

  it.each(['localhost', 'LOCALHOST', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1'])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([
    'mail.example.com',
    '10.0.0.1',
    '192.0.2.2',
    'localhost.example.com',
    '::2',
    '',
    undefined,
    // Names that only look local: any resolver may send them off the machine.
    '127.mail-relay.example.com',
    '127.0.0.1.example.com',
    'mail.localhost',
    'localhost.',
    '[127.0.0.1]x',
  ])('%p is not', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});
