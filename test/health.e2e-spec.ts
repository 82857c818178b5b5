import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo, createServer as createTcpServer, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { ServiceProcess, startService } from './support/service-process';
import { startTcpRelay, TcpRelay } from './support/tcp-relay';
import { createTestApp, TestApp } from './support/test-app';

const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-pass-Zq8!w7';
const OPENAI_KEY = 'sk-health-test-key-5f3a9c1e7b';
const TIMEOUT_MS = 3_000;

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts TCP connections and never says a word: an SMTP server that hangs, or an HTTP API that never answers. */
async function startSilentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A real SMTP server that advertises AUTH on a plain connection and accepts only SMTP_USER/SMTP_PASSWORD. */
async function startSmtpServer(): Promise<{ port: number; logins: () => number; close: () => Promise<void> }> {
  let logins = 0;
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 200,
    onAuth(auth, _session, callback) {
      logins++;
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return { port, logins: () => logins, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Answers GET /v1/models like OpenAI: 200 for OPENAI_KEY, 401 for any other key, 404 elsewhere. */
async function startModelsApi(): Promise<{ baseUrl: string; requests: IncomingHttpHeaders[]; close: () => Promise<void> }> {
  const requests: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.headers);
    res.setHeader('Content-Type', 'application/json');
    if (req.method !== 'GET' || req.url !== '/v1/models') return res.writeHead(404).end('{}');
    if (req.headers.authorization !== `Bearer ${OPENAI_KEY}`) {
      return res.writeHead(401).end(JSON.stringify({ error: { message: 'Incorrect API key provided' } }));
    }
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('GET /health', () => {
  let t: TestApp | undefined;
  const boot = async (env: Record<string, string> = {}) => (t = await createTestApp(env));
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  /** The response, after checking that no secret appears anywhere in it. */
  const health = async (app: TestApp, status: number) => {
    const res = await app.http().get('/health').expect(status);
    for (const secret of [SMTP_PASSWORD, encodeURIComponent(SMTP_PASSWORD), OPENAI_KEY]) expect(res.text).not.toContain(secret);
    return res;
  };

  it('is public and answers 200 with the database up, naming what is not configured and checking it not', async () => {
    const app = await boot();
    const res = await health(app, 200);
    expect(res.headers['cache-control']).toContain('no-store');
    const notConfigured = { status: 'not_configured' };
    expect(res.body).toEqual({
      status: 'ok',
      info: { database: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' }, redis: notConfigured, queue: notConfigured, smtp: notConfigured, sms_gateway: notConfigured, llm: notConfigured },
    });
    // /health is the readiness answer under its older name.
    expect((await app.http().get('/health/ready').expect(200)).body).toEqual(res.body);
    expect((await app.http().get('/health/live').expect(200)).body).toEqual({ status: 'ok' });
  });

  it('is documented in the OpenAPI document: readiness with its 200 and 503 answers, liveness with 200', async () => {
    const app = await boot();
    const { body } = await app.http().get('/docs-json').expect(200);
    for (const path of ['/health', '/health/ready']) {
      expect(Object.keys(body.paths[path].get.responses)).toEqual(expect.arrayContaining(['200', '503', '429']));
      expect(body.paths[path].get.security ?? []).toEqual([]);
    }
    expect(Object.keys(body.paths['/health/live'].get.responses)).toEqual(expect.arrayContaining(['200']));
  });

  describe('SMTP, when SMTP_URL is set', () => {
    let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
    beforeAll(async () => {
      smtp = await startSmtpServer();
    });
    afterAll(() => smtp.close());

    const smtpUrl = (port: number, password = SMTP_PASSWORD) =>
      `smtp://${SMTP_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}?pool=true`;

    it('is up when the server accepts a connection and our login', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(smtp.port) });
      const res = await health(app, 200);
      expect(res.body.details).toMatchObject({ database: { status: 'up' }, smtp: { status: 'up' } });
    });

    it('logs in at most once for 200 concurrent requests, and rate-limits them like the other public routes', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(smtp.port) });
      const before = smtp.logins();
      const statuses = await Promise.all(Array.from({ length: 200 }, () => app.http().get('/health').then((res) => res.status)));
      expect(smtp.logins() - before).toBeLessThanOrEqual(1);
      // PUBLIC_RATE_LIMIT_PER_MINUTE (120) per client and route; the rest is told to wait.
      expect(statuses.filter((status) => status === 200)).toHaveLength(120);
      expect(statuses.filter((status) => status === 429)).toHaveLength(80);
    });

    it('stays ready (200) with smtp down when nothing listens on the port: mail waits, events and clicks go on', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(await closedPort()) });
      const res = await health(app, 200);
      expect(res.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: { smtp: { status: 'down', message: expect.stringContaining('ECONNREFUSED') } },
      });
    });

    it('gives up on a server that never greets after about 3 s', async () => {
      const silent = await startSilentServer();
      try {
        const app = await boot({ SMTP_URL: smtpUrl(silent.port) });
        const started = Date.now();
        const res = await health(app, 200);
        expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
        expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2_000);
        expect(res.body.error.smtp).toEqual({ status: 'down', message: expect.stringMatching(/no answer within 3000 ms|greeting never received|timeout/i) });
      } finally {
        await silent.close();
      }
    });

    it('reports smtp down when the server refuses our login, without showing the password', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(smtp.port, `${SMTP_PASSWORD}-wrong`) });
      const res = await health(app, 200);
      expect(res.body.error.smtp).toEqual({ status: 'down', message: expect.stringContaining('535') });
      expect(res.text).not.toContain(`${SMTP_PASSWORD}-wrong`);
    });
  });

  describe('the LLM API, when OPENAI_API_KEY is set', () => {
    let api: Awaited<ReturnType<typeof startModelsApi>>;
    beforeAll(async () => {
      api = await startModelsApi();
    });
    afterAll(() => api.close());

    it('is up when GET /models answers 2xx to our key', async () => {
      const app = await boot({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: api.baseUrl });
      api.requests.length = 0;
      const res = await health(app, 200);
      expect(res.body.details).toMatchObject({
        database: { status: 'up' },
        llm: { status: 'up', circuit: { state: 'closed', consecutiveFailures: 0 } },
      });
      expect(api.requests).toEqual([expect.objectContaining({ authorization: `Bearer ${OPENAI_KEY}` })]);
    });

    it('reports llm down when the API rejects the key, and stays ready: drafts come from the template', async () => {
      const app = await boot({ OPENAI_API_KEY: `${OPENAI_KEY}-revoked`, OPENAI_BASE_URL: api.baseUrl });
      const res = await health(app, 200);
      expect(res.body.error).toEqual({
        llm: { status: 'down', message: 'models endpoint answered 401', statusCode: 401, circuit: { state: 'closed', consecutiveFailures: 0 } },
      });
      expect(res.text).not.toContain(`${OPENAI_KEY}-revoked`);
    });

    it('gives up on an API that never answers after about 3 s', async () => {
      const silent = await startSilentServer();
      try {
        const app = await boot({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${silent.port}/v1` });
        const started = Date.now();
        const res = await health(app, 200);
        expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
        expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2_000);
        expect(res.body.error.llm).toEqual({
          status: 'down',
          message: `no answer within ${TIMEOUT_MS} ms`,
          circuit: { state: 'closed', consecutiveFailures: 0 },
        });
      } finally {
        await silent.close();
      }
    });

    it('reports llm down when nothing listens at OPENAI_BASE_URL', async () => {
      const app = await boot({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1` });
      const res = await health(app, 200);
      expect(res.body).toMatchObject({
        status: 'ok',
        info: { database: { status: 'up' } },
        error: { llm: { status: 'down', message: expect.stringContaining('ECONNREFUSED') } },
      });
    });
  });

  describe('as the smartengage_health_up metric', () => {
    let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
    let api: Awaited<ReturnType<typeof startModelsApi>>;
    beforeAll(async () => {
      [smtp, api] = await Promise.all([startSmtpServer(), startModelsApi()]);
    });
    afterAll(() => Promise.all([smtp.close(), api.close()]));

    /** smartengage_health_up by check, from one scrape, after checking that no secret appears in it. */
    const healthMetric = async (app: TestApp) => {
      const { text } = await app.http().get('/metrics').expect(200);
      for (const secret of [SMTP_PASSWORD, encodeURIComponent(SMTP_PASSWORD), OPENAI_KEY]) expect(text).not.toContain(secret);
      return Object.fromEntries([...text.matchAll(/^smartengage_health_up\{check="(\w+)"\} (\d+)$/gm)].map(([, check, up]) => [check, Number(up)]));
    };

    it('runs the checks when Prometheus scrapes, with nobody calling /health, and at most once a minute', async () => {
      const app = await boot({
        SMTP_URL: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${smtp.port}`,
        OPENAI_API_KEY: `${OPENAI_KEY}-revoked`,
        OPENAI_BASE_URL: api.baseUrl,
      });
      api.requests.length = 0;
      expect(await healthMetric(app)).toEqual({ database: 1, smtp: 1, llm: 0 });
      expect(await healthMetric(app)).toEqual({ database: 1, smtp: 1, llm: 0 });
      expect(api.requests).toHaveLength(1);
    });

    it('reports a check down when its dependency is, and leaves out checks that are not configured', async () => {
      const app = await boot({ SMTP_URL: `smtp://127.0.0.1:${await closedPort()}` });
      expect(await healthMetric(app)).toEqual({ database: 1, smtp: 0 });
    });
  });

  describe('the SMS gateway, when SMS_GATEWAY_URL is set', () => {
    it('is up when the gateway answers HTTP, and down (still ready) when nothing listens', async () => {
      const gateway = createServer((req, res) => res.writeHead(req.method === 'HEAD' ? 405 : 404).end());
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', () => resolve()));
      try {
        const port = (gateway.address() as AddressInfo).port;
        const app = await boot({ SMS_GATEWAY_URL: `http://127.0.0.1:${port}/v1/messages`, SMS_GATEWAY_API_KEY: OPENAI_KEY });
        expect((await health(app, 200)).body.details.sms_gateway).toEqual({ status: 'up' });
        await app.close();
        t = await boot({ SMS_GATEWAY_URL: `http://127.0.0.1:${await closedPort()}/v1/messages`, SMS_GATEWAY_API_KEY: OPENAI_KEY });
        const res = await health(t, 200);
        expect(res.body.error.sms_gateway).toEqual({ status: 'down', message: expect.stringContaining('ECONNREFUSED') });
      } finally {
        gateway.closeAllConnections();
        await new Promise((resolve) => gateway.close(resolve));
      }
    });
  });
});

describe("a load balancer's view of the built service", () => {
  let service: ServiceProcess | undefined;
  let relay: TcpRelay | undefined;
  afterEach(async () => {
    await service?.stop();
    await relay?.close();
    service = relay = undefined;
  });

  const get = async (path: string) => {
    const res = await fetch(`${service!.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  it('keeps the replica ready while the LLM is down: /health/ready and /health answer 200 naming llm down', async () => {
    service = await startService({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1` });
    const ready = await get('/health/ready');
    expect(ready).toMatchObject({ status: 200, body: { status: 'ok', error: { llm: { status: 'down' } } } });
    expect((await get('/health')).status).toBe(200);
    expect(await get('/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(JSON.stringify(ready.body)).not.toContain(OPENAI_KEY);
  });

  it('takes it out when the database is down (ready 503 naming it) and leaves it alive (live 200)', async () => {
    relay = await startTcpRelay(process.env.DATABASE_URL!);
    service = await startService({ DATABASE_URL: relay.url });
    expect((await get('/health/ready')).status).toBe(200);

    await relay.cut();
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // past the database check's one-second interval
    const ready = await get('/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect((await get('/health')).status).toBe(503);
    expect(await get('/health/live')).toEqual({ status: 200, body: { status: 'ok' } });
  });
});
