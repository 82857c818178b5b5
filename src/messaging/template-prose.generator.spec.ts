import { ProseInput } from './message-content';
import { GeneratorKind, MessageType, Tone } from './message.types';
import { TemplateProseGenerator } from './template-prose.generator';

const BENGALI_LETTER = /(?=\p{Script=Bengali})\p{L}/gu;
const LETTER = /\p{L}/gu;

function input(overrides: Partial<ProseInput> = {}): ProseInput {
  return {
    customerName: 'kamal',
    serviceNameBn: 'হোম ক্লিনিং',
    daysSinceLastBooking: 22,
    tone: Tone.Friendly,
    messageType: MessageType.Reminder,
    hasOffer: false,
    ...overrides,
  };
}

const combos = Object.values(MessageType).flatMap((messageType) =>
  Object.values(Tone).flatMap((tone) => [false, true].map((hasOffer) => ({ messageType, tone, hasOffer }))),
);

describe(TemplateProseGenerator.name, () => {
  let sut: TemplateProseGenerator;

  beforeEach(() => {
    sut = new TemplateProseGenerator();
  });

  it('reports itself as the template generator', () => {
    const result = sut.write(input());

    expect(result.generator).toBe(GeneratorKind.Template);
    expect(sut.kind).toBe(GeneratorKind.Template);
  });

  it('writes the days since the last booking in Bengali digits', () => {
    expect(sut.write(input({ daysSinceLastBooking: 22 })).prose.body).toContain('২২ দিন');
    expect(sut.write(input({ daysSinceLastBooking: 105 })).prose.body).toContain('১০৫ দিন');
  });

  describe.each(combos)('$messageType × $tone (offer: $hasOffer)', ({ messageType, tone, hasOffer }) => {
    const { prose } = new TemplateProseGenerator().write(
      input({ messageType, tone, hasOffer, serviceNameBn: 'প্লাম্বিং', daysSinceLastBooking: 37 }),
    );
    const all = `${prose.subject}\n${prose.body}`;

    it('names the service and the days in Bengali', () => {
      expect(prose.body).toContain('প্লাম্বিং সার্ভিস');
      expect(prose.subject).toContain('প্লাম্বিং');
      expect(prose.body).toContain('৩৭');
    });

    it('says why regular service helps', () => {
      expect(prose.body).toMatch(/নিয়মিত|নির্দিষ্ট সময় পরপর|সময়মতো/);
    });

    it('leaves greeting, links, codes, numbers and discounts to the composer', () => {
      expect(all).not.toMatch(/[0-9]/);
      expect(all).not.toMatch(/[%％]/);
      expect(all).not.toMatch(/https?:|www\.|\.com|\.xyz/i);
      expect(all).not.toMatch(/প্রোমো|কোড|ছাড়|free|ফ্রি|বিনামূল্যে/i);
      expect(all).not.toMatch(/প্রিয়/);
      expect(all).not.toContain('kamal');
    });

    it('mentions an offer only when there is one', () => {
      expect(prose.body.includes('অফার')).toBe(hasOffer);
    });

    it('is written in Bengali script', () => {
      const letters = all.match(LETTER) ?? [];
      const bengali = all.match(BENGALI_LETTER) ?? [];
      expect(bengali.length / letters.length).toBeGreaterThanOrEqual(0.95);
    });

    it('keeps a short subject without emoji', () => {
      expect(prose.subject.length).toBeLessThanOrEqual(60);
      expect(prose.subject).not.toMatch(/\p{Extended_Pictographic}/u);
      expect(prose.subject).not.toContain('\n');
    });

    it('separates paragraphs with blank lines', () => {
      expect(prose.body.split('\n\n').length).toBe(hasOffer ? 4 : 3);
    });
  });

  it.each(Object.values(MessageType))('gives each tone its own voice in %s messages', (messageType) => {
    const body = (tone: Tone) => sut.write(input({ messageType, tone })).prose.body;
    const premium = body(Tone.Premium);
    const welcoming = body(Tone.Welcoming);
    const friendly = body(Tone.Friendly);

    expect(premium).toMatch(/কৃতজ্ঞ/);
    expect(premium).toMatch(/মূল্যবান গ্রাহক/);
    expect(welcoming).toMatch(/স্বাগত/);
    expect(welcoming).toMatch(/প্রথম/);
    for (const other of [welcoming, friendly]) expect(other).not.toMatch(/কৃতজ্ঞ|মূল্যবান/);
    for (const other of [premium, friendly]) expect(other).not.toMatch(/স্বাগত|প্রথম/);
    expect(new Set([premium, welcoming, friendly]).size).toBe(3);
  });

  it('gives each message type its own wording', () => {
    const bodies = Object.values(MessageType).map((messageType) => sut.write(input({ messageType })).prose.body);

    expect(new Set(bodies).size).toBe(bodies.length);
  });

  it('does not double the word for service when the name already contains it', () => {
    const { prose } = sut.write(input({ serviceNameBn: 'এসি সার্ভিস' }));

    expect(prose.body).toContain('এসি সার্ভিস');
    expect(prose.body).not.toContain('সার্ভিস সার্ভিস');
  });
});
