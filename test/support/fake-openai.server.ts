import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { toBengaliDigits } from '../../src/messaging/bengali';

/** What the fake answers to one chat-completions request. */
export type FakeReply =
  /**
   * An on-brief draft written from the request's facts: GOOD_SUBJECT and GOOD_BODY plus a paragraph naming the
   * service and the days in Bengali digits (goodBriefLine); for the SMS schema, goodSmsLine.
   */
  | { kind: 'good' }
  /** A completion whose content is the JSON object { subject, body }, as given. */
  | { kind: 'json'; subject: string; body: string }
  /** A completion in the SMS schema: the JSON object { line }, as given. */
  | { kind: 'sms'; line: string }
  /** A completion whose content is this exact string, JSON or not. */
  | { kind: 'raw'; content: string }
  /** An OpenAI-style error; retryAfterMs becomes the retry-after-ms header the SDK obeys. */
  | { kind: 'status'; status: number; retryAfterMs?: number }
  /** Waits, then answers as `then` says; a client that gave up meanwhile gets nothing. */
  | { kind: 'delay'; ms: number; then: FakeReply }
  /** Accepts the request and never answers: a provider that hangs. */
  | { kind: 'hang' }
  /** Drops the connection without an answer: a provider that fails. */
  | { kind: 'fail' };

export interface RecordedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: ChatRequestBody;
}

/** The parts of a chat-completions request the specs look at. */
export interface ChatRequestBody {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name: string } };
  [key: string]: unknown;
}

export const GOOD_SUBJECT = 'আপনার ঘরের যত্নের সময় হয়েছে';
export const GOOD_BODY =
  'আপনার শেষ সেবার পর বেশ কিছুদিন কেটে গেছে, আশা করি সবকিছু ভালো চলছে।\n\n' +
  'নিয়মিত যত্নে ঘর থাকে পরিচ্ছন্ন, নিরাপদ ও আরামদায়ক। আবার বুক করতে আমরা আপনার অপেক্ষায় আছি।';
const GOOD_REPLY: FakeReply = { kind: 'good' };

/** The sentence a `good` reply adds: the service and the days, as the brief asks. */
export function goodBriefLine(service: string, days: number): string {
  return `${toBengaliDigits(days)} দিন আগে আপনি ${service} নিয়েছিলেন, আবার বুক করুন।`;
}

/** A `good` reply's SMS line: short enough for two parts with an offer and a /r/ link. */
export function goodSmsLine(service: string, days: number): string {
  return `${toBengaliDigits(days)} দিন আগে ${service} নিয়েছিলেন।`;
}

/** The name of the SMS prompt's JSON schema (response_format.json_schema.name). */
const SMS_SCHEMA = 'reminder_sms';

const COMPLETION_PATHS = new Set(['/v1/chat/completions', '/chat/completions']);

/** How the fake's next batches behave; by default each answers every line as a chat completion would. */
export interface BatchBehaviour {
  /** Lines (by custom_id) that fail with a 500 and land in the error file. */
  failLine?: (customId: string) => boolean;
  /** The batch expires after answering its first `answered` lines; the rest come back as batch_expired. */
  expireAfter?: number;
  /** Polls the batch stays in_progress before it ends (default 1). */
  pollsInProgress?: number;
}

/** One line of an uploaded batch input file. */
export interface BatchInputLine {
  custom_id: string;
  method: string;
  url: string;
  body: ChatRequestBody;
}

interface FakeFile {
  id: string;
  filename: string;
  purpose: string;
  content: string;
  createdAt: number;
}

interface FakeBatch {
  id: string;
  inputFileId: string;
  endpoint: string;
  completionWindow: string;
  metadata: Record<string, string> | null;
  status: 'validating' | 'in_progress' | 'completed' | 'expired' | 'failed';
  polls: number;
  behaviour: BatchBehaviour;
  createdAt: number;
  counts: { total: number; completed: number; failed: number };
  outputFileId?: string;
  errorFileId?: string;
}

/**
 * A local stand-in for the OpenAI chat-completions API, so the real `openai` client can be driven
 * through timeouts, rate limits and bad output. Replies come from a script; an empty script repeats
 * the fallback reply (a good Bengali draft unless `always` changed it).
 */
