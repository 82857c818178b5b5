import { Logger } from '@nestjs/common';
import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { MAX_RETRY_AFTER_MS, parseRetryAfter, SmsDeliveryError, SmsSender } from './sms.sender';

const API_KEY = 'test-gateway-key-5f1c';
const TEXT = 'প্রিয় নাভিদ, আপনার প্লাম্বিং সার্ভিসের ২১ দিন হয়ে গেছে। আবার বুক করুন: https://app.sheba.xyz/b/Xk9';
const SMS = { messageId: 'msg-0001', to: '+8801712345678', text: TEXT };

interface RecordedRequest {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Answers the n-th request with the n-th handler (the last one repeats); records every request. */
interface FakeGateway {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

type Reply = (res: ServerResponse) => void;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (res) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const never: Reply = () => undefined;

async function startGateway(replies: Reply[]): Promise<FakeGateway> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: raw ? JSON.parse(raw) : null });
      replies[Math.min(requests.length, replies.length) - 1](res);
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/sms`,
    requests,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function senderFor(env: Record<string, string>): SmsSender {
  return new SmsSender(new AppConfig(validateEnvironment({ SMS_SENDER_ID: 'ShoktiAI', ...env })));
}

describe(SmsSender.name, () => {
  let logged: string[];
  let gateway: FakeGateway | undefined;

  beforeEach(() => {
    logged = [];
    for (const level of ['log', 'warn', 'error', 'debug'] as const) {
      jest.spyOn(Logger.prototype, level).mockImplementation((...args: unknown[]) => {
        // Lines are text or an object of fields (msg, messageId, ...): keep all of it for the secret checks.
        logged.push(typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]));
      });
    }
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await gateway?.close();
    gateway = undefined;
  });

  function gatewaySender(url: string, env: Record<string, string> = {}): SmsSender {
    return senderFor({
      SMS_GATEWAY_URL: url,
      SMS_GATEWAY_API_KEY: API_KEY,
      ...env,
    });
  }

  async function sendExpectingError(sut: SmsSender): Promise<SmsDeliveryError> {
    const error = await sut.send(SMS).then(
      () => null,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(SmsDeliveryError);
    return error as SmsDeliveryError;
  }

  function expectNoSecretsLogged(...extra: string[]) {
    for (const line of [...logged, ...extra]) {
      expect(line).not.toContain(API_KEY);
      expect(line).not.toContain(TEXT);
    }
  }

  describe('with a gateway', () => {
    it('posts the SMS as JSON with the API key and idempotency key, and returns the gateway id', async () => {
      gateway = await startGateway([json(202, { id: 'gw-42' })]);
      const sut = gatewaySender(gateway.url);

      const receipt = await sut.send(SMS);

      expect(sut.usesGateway).toBe(true);
      expect(receipt).toEqual({ providerMessageId: 'gw-42', segments: 2 });
      expect(gateway.requests).toHaveLength(1);
      const [request] = gateway.requests;
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/v1/sms');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers['x-api-key']).toBe(API_KEY);
      expect(request.headers['idempotency-key']).toBe('msg-0001');
      expect(request.body).toEqual({ to: '+8801712345678', from: 'ShoktiAI', text: TEXT, reference: 'msg-0001' });
      expectNoSecretsLogged();
    });

    it('accepts message_id or messageId as the gateway id', async () => {
      gateway = await startGateway([json(200, { message_id: 'snake-1' }), json(200, { messageId: 77 })]);
      const sut = gatewaySender(gateway.url);

      await expect(sut.send(SMS)).resolves.toMatchObject({ providerMessageId: 'snake-1' });
      await expect(sut.send(SMS)).resolves.toMatchObject({ providerMessageId: '77' });
    });

    it('sends no X-API-Key header when no key is configured', async () => {
      gateway = await startGateway([json(200, { id: 'gw-1' })]);
      const sut = senderFor({ SMS_GATEWAY_URL: gateway.url });

      await sut.send(SMS);

      expect(gateway.requests[0].headers).not.toHaveProperty('x-api-key');
    });

    it('fails on a 2xx without an id, not retryable, since the gateway may have taken the SMS', async () => {
      gateway = await startGateway([json(200, { ok: true })]);

      const error = await sendExpectingError(gatewaySender(gateway.url));

      expect(error).toMatchObject({ status: 200, retryable: false });
      expect(error.message).toMatch(/200.*without a message id/);
      expect(gateway.requests).toHaveLength(1);
    });

    it('makes one attempt: a 429 is retryable after its Retry-After', async () => {
      gateway = await startGateway([json(429, { error: 'slow down' }, { 'Retry-After': '2' }), json(200, { id: 'gw-2' })]);

      const error = await sendExpectingError(gatewaySender(gateway.url));

      expect(error).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000 });
      expect(gateway.requests).toHaveLength(1);
    });

    it('makes one attempt: a 5xx is retryable and named, with no secrets in the message', async () => {
      gateway = await startGateway([json(503, {}), json(200, { id: 'gw-3' })]);

      const error = await sendExpectingError(gatewaySender(gateway.url));

      expect(error).toMatchObject({ status: 503, retryable: true, retryAfterMs: undefined });
      expect(error.message).toContain('503');
      expect(gateway.requests).toHaveLength(1);
      expectNoSecretsLogged(error.message);
    });

    it('fails a 400 as not retryable', async () => {
      gateway = await startGateway([json(400, { error: 'bad number' }), json(200, { id: 'never' })]);

      const error = await sendExpectingError(gatewaySender(gateway.url));

      expect(error).toMatchObject({ status: 400, retryable: false });
      expect(error.message).toContain('400');
      expect(gateway.requests).toHaveLength(1);
      expectNoSecretsLogged(error.message);
    });

    it('fails as retryable when the gateway does not answer within the timeout', async () => {
      gateway = await startGateway([never]);
      const sut = gatewaySender(gateway.url, { SMS_GATEWAY_TIMEOUT_MS: '200' });

      const started = Date.now();
      const error = await sendExpectingError(sut);

      expect(error).toMatchObject({ status: undefined, retryable: true });
      expect(error.message).toMatch(/timed out after 200 ms/);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(gateway.requests).toHaveLength(1);
    });

    it('fails as retryable when the gateway cannot be reached', async () => {
      const closed = await startGateway([json(200, { id: 'unused' })]);
      await closed.close();

      const error = await sendExpectingError(gatewaySender(closed.url));

      expect(error).toMatchObject({ status: undefined, retryable: true });
      expect(error.message).toContain('request failed');
    });
  });

  describe('without a gateway', () => {
    let outboxDir: string;

    beforeEach(async () => {
      outboxDir = await mkdtemp(join(tmpdir(), 'sms-outbox-'));
    });

    afterEach(async () => {
      await rm(outboxDir, { recursive: true, force: true });
    });

    it('writes the SMS to the outbox as JSON with its segment count', async () => {
      const sut = senderFor({ OUTBOX_DIR: outboxDir });
      await sut.onModuleInit();

      const receipt = await sut.send(SMS);

      expect(sut.usesGateway).toBe(false);
      expect(receipt.providerMessageId).toBe('outbox:msg-0001');
      expect(receipt.segments).toBe(2);
      expect(receipt.outboxPath).toMatch(/[/\\]sms[/\\]\d{4}-\d{2}-\d{2}T[\d-]+Z-msg-0001\.json$/);
      expect(await readdir(join(outboxDir, 'sms'))).toHaveLength(1);
      expect(JSON.parse(await readFile(receipt.outboxPath as string, 'utf8'))).toEqual({
        to: '+8801712345678',
        from: 'ShoktiAI',
        text: TEXT,
        segments: 2,
        encoding: 'UCS-2',
        message_id: 'msg-0001',
      });
      expect(logged.some((line) => line.includes(receipt.outboxPath as string))).toBe(true);
      expectNoSecretsLogged();
    });
  });
});

describe(parseRetryAfter.name, () => {
  const now = Date.parse('2025-06-01T09:00:00Z');

  it('reads delta-seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Sun, 01 Jun 2025 09:00:05 GMT', now)).toBe(5000);
  });

  it('waits 0 for a date in the past and at most 30 s', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 08:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('3600', now)).toBe(MAX_RETRY_AFTER_MS);
    expect(MAX_RETRY_AFTER_MS).toBe(30_000);
  });

  it('is undefined when absent or unreadable, so the backoff applies', () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
