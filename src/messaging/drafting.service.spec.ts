import { mock } from 'jest-mock-extended';
import { Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { validateEnvironment } from '../config/environment';
import { SafetyFilterService } from '../safety/safety-filter.service';
import { StoredDraft } from './ai-message.repository';
import { DraftingService, SAFETY_REJECTED } from './drafting.service';
import { MessageComposer } from './message-composer';
import { MessageContext } from './message-content';
import { GeneratorKind, MessageType, Tone } from './message.types';
import { LlmFailure, LlmGenerationError, OpenAiProseGenerator } from './openai-prose.generator';
import { SmsComposer, SMS_OPT_OUT_HINT } from './sms-composer';
import { TemplateProseGenerator } from './template-prose.generator';

const CONTEXT: MessageContext = {
  customerName: 'navid',
  serviceNameBn: 'প্লাম্বিং',
  serviceEmoji: '🔧',
  daysSinceLastBooking: 21,
  tone: Tone.Friendly,
  messageType: MessageType.Reminder,
  offer: null,
  ttlHours: 48,
  bookingUrl: 'https://app.sheba.xyz/book?token=abc',
  shortBookingUrl: 'https://app.sheba.xyz/book',
  unsubscribeUrl: 'http://localhost:8000/unsubscribe/xyz',
};

const LLM_PROSE = { subject: 'আপনার প্লাম্বিং সার্ভিসের সময় হয়েছে', body: 'শেষবার ২১ দিন আগে প্লাম্বিং সার্ভিস নিয়েছিলেন।\n\nআবার বুক করুন।' };

function newTestService() {
  const llm = mock<OpenAiProseGenerator>({ enabled: true });
  const config = new AppConfig(validateEnvironment({}));
  const sut = new DraftingService(llm, new TemplateProseGenerator(), new MessageComposer(), new SmsComposer(), new SafetyFilterService(), config);
  return { sut, mocks: { llm } };
}

describe(DraftingService.name, () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('writes with the LLM and keeps its prose, model, prompt version and usage', async () => {
    const { sut, mocks } = newTestService();
    const usage = { input: 100, cachedInput: 20, output: 80 };
    mocks.llm.write.mockResolvedValue({ prose: LLM_PROSE, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc', usage });

    const draft = await sut.draft(CONTEXT, { notAfter: 123 });

    expect(mocks.llm.write).toHaveBeenCalledWith(expect.objectContaining({ serviceNameBn: 'প্লাম্বিং' }), { notAfter: 123 });
    expect(draft).toMatchObject({ prose: LLM_PROSE, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc', usage, fallbackReason: null });
    expect(draft.message.subject).toContain(LLM_PROSE.subject);
  });

  it("keeps the LLM's prose with the generic greeting when the filter objects only to the customer's name", async () => {
    const { sut, mocks } = newTestService();
    mocks.llm.write.mockResolvedValue({ prose: LLM_PROSE, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc' });

    const draft = await sut.draft({ ...CONTEXT, customerName: 'shithead' });

    expect(draft).toMatchObject({ generator: GeneratorKind.OpenAi, prose: LLM_PROSE, fallbackReason: null });
    expect(draft.message.text).not.toMatch(/shit/i);
    expect(draft.message.text).toContain('গ্রাহক');
  });

  it('still refuses LLM prose that repeats a profane name in its body', async () => {
    const { sut, mocks } = newTestService();
    const prose = { ...LLM_PROSE, body: `shithead, ${LLM_PROSE.body}` };
    mocks.llm.write.mockResolvedValue({ prose, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc' });

    const draft = await sut.draft({ ...CONTEXT, customerName: 'shithead' });

    expect(draft).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: SAFETY_REJECTED });
    expect(draft.message.text).not.toMatch(/shit/i);
  });

  it('composes a stored draft again without asking the LLM', async () => {
    const { sut, mocks } = newTestService();
    const stored: StoredDraft = {
      prose: LLM_PROSE,
      generator: GeneratorKind.OpenAi,
      fallbackReason: null,
      safetyViolations: null,
      model: 'gpt-4o-mini',
      promptVersion: 'abc',
      usage: { input: 100, cachedInput: 20, output: 80 },
      costUsd: 0.0000645,
    };

    const draft = await sut.draft(CONTEXT, { stored });

    expect(mocks.llm.write).not.toHaveBeenCalled();
    expect(draft).toMatchObject({ prose: LLM_PROSE, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', costUsd: 0.0000645 });
    expect(draft.message.text).toContain('আবার বুক করুন।');
  });

  it('falls back to the template, without asking the LLM, when a stored draft no longer passes the filter', async () => {
    const { sut, mocks } = newTestService();
    const stored: StoredDraft = {
      prose: { subject: LLM_PROSE.subject, body: 'আজই ৫০% ছাড়!' },
      generator: GeneratorKind.OpenAi,
      fallbackReason: null,
      safetyViolations: null,
      model: 'gpt-4o-mini',
      promptVersion: 'abc',
      usage: null,
      costUsd: null,
    };

    const draft = await sut.draft(CONTEXT, { stored });

    expect(mocks.llm.write).not.toHaveBeenCalled();
    expect(draft).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: SAFETY_REJECTED });
  });

  it('gives the template, with the reason, when the budget has no turn', async () => {
    const { sut, mocks } = newTestService();
    mocks.llm.write.mockRejectedValue(new LlmGenerationError(LlmFailure.Budget, 'no turn before the window closes'));

    expect(await sut.draft(CONTEXT)).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: 'llm_budget' });
  });

  it.each([
    ['another service', { subject: 'আপনার ইলেকট্রিক সার্ভিসের সময় হয়েছে', body: 'শেষবার ২১ দিন আগে সার্ভিস নিয়েছিলেন।\n\nআবার বুক করুন।' }, 'brief_service'],
    ['no days', { subject: LLM_PROSE.subject, body: 'অনেকদিন আগে প্লাম্বিং সার্ভিস নিয়েছিলেন।\n\nআবার বুক করুন।' }, 'brief_days'],
    ['English', { subject: 'প্লাম্বিং time', body: 'Your প্লাম্বিং was ২১ days ago, book again.' }, 'brief_bengali_share'],
  ])('refuses LLM prose off brief (%s) and sends the template with llm_off_brief and what it missed', async (_, prose, rule) => {
    const { sut, mocks } = newTestService();
    mocks.llm.write.mockResolvedValue({ prose, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'abc' });

    const draft = await sut.draft(CONTEXT);

    expect(draft).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: 'llm_off_brief' });
    expect(draft.violations).toEqual([expect.objectContaining({ rule })]);
    expect(draft.message.text).toContain('প্রিয় navid,');
  });

  it('checks safety before the brief: unsafe prose that is also off brief is safety_rejected', () => {
    const { sut } = newTestService();
    const result = { prose: { subject: 'free offer today', body: 'Get 90% off now!' }, generator: GeneratorKind.OpenAi };

    expect(sut.acceptLlm(result, CONTEXT)).toMatchObject({ fallbackReason: SAFETY_REJECTED });
  });

  describe('draftSms', () => {
    const SMS_CONTEXT: MessageContext = { ...CONTEXT, offer: { promoCode: 'VIP20', discountPercent: 20 }, bookingUrl: 'http://localhost:8000/r/AbCdEfGhIjKlMnOpQrStUv' };
    const LINE = '২১ দিন পর প্লাম্বিং আবার বুক করুন।';
    const sms = (line: string) => ({ prose: { subject: '', body: line }, generator: GeneratorKind.OpenAi, model: 'gpt-4o-mini', promptVersion: 'sms1' });

    it("sends the LLM's line with the offer, the link and the opt-out hint, asked to fit the room they leave", async () => {
      const { sut, mocks } = newTestService();
      mocks.llm.writeSms.mockResolvedValue(sms(LINE));

      const draft = await sut.draftSms(SMS_CONTEXT, 2, { notAfter: 5 });

      const tail = ` ২০% ছাড়, কোড VIP20: ${SMS_CONTEXT.bookingUrl}\n${SMS_OPT_OUT_HINT}`;
      expect(mocks.llm.writeSms).toHaveBeenCalledWith(expect.objectContaining({ hasOffer: true }), 134 - tail.length, { notAfter: 5, stored: undefined });
      expect(draft).toMatchObject({ generator: GeneratorKind.OpenAi, promptVersion: 'sms1', fallbackReason: null, smsSegments: 2 });
      expect(draft.message.text).toBe(`${LINE}${tail}`);
    });

    it('falls back to the template, with llm_off_brief, when the line takes more parts than allowed', async () => {
      const { sut, mocks } = newTestService();
      mocks.llm.writeSms.mockResolvedValue(sms(`${LINE} ${'নিয়মিত যত্নে আপনার ঘর থাকে সুন্দর ও নিরাপদ। '.repeat(2)}`));

      const draft = await sut.draftSms(SMS_CONTEXT, 2);

      expect(draft).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: 'llm_off_brief', violations: [expect.objectContaining({ rule: 'brief_sms_parts' })] });
      expect(draft.smsSegments).toBeLessThanOrEqual(2);
    });

    it('composes a stored line again without asking the LLM', async () => {
      const { sut, mocks } = newTestService();
      const stored: StoredDraft = { ...sms(LINE), fallbackReason: null, safetyViolations: null, model: 'gpt-4o-mini', promptVersion: 'sms1', usage: null, costUsd: null };

      const draft = await sut.draftSms(SMS_CONTEXT, 2, { stored });

      expect(mocks.llm.writeSms).not.toHaveBeenCalled();
      expect(draft).toMatchObject({ generator: GeneratorKind.OpenAi, promptVersion: 'sms1' });
      expect(draft.message.text.startsWith(LINE)).toBe(true);
    });

    it('keeps a stored fallback reason and writes the template again, without asking the LLM', async () => {
      const { sut, mocks } = newTestService();
      const stored: StoredDraft = { prose: { subject: '', body: 'x' }, generator: GeneratorKind.Template, fallbackReason: 'llm_timeout', safetyViolations: null, model: null, promptVersion: null, usage: null, costUsd: null };

      expect(await sut.draftSms(SMS_CONTEXT, 2, { stored })).toMatchObject({ generator: GeneratorKind.Template, fallbackReason: 'llm_timeout' });
      expect(mocks.llm.writeSms).not.toHaveBeenCalled();
    });

    it('does not ask the LLM when one part leaves no room for a line', async () => {
      const { sut, mocks } = newTestService();

      // Nor does a template fit in one part with this link: the message is refused, as without an LLM.
      await expect(sut.draftSms({ ...SMS_CONTEXT, offer: null }, 1)).rejects.toThrow('length');
      expect(mocks.llm.writeSms).not.toHaveBeenCalled();
    });
  });
});