export class FakeOpenAiServer {
  readonly requests: RecordedRequest[] = [];
  /** When each request the rate limit let through arrived (ms), and how many it refused with 429. */
  readonly admittedAt: number[] = [];
  rateLimited = 0;
  private limit: RateLimit | null = null;
  private readonly script: FakeReply[] = [];
  private fallback: FakeReply = GOOD_REPLY;
  private readonly rules: { when: (body: ChatRequestBody) => boolean; reply: FakeReply }[] = [];
  private tokens: FakeUsage = FAKE_USAGE;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly server: Server = createServer((req, res) => {
    this.handle(req, res).catch(() => res.destroy());
  });
  private port = 0;
  /** Files uploaded to /v1/files, and batches created, by id. */
  readonly files = new Map<string, FakeFile>();
  readonly batches = new Map<string, FakeBatch>();
  /** Every line of every batch input file, in upload order. */
  readonly batchLines: BatchInputLine[] = [];
  private batchBehaviour: BatchBehaviour = {};
  private ids = 0;

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** What OPENAI_BASE_URL should be. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  /** Queues replies for the next requests, in order. */
  reply(...replies: FakeReply[]): void {
    this.script.push(...replies);
  }

  /** Once the script is used up, answers the requests `when` picks this way (the first matching rule wins). */
  answerWhen(when: (body: ChatRequestBody) => boolean, reply: FakeReply): void {
    this.rules.push({ when, reply });
  }

  /** Answers every request this way once the script is used up (and no answerWhen rule matches). */
  always(reply: FakeReply): void {
    this.fallback = reply;
  }

  /**
   * Enforces `rpm` requests per minute as OpenAI describes it: a bucket that refills continuously (rpm / 60 a
   * second) and holds one second's worth (at least 2), so a burst is refused although the minute's total is not
   * reached. A refused request gets 429 with the x-ratelimit-* headers and no Retry-After; an admitted one carries
   * x-ratelimit-remaining-requests and x-ratelimit-reset-requests too. `latencyMs` delays every answer.
   */
  enforce(options: { rpm: number; latencyMs?: number }): void {
    const capacity = Math.max(2, options.rpm / 60);
    this.limit = { rpm: options.rpm, capacity, tokens: capacity, at: Date.now(), latencyMs: options.latencyMs ?? 0 };
  }

  /** How the batches created from now on behave. */
  batchesBehave(behaviour: BatchBehaviour): void {
    this.batchBehaviour = behaviour;
  }

  /** Lets every batch created so far end at its next poll (those made to stay in_progress). */
  finishBatches(): void {
    for (const batch of this.batches.values()) batch.behaviour = { ...batch.behaviour, pollsInProgress: 0 };
  }

  /** The usage every completion reports from now on (FAKE_USAGE until reset). */
  usage(tokens: FakeUsage): void {
    this.tokens = tokens;
  }

