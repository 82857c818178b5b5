import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AppConfig } from '../src/config/app-config';
import { validateEnvironment } from '../src/config/environment';
import { BatchResult, OpenAiBatches } from '../src/messaging/openai-batches';
import { emailRequest, factsOf } from '../src/messaging/prompts';
import { MessageType, Tone } from '../src/messaging/message.types';
import { FakeOpenAiServer, withSameRealmFetch } from './support/fake-openai.server';

const MODEL = 'gpt-4o-mini';

function line(index: number) {
  const input = { customerName: `গ্রাহক ${index}`, serviceNameBn: 'প্লাম্বিং', daysSinceLastBooking: 21, tone: Tone.Friendly, messageType: MessageType.Reminder, hasOffer: false };
  return { customId: `customer-${index}:EMAIL:hash`, body: emailRequest(MODEL, factsOf(input)) };
}

const batchDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith('smartengage-batch-'));

/**
 * The Batch API client against a local server that speaks OpenAI's files and batches endpoints: lines go to a
 * file on disk and into a new batch whenever the next would pass a limit, and answers are read back as streams.
 */
describe('OpenAiBatches through the real OpenAI client', () => {
  const fake = new FakeOpenAiServer();
  let batches: OpenAiBatches;

  beforeAll(async () => {
    await fake.start();
    const env = { OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl, OPENAI_BATCH_POLL_SECONDS: '1' };
    batches = await withSameRealmFetch(() => new OpenAiBatches(new AppConfig(validateEnvironment(env))));
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());

  async function collectAll(ids: string[]): Promise<{ results: BatchResult[]; groups: number }> {
    const results: BatchResult[] = [];
    let groups = 0;
    for (const id of ids) await batches.collect(id, async (group) => void (groups++, results.push(...group)));
    return { results, groups };
  }

  it('starts a new batch when the next line would pass the line limit, and answers every line once', async () => {
    const heard: string[][] = [];
    const submission = batches.open({ send_day: '2026-12-08' }, async (ids) => void heard.push(ids), { maxLines: 3, maxBytes: 190_000_000 });
    for (let i = 0; i < 7; i++) await submission.add(line(i));

    const ids = await submission.finish();

    expect(ids).toHaveLength(3);
    expect(heard).toEqual([ids.slice(0, 1), ids.slice(0, 2), ids]);
    expect(submission.lines).toBe(7);
    expect([...fake.files.values()].filter((file) => file.purpose === 'batch').map((file) => file.content.trim().split('\n').length)).toEqual([3, 3, 1]);
    const { results } = await collectAll(ids);
    expect(results.map((result) => result.customId).sort()).toEqual(Array.from({ length: 7 }, (_, i) => line(i).customId).sort());
    expect(results.every((result) => 'completion' in result)).toBe(true);
    expect(batchDirs()).toEqual([]);
  });

  it('starts a new batch by size: each line carries the whole prompt, about 7 KB', async () => {
    const bytes = Buffer.byteLength(JSON.stringify({ custom_id: line(0).customId, method: 'POST', url: '/v1/chat/completions', body: line(0).body })) + 1;
    const submission = batches.open({}, async () => undefined, { maxLines: 50_000, maxBytes: bytes * 2 + 10 });
    for (let i = 0; i < 5; i++) await submission.add(line(i));

    const ids = await submission.finish();

    expect(bytes).toBeGreaterThan(5_000);
    expect(ids).toHaveLength(3);
    const { results } = await collectAll(ids);
    expect(results).toHaveLength(5);
  });

  it('hands a large batch back a thousand answers at a time, failures from the error file included', async () => {
    fake.batchesBehave({ failLine: (customId) => customId.startsWith('customer-7:') });
    const submission = batches.open({}, async () => undefined);
    for (let i = 0; i < 2_500; i++) await submission.add(line(i));
    const ids = await submission.finish();
    expect(ids).toHaveLength(1);

    const { results, groups } = await collectAll(ids);

    expect(results).toHaveLength(2_500);
    expect(groups).toBe(4); // 1,000 + 1,000 + 499 answers, then the error file's one failure
    expect(results.filter((result) => 'error' in result).map((result) => result.customId)).toEqual(['customer-7:EMAIL:hash']);
  });

  it('leaves no file behind when a submission is dropped before it is submitted', async () => {
    const submission = batches.open({}, async () => undefined);
    await submission.add(line(0));
    expect(batchDirs()).toHaveLength(1);

    await submission.discard();

    expect(batchDirs()).toEqual([]);
    expect(fake.files.size).toBe(0);
  });
});
