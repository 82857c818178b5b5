import { MessageComposer } from './message-composer';
import { MessageContext, Prose } from './message-content';
import { MessageType, Tone } from './message.types';

const BOOKING_URL = 'https://app.example.test/book?token=abc.def&promo=VIP20&service=plumbing';
const SHORT_BOOKING_URL = 'https://app.example.test/book';
const UNSUBSCRIBE_URL = 'https://app.example.test/unsubscribe?token=xyz&c=1';

const prose: Prose = {
  subject: 'আপনার প্লাম্বিং সার্ভিসের সময় হয়েছে',
  body: 'প্রথম অনুচ্ছেদ।\n\nদ্বিতীয় অনুচ্ছেদ,\nএকই অনুচ্ছেদের পরের লাইন।\n\nশেষ অনুচ্ছেদ।',
};

function context(overrides: Partial<MessageContext> = {}): MessageContext {
  return {
    customerName: 'navid',
    serviceNameBn: 'প্লাম্বিং',
    serviceEmoji: '🔧',
    daysSinceLastBooking: 21,
    tone: Tone.Premium,
    messageType: MessageType.Reminder,
    offer: { promoCode: 'VIP20', discountPercent: 20 },
    ttlHours: 72,
    bookingUrl: BOOKING_URL,
    shortBookingUrl: SHORT_BOOKING_URL,
    unsubscribeUrl: UNSUBSCRIBE_URL,
    ...overrides,
  };
}

/** The text of the hidden preview span, padding removed. */
function preheader(html: string): string | undefined {
  const match = /<body[^>]*>\n<span style="([^"]*)">([^<]*)<\/span>/.exec(html);
  if (!match) return undefined;
  expect(match[1]).toMatch(/display:none;.*max-height:0;.*opacity:0;/);
  return match[2].replace(/(&zwnj;|&nbsp;)+$/, '');
}

function hrefs(html: string): string[] {
  return [...html.matchAll(/<a\s[^>]*href="([^"]*)"/g)].map((match) => match[1]);
}

