import { main, PromptReport, PROFILES } from '../scripts/eval-prompts';
import { MessageType, Tone } from '../src/messaging/message.types';
import { PROMPT_VERSION, SMS_PROMPT_VERSION } from '../src/messaging/prompts';
import { factsOf, FAKE_USAGE, FakeOpenAiServer, GOOD_BODY, GOOD_SUBJECT, isSms } from './support/fake-openai.server';

/** gpt-4o-mini's prices, the OPENAI_PRICE_* defaults. */
const PRICE = { input: 0.15, cachedInput: 0.075, output: 0.6 };

/**
 * npm run eval:prompts against the local fake: the figures it prints follow what the fake answered, through the
 * generator and DraftingService.acceptLlm as a send uses them.
 */
describe('npm run eval:prompts (against the fake)', () => {
  const fake = new FakeOpenAiServer();
  const env = () => ({ OPENAI_API_KEY: 'test-key', OPENAI_BASE_URL: fake.baseUrl });

  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());

  async function run(argv: string[] = []): Promise<{ lines: string[]; reports: Record<string, PromptReport> }> {
    const lines: string[] = [];
    await main(argv, env(), (line: string) => lines.push(line));
    const last = JSON.parse(lines.at(-1)!) as { model: string; prompts: PromptReport[] };
    return { lines, reports: Object.fromEntries(last.prompts.map((report) => [report.prompt, report])) };
  }

  it('prints, per prompt and version, the pass rates the answers earn, with tokens and cost; the last line is JSON', async () => {
    // Email answers for premium customers miss the brief; SMS answers for customers with an offer invent a discount.
    fake.answerWhen((body) => !isSms(body) && factsOf(body).tone === Tone.Premium, { kind: 'json', subject: GOOD_SUBJECT, body: GOOD_BODY });
    fake.answerWhen((body) => isSms(body) && factsOf(body).has_offer === true, { kind: 'sms', line: '৫০% ছাড়ে আবার বুক করুন, সময় এখনই।' });

    const { lines, reports } = await run();

    const n = PROFILES.length;
    const premium = PROFILES.filter((profile) => profile.tone === Tone.Premium).length;
    const withOffer = PROFILES.filter((profile) => profile.offer).length;
    expect(fake.requests).toHaveLength(2 * n);
    expect(reports.email).toMatchObject({ version: PROMPT_VERSION, asked: n, answered: n, errors: 0, brief_pass_rate: round((n - premium) / n) });
    // An invented discount fails the safety filter; that line also misses the service and the days.
    expect(reports.sms).toMatchObject({
      version: SMS_PROMPT_VERSION,
      asked: n,
      brief_pass_rate: round((n - withOffer) / n),
      safety_pass_rate: round((n - withOffer) / n),
      accepted_rate: round((n - withOffer) / n),
      refused: { safety_rejected: withOffer },
    });
    expect(reports.sms.sms_parts!.max).toBeLessThanOrEqual(2);
    expect(reports.sms.bengali_share.min).toBeGreaterThan(0.9);
    for (const report of Object.values(reports)) {
      const { promptTokens, cachedTokens, completionTokens } = FAKE_USAGE;
      expect(report.tokens).toEqual({ input: n * (promptTokens - cachedTokens), cached_input: n * cachedTokens, output: n * completionTokens });
      const cost = (n * ((promptTokens - cachedTokens) * PRICE.input + cachedTokens * PRICE.cachedInput + completionTokens * PRICE.output)) / 1e6;
      expect(report.cost_usd).toBeCloseTo(cost, 8);
    }
    expect(lines[0]).toMatch(new RegExp(`^email prompt ${PROMPT_VERSION} on gpt-4o-mini: ${n} asked`));
    expect(lines).toContain(`  brief pass ${pct((n - premium) / n)}, safety pass ${pct(reports.email.safety_pass_rate)}, used as written ${pct(reports.email.accepted_rate)}`);
  });

  it('passes prose whose only fault is the name in the greeting: the generic greeting replaces it', async () => {
    const { reports } = await run(['--only', 'email']);

    expect(Object.keys(reports)).toEqual(['email']);
    expect(reports.email.brief_pass_rate).toBe(1);
    // Profanity and "free" in two of the hostile names would reach the greeting, which the filter checks: the
    // prose (which does not repeat them) goes out with the generic greeting instead of being paid for and dropped.
    expect(reports.email.safety_pass_rate).toBe(1);
    expect(reports.email.refused).toEqual({});
  });

  it('reports errors apart from the pass rates, by reason', async () => {
    fake.answerWhen((body) => factsOf(body).message_type === MessageType.Winback.toLowerCase(), { kind: 'raw', content: 'not json' });

    const { reports } = await run(['--only', 'sms', '--repeat', '2']);

    const winback = PROFILES.filter((profile) => profile.type === MessageType.Winback).length;
    expect(reports.sms).toMatchObject({
      asked: 2 * PROFILES.length,
      answered: 2 * (PROFILES.length - winback),
      errors: 2 * winback,
      brief_pass_rate: 1,
      refused: { llm_malformed_output: 2 * winback },
    });
  });

  it('does not ask for an SMS line where a send would not: too little room after a long link and an offer', async () => {
    const lines: string[] = [];
    const longBase = `https://${'reminders.'.repeat(2)}shoktiai.example`;
    await main(['--only', 'sms'], { ...env(), PUBLIC_BASE_URL: longBase }, (line: string) => lines.push(line));

    const [report] = (JSON.parse(lines.at(-1)!) as { prompts: PromptReport[] }).prompts;
    const withOffer = PROFILES.filter((profile) => profile.offer).length;
    expect(report).toMatchObject({ errors: withOffer, refused: { sms_no_room: withOffer }, answered: PROFILES.length - withOffer });
    expect(fake.requests).toHaveLength(PROFILES.length - withOffer);
  });

  it('answers a bad option with a message naming it', async () => {
    await expect(run(['--repeat', '0'])).rejects.toThrow('--repeat');
    await expect(main([], {}, () => undefined)).rejects.toThrow('OPENAI_API_KEY');
  });
});

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}