  /** Forgets requests, scripts and the rate limit, and goes back to the good default reply and FAKE_USAGE. */
  reset(): void {
    this.files.clear();
    this.batches.clear();
    this.batchLines.length = 0;
    this.batchBehaviour = {};
    this.requests.length = 0;
    this.admittedAt.length = 0;
    this.rateLimited = 0;
    this.limit = null;
    this.script.length = 0;
    this.rules.length = 0;
    this.fallback = GOOD_REPLY;
    this.tokens = FAKE_USAGE;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    const bytes = await readBody(req);
    const raw = bytes.toString('utf8');
    // What /health asks; any key will do.
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model' }] });
    }
    if (path.startsWith('/v1/files') || path.startsWith('/v1/batches')) return this.handleBatchApi(req, res, path, bytes);
    if (req.method !== 'POST' || !COMPLETION_PATHS.has(path)) {
      return sendJson(res, 404, errorBody(`no route ${req.method} ${path}`, 'invalid_request_error'));
    }
    let body: ChatRequestBody;
    try {
      body = JSON.parse(raw) as ChatRequestBody;
    } catch {
      return sendJson(res, 400, errorBody('request body is not JSON', 'invalid_request_error'));
    }
    this.requests.push({ path, headers: req.headers, body });
    const limit = this.limit;
    if (!limit) return this.answer(res, this.next(body), body);
    const now = Date.now();
    limit.tokens = Math.min(limit.capacity, limit.tokens + ((now - limit.at) * limit.rpm) / 60_000);
    limit.at = now;
    const admitted = limit.tokens >= 1;
    if (admitted) limit.tokens -= 1;
    const headers = {
      'x-ratelimit-limit-requests': String(limit.rpm),
      'x-ratelimit-remaining-requests': String(Math.floor(limit.tokens)),
      // Until the bucket is full again, as OpenAI reports it.
      'x-ratelimit-reset-requests': `${(((limit.capacity - limit.tokens) * 60) / limit.rpm).toFixed(3)}s`,
    };
    if (!admitted) {
      this.rateLimited++;
      return sendJson(res, 429, errorBody('Rate limit reached for requests', 'requests'), headers);
    }
    this.admittedAt.push(now);
    const reply = this.next(body);
    this.answer(res, limit.latencyMs > 0 ? { kind: 'delay', ms: limit.latencyMs, then: reply } : reply, body, headers);
  }

  /** The files and batches endpoints, as OpenAI's Batch API answers them. */
  private async handleBatchApi(req: IncomingMessage, res: ServerResponse, path: string, bytes: Buffer): Promise<void> {
    if (req.method === 'POST' && path === '/v1/files') {
      const form = await new Request('http://fake/v1/files', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? '' },
        body: bytes,
      }).formData();
      const file = form.get('file');
      const purpose = form.get('purpose');
      if (typeof file === 'string' || file === null || typeof purpose !== 'string') {
        return sendJson(res, 400, errorBody('file and purpose are required', 'invalid_request_error'));
      }
      const stored = this.storeFile(file.name, purpose, await file.text());
      return sendJson(res, 200, fileObject(stored));
    }
    const content = /^\/v1\/files\/([^/]+)\/content$/.exec(path);
    if (req.method === 'GET' && content) {
      const file = this.files.get(content[1]);
      if (!file) return sendJson(res, 404, errorBody(`No such File object: ${content[1]}`, 'invalid_request_error'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(file.content);
      return;
    }
    if (req.method === 'POST' && path === '/v1/batches') {
      const body = JSON.parse(bytes.toString('utf8')) as { input_file_id: string; endpoint: string; completion_window: string; metadata?: Record<string, string> };
      const input = this.files.get(body.input_file_id);
      if (!input || input.purpose !== 'batch') {
        return sendJson(res, 400, errorBody(`input_file_id ${body.input_file_id} is not a batch file`, 'invalid_request_error'));
      }
      const lines = input.content.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as BatchInputLine);
      this.batchLines.push(...lines);
      const batch: FakeBatch = {
        id: `batch_fake${++this.ids}`,
        inputFileId: input.id,
        endpoint: body.endpoint,
        completionWindow: body.completion_window,
        metadata: body.metadata ?? null,
        status: 'validating',
        polls: 0,
        behaviour: this.batchBehaviour,
        createdAt: Math.floor(Date.now() / 1000),
        counts: { total: lines.length, completed: 0, failed: 0 },
      };
      this.batches.set(batch.id, batch);
      return sendJson(res, 200, batchObject(batch));
    }
    const retrieve = /^\/v1\/batches\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && retrieve) {
      const batch = this.batches.get(retrieve[1]);
      if (!batch) return sendJson(res, 404, errorBody(`No batch with id ${retrieve[1]}`, 'invalid_request_error'));
      this.advance(batch);
      return sendJson(res, 200, batchObject(batch));
    }
    return sendJson(res, 404, errorBody(`no route ${req.method} ${path}`, 'invalid_request_error'));
  }

  /** Each poll moves a batch on: validating, in_progress (pollsInProgress polls), then completed or expired. */
  private advance(batch: FakeBatch): void {
    batch.polls++;
    if (batch.status === 'validating') {
      batch.status = 'in_progress';
      return;
    }
    if (batch.status !== 'in_progress' || batch.polls <= 1 + (batch.behaviour.pollsInProgress ?? 1)) return;
    const lines = this.files.get(batch.inputFileId)!.content.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line) as BatchInputLine);
    const { failLine, expireAfter } = batch.behaviour;
    const output: string[] = [];
    const errors: string[] = [];
    lines.forEach((line, index) => {
      const id = `batch_req_${++this.ids}`;
      if (expireAfter !== undefined && index >= expireAfter) {
        const error = { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' };
        errors.push(JSON.stringify({ id, custom_id: line.custom_id, response: null, error }));
        return;
      }
      if (failLine?.(line.custom_id)) {
        const response = { status_code: 500, request_id: `req_${id}`, body: errorBody('scripted batch failure', 'server_error') };
        errors.push(JSON.stringify({ id, custom_id: line.custom_id, response, error: null }));
        return;
      }
      const reply = this.next(line.body);
      const content = this.contentOf(reply, line.body);
      if (content === null) {
        const status = reply.kind === 'status' ? reply.status : 500;
        const response = { status_code: status, request_id: `req_${id}`, body: errorBody(`scripted ${status}`, 'server_error') };
        errors.push(JSON.stringify({ id, custom_id: line.custom_id, response, error: null }));
        return;
      }
      const response = { status_code: 200, request_id: `req_${id}`, body: completion(this.tokens, line.body.model, content) };
      output.push(JSON.stringify({ id, custom_id: line.custom_id, response, error: null }));
    });
    batch.counts = { total: lines.length, completed: output.length, failed: errors.length };
    batch.status = expireAfter !== undefined ? 'expired' : 'completed';
    if (output.length > 0) batch.outputFileId = this.storeFile(`${batch.id}_output.jsonl`, 'batch_output', `${output.join('\n')}\n`).id;
    if (errors.length > 0) batch.errorFileId = this.storeFile(`${batch.id}_error.jsonl`, 'batch_output', `${errors.join('\n')}\n`).id;
  }

  /** The completion content a reply gives, as a live answer has it; null for a reply that is no completion. */
  private contentOf(reply: FakeReply, body: ChatRequestBody): string | null {
    switch (reply.kind) {
      case 'good': {
        const facts = factsOf(body);
        const [service, days] = [String(facts.service ?? ''), Number(facts.days_since_last_booking ?? 0)];
        return JSON.stringify(
          isSms(body) ? { line: goodSmsLine(service, days) } : { subject: GOOD_SUBJECT, body: `${GOOD_BODY}\n\n${goodBriefLine(service, days)}` },
        );
      }
      case 'sms':
        return JSON.stringify({ line: reply.line });
      case 'json':
        return JSON.stringify({ subject: reply.subject, body: reply.body });
      case 'raw':
        return reply.content;
      default:
        return null;
    }
  }

  private storeFile(filename: string, purpose: string, content: string): FakeFile {
    const file = { id: `file-fake${++this.ids}`, filename, purpose, content, createdAt: Math.floor(Date.now() / 1000) };
    this.files.set(file.id, file);
    return file;
  }

  private next(body: ChatRequestBody): FakeReply {
    return this.script.shift() ?? this.rules.find((rule) => rule.when(body))?.reply ?? this.fallback;
  }

  private answer(res: ServerResponse, reply: FakeReply, body: ChatRequestBody, headers: Record<string, string> = {}): void {
    const model = body.model;
    switch (reply.kind) {
      case 'good': {
        const facts = factsOf(body);
        const [service, days] = [String(facts.service ?? ''), Number(facts.days_since_last_booking ?? 0)];
        const content = isSms(body)
          ? { line: goodSmsLine(service, days) }
          : { subject: GOOD_SUBJECT, body: `${GOOD_BODY}\n\n${goodBriefLine(service, days)}` };
        return sendJson(res, 200, completion(this.tokens, model, JSON.stringify(content)), headers);
      }
      case 'sms':
        return sendJson(res, 200, completion(this.tokens, model, JSON.stringify({ line: reply.line })), headers);
      case 'json':
        return sendJson(res, 200, completion(this.tokens, model, JSON.stringify({ subject: reply.subject, body: reply.body })), headers);
      case 'raw':
        return sendJson(res, 200, completion(this.tokens, model, reply.content), headers);
      case 'status': {
        const headers: Record<string, string> =
          reply.retryAfterMs === undefined ? {} : { 'retry-after-ms': String(reply.retryAfterMs) };
        const type = reply.status === 429 ? 'rate_limit_error' : 'server_error';
        return sendJson(res, reply.status, errorBody(`scripted ${reply.status}`, type), headers);
      }
      case 'delay': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          if (!res.destroyed) this.answer(res, reply.then, body, headers);
        }, reply.ms);
        this.timers.add(timer);
        return;
      }
      case 'hang':
        return;
      case 'fail':
        res.destroy();
        return;
    }
  }
}

