import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import OpenAI from 'openai';
import { Counter } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { CustomerProfile } from '../segmentation/customer-profile';
import { Draft, DraftingService, SAFETY_REJECTED } from './drafting.service';
import { LlmMetrics } from './llm.metrics';
import { MessageContext, proseInputFrom } from './message-content';
import { Channel, GeneratorKind, MessageType, Tone } from './message.types';
import { BatchSubmission, OpenAiBatches } from './openai-batches';
import { LlmFailure, LlmGenerationError, OpenAiProseGenerator, PROMPT_VERSION } from './openai-prose.generator';
import { DraftKey, PreparedDraft, PreparedDraftRepository } from './prepared-draft.repository';
import { factsHash, PrepareOptions, PreparedDrafts } from './prepared-drafts.service';

const MODEL = 'gpt-4o-mini';
const PROSE = { subject: 'আপনার প্লাম্বিং সার্ভিসের সময় হয়েছে', body: 'শেষবার ২২ দিন আগে প্লাম্বিং নিয়েছিলেন।' };
const USAGE = { input: 100, cachedInput: 20, output: 80 };
const SERVICE = { id: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', name: 'Plumbing', nameBn: 'প্লাম্বিং', emoji: '🔧' };
const customer = (id: string, totalBookings = 2): CustomerProfile => ({
  id,
  name: 'Kamal',
  email: `${id}@example.com`,
  phone: null,
  // Noon in Dhaka, 22 calendar days before the send day.
  lastBookingAt: new Date('2026-11-02T06:00:00Z'),
  lastBookingServiceId: SERVICE.id,
  totalBookings,
  optedOutAt: null,
});
const OPTIONS: PrepareOptions = {
  channel: Channel.Email,
  messageType: MessageType.Reminder,
  offer: null,
  sendDay: '2026-11-24',
  sendAt: new Date('2026-11-24T03:00:00Z'),
  expiresAt: new Date('2099-01-01T00:00:00Z'),
};
const CONTEXT: MessageContext = {
  customerName: 'Kamal',
  serviceNameBn: SERVICE.nameBn,
  serviceEmoji: SERVICE.emoji,
  daysSinceLastBooking: 22,
  tone: Tone.Friendly,
  messageType: MessageType.Reminder,
  offer: null,
  ttlHours: 48,
  bookingUrl: 'https://app.sheba.xyz/book?token=abc',
  shortBookingUrl: 'https://app.sheba.xyz/book',
  unsubscribeUrl: 'http://localhost:8000/unsubscribe/xyz',
};
/** The facts hash of CONTEXT, which every `customer()` has on OPTIONS' send day. */
const HASH = factsHash(MODEL, proseInputFrom(CONTEXT));
const KEY: DraftKey = { customerId: 'c1', channel: Channel.Email, serviceId: SERVICE.id, tone: Tone.Friendly, messageType: MessageType.Reminder };
const ACCEPTED: Omit<Draft, 'generationSeconds'> = {
  message: { subject: PROSE.subject, text: PROSE.body, html: '' },
  prose: PROSE,
  generator: GeneratorKind.OpenAi,
  fallbackReason: null,
  violations: null,
};

function stored(overrides: Partial<PreparedDraft> = {}): PreparedDraft {
  return {
    ...KEY,
    factsHash: factsHash(MODEL, proseInputFrom(CONTEXT)),
    prose: PROSE,
    model: MODEL,
    promptVersion: PROMPT_VERSION,
    usage: USAGE,
    costUsd: 0.0000645,
    batch: false,
    expiresAt: new Date(Date.now() + 3_600_000),
    ...overrides,
  };
}

function completion(content: string): OpenAI.Chat.Completions.ChatCompletion {
  return {
    id: 'c',
    object: 'chat.completion',
    created: 0,
    model: MODEL,
    choices: [{ index: 0, finish_reason: 'stop', logprobs: null, message: { role: 'assistant', content, refusal: null } }],
    usage: { prompt_tokens: 120, completion_tokens: 80, total_tokens: 200, prompt_tokens_details: { cached_tokens: 20 } },
  };
}

function newTestService() {
  const drafts = mock<PreparedDraftRepository>();
  drafts.freshHashes.mockResolvedValue(new Map());
  const drafting = mock<DraftingService>();
  drafting.acceptLlm.mockReturnValue({ draft: ACCEPTED });
  const llm = mock<OpenAiProseGenerator>({ model: MODEL, enabled: true });
  const batches = mock<OpenAiBatches>();
  const metrics = mock<LlmMetrics>();
  const config = new AppConfig(validateEnvironment({}));
  const outcomes = mock<Counter<string>>();
  const sut = new PreparedDrafts(drafts, drafting, llm, batches, metrics, config, outcomes);
  return { sut, mocks: { drafts, drafting, llm, batches, metrics, outcomes } };
}

describe(PreparedDrafts.name, () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  describe('use, at send time', () => {
    it('reads the draft written for these facts and accepts it again for this message, keyed for the mark to delete it', async () => {
      const { sut, mocks } = newTestService();
      mocks.drafts.find.mockResolvedValue(stored());

      const used = await sut.use(KEY, CONTEXT);

      expect(used).toEqual({ draft: { ...ACCEPTED, generationSeconds: 0 }, key: { customerId: 'c1', channel: Channel.Email, factsHash: HASH } });
      expect(mocks.outcomes.inc).toHaveBeenCalledWith({ outcome: 'used' });
      expect(mocks.drafts.find).toHaveBeenCalledWith('c1', Channel.Email);
      expect(mocks.drafting.acceptLlm).toHaveBeenCalledWith(
        { prose: PROSE, generator: GeneratorKind.OpenAi, model: MODEL, promptVersion: PROMPT_VERSION, usage: USAGE, costUsd: 0.0000645 },
        CONTEXT,
      );
    });

    it.each([
      ['the days changed (a new booking)', {}, { ...CONTEXT, daysSinceLastBooking: 3 }],
      ['the tone changed', { tone: Tone.Premium }, { ...CONTEXT, tone: Tone.Premium }],
      ['an offer came up', {}, { ...CONTEXT, offer: { promoCode: 'VIP20', discountPercent: 20 } }],
      ['the draft expired', { expiresAt: new Date(Date.now() - 1) }, CONTEXT],
      ['another model wrote it', { factsHash: factsHash('gpt-4o', proseInputFrom(CONTEXT)) }, CONTEXT],
    ])('does not use it when %s', async (_case, draft, context) => {
      const { sut, mocks } = newTestService();
      mocks.drafts.find.mockResolvedValue(stored(draft));

      expect(await sut.use({ ...KEY, tone: context.tone }, context)).toBeNull();
      expect(mocks.drafting.acceptLlm).not.toHaveBeenCalled();
      expect(mocks.outcomes.inc).toHaveBeenCalledWith({ outcome: 'stale' });
    });

    it('does not use a draft the checks refuse now', async () => {
      const { sut, mocks } = newTestService();
      mocks.drafts.find.mockResolvedValue(stored());
      mocks.drafting.acceptLlm.mockReturnValue({ fallbackReason: SAFETY_REJECTED, violations: [] });

      expect(await sut.use(KEY, CONTEXT)).toBeNull();
    });
  });

  describe('draftLive', () => {
    it('drafts each customer with the facts as of the send day and stores what acceptLlm accepts', async () => {
      const { sut, mocks } = newTestService();
      mocks.llm.write.mockResolvedValue({ prose: PROSE, generator: GeneratorKind.OpenAi, model: MODEL, promptVersion: PROMPT_VERSION, usage: USAGE });

      const tally = await sut.draftLive([{ customer: customer('c1'), service: SERVICE }], OPTIONS);

      expect(tally).toEqual({ drafted: 1, failed: 0, skipped: 0 });
      expect(mocks.llm.write).toHaveBeenCalledWith(
        { customerName: 'Kamal', serviceNameBn: 'প্লাম্বিং', daysSinceLastBooking: 22, tone: Tone.Friendly, messageType: MessageType.Reminder, hasOffer: false },
        { notAfter: OPTIONS.expiresAt.getTime() },
      );
      const [[saved]] = mocks.drafts.save.mock.calls;
      expect(saved).toEqual([
        expect.objectContaining({ ...KEY, prose: PROSE, usage: USAGE, batch: false, expiresAt: OPTIONS.expiresAt, costUsd: expect.closeTo(0.0000645, 10) }),
      ]);
      expect(saved[0].factsHash).toBe(factsHash(MODEL, proseInputFrom(CONTEXT)));
    });

    it('skips customers whose fresh draft has the same facts, and counts LLM failures and refusals as failed', async () => {
      const { sut, mocks } = newTestService();
      mocks.drafts.freshHashes.mockResolvedValue(new Map([['c1', factsHash(MODEL, proseInputFrom(CONTEXT))]]));
      mocks.llm.write
        .mockRejectedValueOnce(new LlmGenerationError(LlmFailure.Timeout, 'slow'))
        .mockResolvedValueOnce({ prose: PROSE, generator: GeneratorKind.OpenAi, model: MODEL, promptVersion: PROMPT_VERSION, usage: USAGE });
      mocks.drafting.acceptLlm.mockReturnValue({ fallbackReason: SAFETY_REJECTED, violations: [] });

      const targets = ['c1', 'c2', 'c3'].map((id) => ({ customer: customer(id), service: SERVICE }));
      expect(await sut.draftLive(targets, OPTIONS)).toEqual({ drafted: 0, failed: 2, skipped: 1 });
      expect(mocks.llm.write).toHaveBeenCalledTimes(2);
      expect(mocks.drafts.save).toHaveBeenCalledWith([]);
    });
  });

  describe('the Batch API', () => {
    it('adds one line per customer to the submission, skipping those whose fresh draft has the same facts', async () => {
      const { sut, mocks } = newTestService();
      mocks.drafts.freshHashes.mockResolvedValue(new Map([['c2', HASH]]));
      const submission = mock<BatchSubmission>();

      const targets = ['c1', 'c2', 'c3'].map((id) => ({ customer: customer(id), service: SERVICE }));
      const skipped = await sut.addToBatch(submission, targets, OPTIONS);

      expect(skipped).toBe(1);
      const lines = submission.add.mock.calls.map(([line]) => line);
      expect(lines.map((line) => line.customId)).toEqual(['c1', 'c3'].map((id) => `${id}:EMAIL:${HASH}`));
      expect(lines[0].body).toMatchObject({ model: MODEL, response_format: { type: 'json_schema' } });
    });

    it('opens a submission tagged with the send day', () => {
      const { sut, mocks } = newTestService();
      const submitted = jest.fn();
      sut.openBatch(OPTIONS, submitted);
      expect(mocks.batches.open).toHaveBeenCalledWith(expect.objectContaining({ send_day: '2026-11-24' }), submitted);
    });

    it('stores the answered lines at half price, group by group; failed, malformed and stale answers get no draft', async () => {
      const { sut, mocks } = newTestService();
      const stale = factsHash(MODEL, proseInputFrom({ ...CONTEXT, daysSinceLastBooking: 30 }));
      mocks.batches.collect.mockImplementation(async (_id, onResults) => {
        await onResults([
          { customId: `c1:EMAIL:${HASH}`, completion: completion(JSON.stringify(PROSE)) },
          { customId: `c2:EMAIL:${HASH}`, error: 'status 500' },
        ]);
        await onResults([
          { customId: `c3:EMAIL:${HASH}`, completion: completion('not json') },
          { customId: `c4:EMAIL:${stale}`, completion: completion(JSON.stringify(PROSE)) },
        ]);
        return 'expired';
      });
      const targetsOf = jest.fn(async (ids: string[]) => ids.map((id) => ({ customer: customer(id), service: SERVICE })));

      const drafted = await sut.collectBatches(['batch_1'], OPTIONS, targetsOf);

      expect(drafted).toBe(1);
      expect(targetsOf.mock.calls).toEqual([[['c1', 'c2']], [['c3', 'c4']]]);
      // Counted once each: the answers for planned customers (c1 stored, c3 unreadable); c4's facts changed.
      expect(mocks.metrics.used).toHaveBeenCalledTimes(2);
      expect(mocks.metrics.used).toHaveBeenCalledWith(MODEL, USAGE, true);
      const saved = mocks.drafts.save.mock.calls.flatMap(([drafts]) => drafts);
      expect(saved).toEqual([expect.objectContaining({ customerId: 'c1', factsHash: HASH, batch: true, usage: USAGE, costUsd: expect.closeTo(0.0000645 / 2, 10) })]);
    });
  });
});
