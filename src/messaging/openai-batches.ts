import { Injectable, Logger } from '@nestjs/common';
import { once } from 'node:events';
import { createReadStream, createWriteStream, WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { AppConfig } from '../config/app-config';

/** OpenAI's limits on one batch's input file: 50,000 requests, 200 MB (kept a little under). */
export const BATCH_LIMITS = { maxLines: 50_000, maxBytes: 190_000_000 };

/** Results handed to the caller at a time while a batch's files are read. */
const RESULT_GROUP = 1_000;

type ChatRequest = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
type Completion = OpenAI.Chat.Completions.ChatCompletion;

/** One line of a batch: its custom id and the chat-completions body. */
export interface BatchLine {
  customId: string;
  body: ChatRequest;
}

/** What came back for one line: a completion, or why there is none. */
export type BatchResult = { customId: string; completion: Completion } | { customId: string; error: string };

/** The statuses after which a batch changes no more. */
const ENDED = new Set<OpenAI.Batches.Batch['status']>(['completed', 'expired', 'failed', 'cancelled']);

/**
 * Lines added one at a time, written to a temporary JSONL file and submitted as a batch whenever the next line
 * would pass OpenAI's limits, so a prepare of a million customers holds one line in memory, not the file. Each
 * batch line repeats the whole prompt (about 7 KB), so a file fills by size (~27,000 lines) before the count.
 */
export class BatchSubmission {
  readonly batchIds: string[] = [];
  /** Lines submitted so far, in every batch. */
  lines = 0;
  private file: { dir: string; path: string; stream: WriteStream; lines: number; bytes: number } | null = null;

  constructor(
    private readonly submitFile: (path: string, lines: number) => Promise<string>,
    private readonly submitted: (batchIds: string[]) => Promise<void>,
    private readonly limits = BATCH_LIMITS,
  ) {}

  async add(line: BatchLine): Promise<void> {
    const data = `${JSON.stringify({ custom_id: line.customId, method: 'POST', url: '/v1/chat/completions', body: line.body })}\n`;
    const bytes = Buffer.byteLength(data);
    if (this.file && (this.file.lines >= this.limits.maxLines || this.file.bytes + bytes > this.limits.maxBytes)) await this.flush();
    const file = this.file ?? (this.file = await openFile());
    file.lines++;
    file.bytes += bytes;
    if (!file.stream.write(data)) await once(file.stream, 'drain');
  }

  /** Submits the last file; the batch ids, in order. */
  async finish(): Promise<string[]> {
    await this.flush();
    return this.batchIds;
  }

  /** Drops a file not submitted (the prepare stopped). */
  async discard(): Promise<void> {
    const file = this.file;
    this.file = null;
    if (!file) return;
    file.stream.destroy();
    await rm(file.dir, { recursive: true, force: true });
  }

  private async flush(): Promise<void> {
    const file = this.file;
    if (!file) return;
    this.file = null;
    try {
      file.stream.end();
      await once(file.stream, 'finish');
      this.batchIds.push(await this.submitFile(file.path, file.lines));
      this.lines += file.lines;
    } finally {
      await rm(file.dir, { recursive: true, force: true });
    }
    await this.submitted([...this.batchIds]);
  }
}

async function openFile() {
  const dir = await mkdtemp(join(tmpdir(), 'smartengage-batch-'));
  const path = join(dir, 'prepared-drafts.jsonl');
  return { dir, path, stream: createWriteStream(path, { mode: 0o600 }), lines: 0, bytes: 0 };
}

/**
 * The Batch API for chat completions: JSONL uploaded as a file with purpose `batch`, one batch per file within
 * OpenAI's limits, with the 24 h window, polled every OPENAI_BATCH_POLL_SECONDS; results from `output_file_id`,
 * failures from `error_file_id`, read as streams. A line neither file answers (an expired or failed batch) is
 * missing from the results: the caller knows what it sent.
 */
@Injectable()
export class OpenAiBatches {
  private readonly logger = new Logger(OpenAiBatches.name);
  private readonly client: OpenAI | null;
  private readonly pollMs: number;

  constructor(config: AppConfig) {
    const { apiKey, baseUrl, timeoutSeconds, maxRetries, batch } = config.openai;
    this.pollMs = batch.pollSeconds * 1000;
    this.client = apiKey ? new OpenAI({ apiKey, baseURL: baseUrl, timeout: timeoutSeconds * 1000, maxRetries }) : null;
  }

  /** A submission the caller adds lines to; `submitted` hears every batch id list as a batch is created. */
  open(metadata: Record<string, string>, submitted: (batchIds: string[]) => Promise<void>, limits = BATCH_LIMITS): BatchSubmission {
    const client = this.required();
    return new BatchSubmission(
      async (path, lines) => {
        const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
        const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata });
        this.logger.log({ msg: `Batch ${batch.id} submitted: ${lines} requests`, batchId: batch.id, requests: lines });
        return batch.id;
      },
      submitted,
      limits,
    );
  }

  /**
   * Waits for the batch to end (or `signal` to stop the wait), then reads its output and error files as streams,
   * handing the results over a thousand at a time. The batch's final status.
   */
  async collect(batchId: string, onResults: (results: BatchResult[]) => Promise<void>, signal?: AbortSignal): Promise<string> {
    const client = this.required();
    let batch = await client.batches.retrieve(batchId);
    while (!ENDED.has(batch.status)) {
      await sleep(this.pollMs, undefined, { signal });
      batch = await client.batches.retrieve(batchId);
    }
    const counts = batch.request_counts;
    this.logger.log({
      msg: `Batch ${batchId} ${batch.status}: ${counts?.completed ?? 0} completed, ${counts?.failed ?? 0} failed of ${counts?.total ?? 0}`,
      batchId,
      status: batch.status,
    });
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      const response = await client.files.content(fileId);
      if (!response.body) continue;
      let group: BatchResult[] = [];
      const lines = createInterface({ input: Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), crlfDelay: Infinity });
      for await (const raw of lines) {
        const result = parseLine(raw);
        if (result) group.push(result);
        if (group.length >= RESULT_GROUP) {
          await onResults(group);
          group = [];
        }
      }
      if (group.length > 0) await onResults(group);
    }
    return batch.status;
  }

  private required(): OpenAI {
    if (!this.client) throw new Error('OPENAI_API_KEY is not set');
    return this.client;
  }
}

interface OutputLine {
  custom_id?: string;
  response?: { status_code?: number; body?: unknown } | null;
  error?: { code?: string; message?: string } | null;
}

/** Output and error files share one line format: a response with its status, or an error. Null for a line naming nobody. */
function parseLine(raw: string): BatchResult | null {
  if (!raw.trim()) return null;
  let line: OutputLine;
  try {
    line = JSON.parse(raw) as OutputLine;
  } catch {
    return null; // a line we cannot read names no customer: they are drafted at send time
  }
  if (typeof line.custom_id !== 'string') return null;
  const { response, error } = line;
  if (response?.status_code === 200 && isCompletion(response.body)) return { customId: line.custom_id, completion: response.body };
  const why = error?.code ?? (response ? `status ${response.status_code ?? 'none'}` : 'no response');
  return { customId: line.custom_id, error: why };
}

function isCompletion(body: unknown): body is Completion {
  return typeof body === 'object' && body !== null && Array.isArray((body as { choices?: unknown }).choices);
}