/** The customer facts of a request: its last user message, a JSON object. */
export function factsOf(body: ChatRequestBody): Record<string, unknown> {
  const user = body.messages.filter((message) => message.role === 'user').at(-1);
  try {
    return JSON.parse(user?.content ?? '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** True for a request in the SMS prompt's schema. */
export function isSms(body: ChatRequestBody): boolean {
  return body.response_format?.json_schema?.name === SMS_SCHEMA;
}

interface RateLimit {
  rpm: number;
  capacity: number;
  tokens: number;
  at: number;
  latencyMs: number;
}

export interface FakeUsage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
}

/** The usage every completion reports by default: 120 prompt tokens of which 20 cached, 80 completion tokens. */
export const FAKE_USAGE: FakeUsage = { promptTokens: 120, cachedTokens: 20, completionTokens: 80 };

function completion(usage: FakeUsage, model: string, content: string) {
  const { promptTokens, cachedTokens, completionTokens } = usage;
  return {
    id: `chatcmpl-fake-${Date.now().toString(36)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: cachedTokens },
    },
  };
}

function fileObject(file: FakeFile) {
  const bytes = Buffer.byteLength(file.content);
  return { id: file.id, object: 'file', bytes, created_at: file.createdAt, filename: file.filename, purpose: file.purpose, status: 'processed' };
}

function batchObject(batch: FakeBatch) {
  const now = Math.floor(Date.now() / 1000);
  return {
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    errors: null,
    input_file_id: batch.inputFileId,
    completion_window: batch.completionWindow,
    status: batch.status,
    output_file_id: batch.outputFileId ?? null,
    error_file_id: batch.errorFileId ?? null,
    created_at: batch.createdAt,
    in_progress_at: batch.status === 'validating' ? null : batch.createdAt,
    expires_at: batch.createdAt + 24 * 3600,
    completed_at: batch.status === 'completed' ? now : null,
    expired_at: batch.status === 'expired' ? now : null,
    request_counts: batch.counts,
    metadata: batch.metadata,
  };
}

function errorBody(message: string, type: string) {
  return { error: { message, type, param: null, code: null } };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Jest runs a spec in its own realm, but Node's fetch rejects with errors from the outer one: an aborted
 * request's DOMException then fails the SDK's `instanceof Error`, loses its name, and a timeout is
 * reported as a plain connection error. Plain Node (production) has one realm, so this only re-creates
 * the error in the spec's realm, keeping its name; the OpenAI client is otherwise untouched.
 */
export function sameRealmFetch(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  return (input, init) =>
    fetch(input, init).catch((error: unknown) => {
      if (error instanceof Error) throw error;
      const { name, message } = (error ?? {}) as { name?: string; message?: string };
      throw Object.assign(new Error(message ?? String(error), { cause: error }), { name: name ?? 'Error' });
    });
}

/**
 * Builds something that makes an OpenAI client (an app, a client of its own) while Node's fetch is wrapped by
 * sameRealmFetch: the client keeps the fetch it finds at construction.
 */
export async function withSameRealmFetch<T>(build: () => Promise<T> | T): Promise<T> {
  const fetch = globalThis.fetch;
  globalThis.fetch = sameRealmFetch(fetch);
  try {
    return await build();
  } finally {
    globalThis.fetch = fetch;
  }
}
