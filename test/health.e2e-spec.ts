import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo, createServer as createTcpServer, Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
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

  it('is public and answers 200 with the database up, checking nothing that is not configured', async () => {
    const app = await boot();
    const res = await health(app, 200);
    expect(res.headers['cache-control']).toContain('no-store');
    expect(res.body).toEqual({
      status: 'ok',
      info: { database: { status: 'up' } },
      error: {},
      details: { database: { status: 'up' } },
    });
  });

  it('is documented in the OpenAPI document with its 200 and 503 answers', async () => {
    const app = await boot();
    const { body } = await app.http().get('/docs-json').expect(200);
    expect(Object.keys(body.paths['/health'].get.responses)).toEqual(expect.arrayContaining(['200', '503']));
    expect(body.paths['/health'].get.security ?? []).toEqual([]);
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
      expect(res.body.details).toEqual({ database: { status: 'up' }, smtp: { status: 'up' } });
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

    it('answers 503 with smtp down when nothing listens on the port', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(await closedPort()) });
      const res = await health(app, 503);
      expect(res.body).toMatchObject({
        status: 'error',
        info: { database: { status: 'up' } },
        error: { smtp: { status: 'down', message: expect.stringContaining('ECONNREFUSED') } },
      });
    });

    it('gives up on a server that never greets after about 3 s', async () => {
      const silent = await startSilentServer();
      try {
        const app = await boot({ SMTP_URL: smtpUrl(silent.port) });
        const started = Date.now();
        const res = await health(app, 503);
        expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
        expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 2_000);
        expect(res.body.error.smtp).toEqual({ status: 'down', message: expect.stringMatching(/no answer within 3000 ms|greeting never received|timeout/i) });
      } finally {
        await silent.close();
      }
    });

    it('answers 503 with smtp down when the server refuses our login, without showing the password', async () => {
      const app = await boot({ SMTP_URL: smtpUrl(smtp.port, `${SMTP_PASSWORD}-wrong`) });
      const res = await health(app, 503);
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
      expect(res.body.details).toEqual({
        database: { status: 'up' },
        llm: { status: 'up', circuit: { state: 'closed', consecutiveFailures: 0 } },
      });
      expect(api.requests).toEqual([expect.objectContaining({ authorization: `Bearer ${OPENAI_KEY}` })]);
    });

    it('answers 503 with llm down when the API rejects the key', async () => {
      const app = await boot({ OPENAI_API_KEY: `${OPENAI_KEY}-revoked`, OPENAI_BASE_URL: api.baseUrl });
      const res = await health(app, 503);
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
        const res = await health(app, 503);
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

    it('answers 503 with llm down when nothing listens at OPENAI_BASE_URL', async () => {
      const app = await boot({ OPENAI_API_KEY: OPENAI_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1` });
      const res = await health(app, 503);
      expect(res.body).toMatchObject({
        status: 'error',
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
});