describe(MessageComposer.name, () => {
  let sut: MessageComposer;

  beforeEach(() => {
    sut = new MessageComposer();
  });

  describe('subject', () => {
    it('adds the discount in Bengali digits and the service emoji when there is an offer', () => {
      const { subject } = sut.compose(prose, context());

      expect(subject).toBe(`${prose.subject} — ২০% ছাড়! 🔧`);
    });

    it('adds only the emoji when there is no offer', () => {
      const { subject } = sut.compose(prose, context({ offer: null }));

      expect(subject).toBe(`${prose.subject} 🔧`);
      expect(subject).not.toMatch(/%|ছাড়/);
    });
  });

  describe('text', () => {
    it('lays out greeting, prose, offer, call to action, link, sign-off and footer in order', () => {
      const { text } = sut.compose(prose, context());

      const order = [
        'প্রিয় navid,\n\nপ্রথম অনুচ্ছেদ।',
        'শেষ অনুচ্ছেদ।',
        '🎁 আপনার জন্য বিশেষ অফার: ২০% ছাড়!\nপ্রোমো কোড: VIP20',
        `[এখনই বুক করুন - ৭২ ঘণ্টার অফার]\n${BOOKING_URL}\n`,
        'আপনার সেবায় সর্বদা,\nShoktiAI Team',
        UNSUBSCRIBE_URL,
      ].map((fragment) => text.indexOf(fragment));
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(text.startsWith('প্রিয় navid,\n\n')).toBe(true);
    });

    it('keeps the booking URL exact on its own line', () => {
      const { text } = sut.compose(prose, context());

      expect(text.split('\n')).toContain(BOOKING_URL);
    });

    it('uses the welcoming voice for a first-time customer', () => {
      const { text } = sut.compose(
        prose,
        context({ tone: Tone.Welcoming, offer: { promoCode: 'WELCOME10', discountPercent: 10 }, ttlHours: 48 }),
      );

      expect(text).toContain('🎉 নতুন গ্রাহক হিসেবে');
      expect(text).toContain('১০% ছাড়!');
      expect(text).toContain('প্রোমো কোড: WELCOME10');
      expect(text).toContain('ধন্যবাদ ও শুভকামনা,\nShoktiAI Team');
      expect(text).not.toContain('৪৮ ঘণ্টা');
    });

    it('uses the friendly voice for a regular customer without an offer', () => {
      const { text } = sut.compose(prose, context({ tone: Tone.Friendly, offer: null }));

      expect(text).toContain('ধন্যবাদ,\nShoktiAI Team');
      expect(text).not.toMatch(/প্রোমো কোড|%|🎁|🎉/);
      expect(text).toContain(`]\n${BOOKING_URL}`);
    });

    it('drops the offer validity from the premium call to action when there is no offer', () => {
      const { text } = sut.compose(prose, context({ offer: null }));

      expect(text).toContain('[এখনই বুক করুন]');
      expect(text).not.toContain('ঘণ্টা');
    });

    it('shows multi-digit numbers in Bengali digits', () => {
      const { subject, text } = sut.compose(
        prose,
        context({ offer: { promoCode: 'BIG15', discountPercent: 15 }, ttlHours: 120 }),
      );

      expect(subject).toContain('১৫%');
      expect(text).toContain('১২০ ঘণ্টার অফার');
      expect(text).toContain('প্রোমো কোড: BIG15');
    });
  });

  describe('html', () => {
    it('is a self-contained Bengali UTF-8 document', () => {
      const { html } = sut.compose(prose, context());

      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).toContain('<html lang="bn">');
      expect(html).toContain('<meta charset="utf-8">');
      expect(html).not.toMatch(/<link|<script|<img|src=|url\(/i);
    });

    it('escapes a hostile customer name', () => {
      const { html, text } = sut.compose(prose, context({ customerName: `<script>alert(1)</script> "&'` }));

      expect(html).not.toContain('<script>');
      expect(html).toContain('প্রিয় &lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;,');
      expect(text).toContain(`প্রিয় <script>alert(1)</script> "&',`);
    });

    it('escapes prose written by a generator', () => {
      const { html } = sut.compose({ subject: 'বিষয় <b>', body: 'অনুচ্ছেদ <img src=x onerror=alert(1)>' }, context());

      expect(html).toContain('অনুচ্ছেদ &lt;img src=x onerror=alert(1)&gt;');
      expect(html).toContain('<title>বিষয় &lt;b&gt;');
      expect(html).not.toContain('<img');
    });

    it('links the call to action to the booking URL, the fallback line to the short URL and the footer to the unsubscribe URL', () => {
      const { html } = sut.compose(prose, context());

      expect(hrefs(html)).toEqual([
        BOOKING_URL.replace(/&/g, '&amp;'),
        SHORT_BOOKING_URL,
        UNSUBSCRIBE_URL.replace(/&/g, '&amp;'),
      ]);
      expect(html).toMatch(/<a [^>]*>এখনই বুক করুন - ৭২ ঘণ্টার অফার<\/a>/);
    });

    it('shows the short URL, not the signed booking URL, as the copyable fallback text', () => {
      const { html } = sut.compose(prose, context());

      expect(html).toContain(`বোতামটি কাজ না করলে এই লিংকটি ব্রাউজারে খুলুন:<br><a href="${SHORT_BOOKING_URL}"`);
      expect(html).toContain(`>${SHORT_BOOKING_URL}</a>`);
      expect(html.split('token=abc')).toHaveLength(2);
    });

    it('opens the body with a hidden preheader that summarises the offer', () => {
      const { html } = sut.compose(prose, context());

      expect(preheader(html)).toBe('আপনার পরবর্তী প্লাম্বিং বুকিংয়ে ২০% ছাড়, প্রোমো কোড VIP20');
    });

    it('has a preheader without numbers when there is no offer', () => {
      const { html, text } = sut.compose(prose, context({ offer: null }));

      expect(preheader(html)).toBe('আপনার পরবর্তী প্লাম্বিং বুকিং মাত্র এক ক্লিক দূরে');
      expect(text).not.toContain('এক ক্লিক দূরে');
    });

    it('escapes the service name in the preheader', () => {
      const { html } = sut.compose(prose, context({ serviceNameBn: '<b>প্লাম্বিং</b>' }));

      expect(preheader(html)).toContain('আপনার পরবর্তী &lt;b&gt;প্লাম্বিং&lt;/b&gt; বুকিংয়ে');
    });

    it('renders one paragraph per prose block and keeps line breaks inside a block', () => {
      const { html } = sut.compose(prose, context());

      expect(html).toMatch(/<p[^>]*>প্রথম অনুচ্ছেদ।<\/p>/);
      expect(html).toMatch(/<p[^>]*>দ্বিতীয় অনুচ্ছেদ,<br>একই অনুচ্ছেদের পরের লাইন।<\/p>/);
      expect(html).toMatch(/<p[^>]*>শেষ অনুচ্ছেদ।<\/p>/);
    });

    it('shows the offer with a Bengali-digit discount and the Latin promo code', () => {
      const { html } = sut.compose(prose, context());

      expect(html).toContain('🎁 আপনার জন্য বিশেষ অফার: ২০% ছাড়!');
      expect(html).toMatch(/প্রোমো কোড: <strong[^>]*>VIP20<\/strong>/);
    });

    it('has no offer block without an offer', () => {
      const { html } = sut.compose(prose, context({ offer: null }));

      expect(html).not.toMatch(/প্রোমো কোড|%/);
    });
  });
});
