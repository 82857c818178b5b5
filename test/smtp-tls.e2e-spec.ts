import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { AddressInfo, createConnection, createServer, Server, Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { DEMO } from '../src/database/demo-seed';
import { auth, createTestApp, resetDatabase, TestApp } from './support/test-app';

const ROUTE = '/admin/smartengage/send-single';
const USER = 'mailer';
const PASSWORD = 'smtp-Pa55-word-7Qx';
const SEND = { customer_id: DEMO.customers.regular, message_type: 'reminder' };

/** Every form the password can take on the wire: plain, AUTH PLAIN and AUTH LOGIN base64. */
const PASSWORD_FORMS = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64'),
  Buffer.from(`${USER}\0${USER}\0${PASSWORD}`).toString('base64'),
];

/** An address of this machine that is not loopback, as a remote SMTP server's would be. */
function externalAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal);
  if (!address) throw new Error('this test needs a non-loopback IPv4 interface');
  return address.address;
}

/** A self-signed certificate made for this run. */
function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'smtp-tls-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=smtp.smartengage.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SmtpServerUnderTest {
  /** smtp://user:password@<external address>:<port> */
  url: string;
  /** Logins the server saw, and whether the connection was encrypted at the time. */
  logins: { password: string; secure: boolean }[];
  delivered: number;
  /** Everything the client sent, as it crossed the network. */
  wire: () => string;
  close: () => Promise<void>;
}

/**
 * A real SMTP server on loopback, reached through a recording TCP relay on the machine's external address.
 * Without `tls` it offers no STARTTLS and takes AUTH in clear; with it, it offers STARTTLS.
 */
async function startSmtp(tls?: { key: Buffer; cert: Buffer }): Promise<SmtpServerUnderTest> {
  const logins: SmtpServerUnderTest['logins'] = [];
  let delivered = 0;
  const server = new SMTPServer({
    ...(tls ? { key: tls.key, cert: tls.cert } : { disabledCommands: ['STARTTLS'], allowInsecureAuth: true }),
    logger: false,
    closeTimeout: 200,
    onAuth(login, session, callback) {
      logins.push({ password: login.password ?? '', secure: Boolean(session.secure) });
      if (login.username === USER && login.password === PASSWORD) return callback(null, { user: USER });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        delivered += 1;
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const smtpPort = (server.server.address() as AddressInfo).port;

  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: smtpPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.pipe(upstream).pipe(client);
  });
  const host = externalAddress();
  await new Promise<void>((resolve) => relay.listen(0, host, () => resolve()));
  const port = (relay.address() as AddressInfo).port;
  return {
    url: `smtp://${USER}:${encodeURIComponent(PASSWORD)}@${host}:${port}`,
    logins,
    get delivered() {
      return delivered;
    },
    wire: () => Buffer.concat(chunks).toString('latin1'),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const leaked = (wire: string) => PASSWORD_FORMS.filter((form) => wire.includes(form));

describe('SMTP credentials only over TLS', () => {
  let smtp: SmtpServerUnderTest;
  let t: TestApp | undefined;

  afterEach(async () => {
    await t?.close();
    t = undefined;
    await smtp.close();
  });

  it('refuses to log in to a remote server that offers no STARTTLS: the send fails and the password never crosses', async () => {
    smtp = await startSmtp();
    t = await createTestApp({ SMTP_URL: smtp.url });
    await resetDatabase(t.dataSource);

    const res = await t.http().post(ROUTE).set(auth).send(SEND).expect(502);
    expect(res.body.code).toBe('DELIVERY_FAILED');
    const health = await t.http().get('/health');
    expect(health.body.details?.smtp?.status ?? health.body.info?.smtp?.status).toBe('down');

    expect(smtp.wire()).toContain('EHLO');
    expect(leaked(smtp.wire())).toEqual([]);
    expect(smtp.logins).toEqual([]);
    expect(smtp.delivered).toBe(0);
    expect(JSON.stringify(res.body) + JSON.stringify(health.body)).not.toContain(PASSWORD);
  });

  it('logs in and sends over STARTTLS to a server with a certificate (rejectUnauthorized=false: tests only)', async () => {
    smtp = await startSmtp(selfSignedCertificate());
    t = await createTestApp({ SMTP_URL: `${smtp.url}?tls.rejectUnauthorized=false` });
    await resetDatabase(t.dataSource);

    await t.http().post(ROUTE).set(auth).send(SEND).expect(200);
    expect(smtp.logins).toEqual([{ password: PASSWORD, secure: true }]);
    expect(smtp.delivered).toBe(1);
    expect(smtp.wire()).toContain('STARTTLS');
    expect(leaked(smtp.wire())).toEqual([]);
  });

  it('sends the password in clear only when the URL says requireTLS=false', async () => {
    smtp = await startSmtp();
    t = await createTestApp({ SMTP_URL: `${smtp.url}?requireTLS=false` });
    await resetDatabase(t.dataSource);

    await t.http().post(ROUTE).set(auth).send(SEND).expect(200);
    expect(smtp.logins).toEqual([{ password: PASSWORD, secure: false }]);
    expect(smtp.delivered).toBe(1);
  });
});
