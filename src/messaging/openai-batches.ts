import { Injectable, Logger } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { toFile } from 'openai';
import { AppConfig } from '../config/app-config';

/** OpenAI's limit on requests in one batch. */
export const BATCH_MAX_REQUESTS = 50_000;

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
 * The Batch API for chat completions: JSONL uploaded as a file with purpose `batch`, one batch per up to 50,000
 * lines with the 24 h window, polled every OPENAI_BATCH_POLL_SECONDS; results from `output_file_id`, failures
 * from `error_file_id`. A line that neither file answers (an expired or failed batch) is reported as an error.
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

  /** Uploads the lines and starts one batch per BATCH_MAX_REQUESTS of them; the batch ids, in order. */
  async submit(lines: BatchLine[], metadata: Record<string, string> = {}): Promise<string[]> {
    const client = this.required();
    const ids: string[] = [];
    for (let start = 0; start < lines.length; start += BATCH_MAX_REQUESTS) {
      const chunk = lines.slice(start, start + BATCH_MAX_REQUESTS);
      const jsonl = chunk
        .map((line) => JSON.stringify({ custom_id: line.customId, method: 'POST', url: '/v1/chat/completions', body: line.body }))
        .join('\n');
      const file = await client.files.create({ file: await toFile(Buffer.from(`${jsonl}\n`), 'prepared-drafts.jsonl'), purpose: 'batch' });
      const batch = await client.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata,
      });
      this.logger.log({ msg: `Batch ${batch.id} submitted: ${chunk.length} requests`, batchId: batch.id, requests: chunk.length });
      ids.push(batch.id);
    }
    return ids;
  }

  /**
   * Waits for the batch to end (or `signal` to stop the wait), then reads its output and error files. Lines the
   * files do not answer are missing from the result: the caller knows which it sent.
   */
  async collect(batchId: string, signal?: AbortSignal): Promise<{ status: string; results: BatchResult[] }> {
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
    const results: BatchResult[] = [];
    if (batch.output_file_id) results.push(...parseLines(await (await client.files.content(batch.output_file_id)).text()));
    if (batch.error_file_id) results.push(...parseLines(await (await client.files.content(batch.error_file_id)).text()));
    return { status: batch.status, results };
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

/** Output and error files share one line format: a response with its status, or an error. */
function parseLines(text: string): BatchResult[] {
  const results: BatchResult[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let line: OutputLine;
    try {
      line = JSON.parse(raw) as OutputLine;
    } catch {
      continue; // a line we cannot read names no customer: they are drafted at send time
    }
    if (typeof line.custom_id !== 'string') continue;
    const { response, error } = line;
    if (response?.status_code === 200 && isCompletion(response.body)) {
      results.push({ customId: line.custom_id, completion: response.body });
    } else {
      const why = error?.code ?? (response ? `status ${response.status_code ?? 'none'}` : 'no response');
      results.push({ customId: line.custom_id, error: why });
    }
  }
  return results;
}

function isCompletion(body: unknown): body is Completion {
  return typeof body === 'object' && body !== null && Array.isArray((body as { choices?: unknown }).choices);
}
