import { Injectable } from '@nestjs/common';
import { toBengaliDigits } from './bengali';
import { ProseInput, ProseResult } from './message-content';
import { GeneratorKind, MessageType, Tone } from './message.types';

interface TemplateVars {
  /** Service label that always ends in "সার্ভিস", e.g. "প্লাম্বিং সার্ভিস". */
  service: string;
  /** Days since the last booking, in Bengali digits. */
  days: string;
}

interface Template {
  subject: string;
  opening: string;
  /** Mentions the service and the days, and says why regular service helps. */
  reason: string;
  /** Only used when an offer is attached; the composer prints its details. */
  offerHint: string;
  encouragement: string;
}

type TemplateFn = (vars: TemplateVars) => Template;

const SERVICE_WORD = 'সার্ভিস';

/**
 * One template per message type and tone. Prose carries no link, promo code, number of percent or
 * greeting: the composer adds those, so a template can never misquote an offer.
 */
const TEMPLATES: Record<MessageType, Record<Tone, TemplateFn>> = {
  [MessageType.Reminder]: {
    [Tone.Welcoming]: ({ service, days }) => ({
      subject: `আপনার ${service} আবার নেওয়ার সময় হলো`,
      opening: `আমাদের পরিবারে আপনাকে আন্তরিক স্বাগত জানাই! আশা করি প্রথমবারের ${service} আপনার ভালো লেগেছে।`,
      reason: `আপনি প্রথমবার আমাদের ${service} নিয়েছিলেন ${days} দিন আগে। নিয়মিত সার্ভিস নিলে ছোটখাটো সমস্যা শুরুতেই ধরা পড়ে, তাই বাড়ি থাকে ঝামেলামুক্ত।`,
      offerHint: 'নতুন গ্রাহক হিসেবে আপনার জন্য একটি বিশেষ অফার অপেক্ষা করছে।',
      encouragement: 'আবার আপনার পাশে থাকতে পারলে আমরা খুশি হব, মাত্র কয়েক মিনিটেই বুকিং সেরে ফেলুন।',
    }),
    [Tone.Premium]: ({ service, days }) => ({
      subject: `মূল্যবান গ্রাহকের জন্য: ${service}ের সময় হয়েছে`,
      opening: 'বারবার আমাদের ওপর ভরসা রাখার জন্য আন্তরিক কৃতজ্ঞতা জানাই। আপনার মতো মূল্যবান গ্রাহকই আমাদের সবচেয়ে বড় শক্তি।',
      reason: `শেষবার আপনি আমাদের ${service} নিয়েছিলেন ${days} দিন আগে। সময়মতো নিয়মিত যত্ন নিলে বাড়ির সবকিছু ঠিকঠাক থাকে, আর হঠাৎ বড় মেরামতের ঝামেলাও এড়ানো যায়।`,
      offerHint: 'এবারের বুকিংয়ের জন্য আপনার নামে একটি বিশেষ অফার রাখা আছে, বিস্তারিত নিচে দেওয়া হলো।',
      encouragement: 'আপনার সুবিধামতো সময় বেছে নিন, আমাদের অভিজ্ঞ কর্মীরা সেরা মানের সেবা নিয়ে হাজির থাকবেন।',
    }),
    [Tone.Friendly]: ({ service, days }) => ({
      subject: `আবার ${service} নেওয়ার সময় এসেছে`,
      opening: 'কেমন আছেন? আশা করি দিনগুলো ভালোই কাটছে।',
      reason: `${days} দিন আগে আপনি আমাদের ${service} নিয়েছিলেন। নিয়মিত সার্ভিস নিলে ঘরের যত্ন হয় ধারাবাহিকভাবে, আর ছোট সমস্যা বড় হওয়ার সুযোগ পায় না।`,
      offerHint: 'এবার আপনার জন্য একটি বিশেষ অফারও রয়েছে।',
      encouragement: 'আজই বুক করে ফেলুন, বাকিটা আমাদের ওপর ছেড়ে দিন!',
    }),
  },
  [MessageType.Promotional]: {
    [Tone.Welcoming]: ({ service, days }) => ({
      subject: `${service} আবার নিতে আপনাকে আমন্ত্রণ`,
      opening: `আমাদের সঙ্গে আপনার পথচলা শুরু হওয়ায় আমরা আনন্দিত, আবারও স্বাগতম! আশা করি প্রথম ${service}ের অভিজ্ঞতা আপনার মনমতো হয়েছে।`,
      reason: `আপনার প্রথম বুকিংয়ের পর ${days} দিন পেরিয়ে গেছে। নিয়মিত সার্ভিস নিলে ঘর থাকে পরিপাটি ও নিরাপদ, আর শেষ মুহূর্তে ছোটাছুটি করতে হয় না।`,
      offerHint: 'নতুন গ্রাহকদের জন্য সাজানো একটি বিশেষ অফার এখন আপনার অপেক্ষায়।',
      encouragement: 'আরেকবার আমাদের সেবা নিয়ে দেখুন, আপনাকে খুশি করাই আমাদের লক্ষ্য।',
    }),
    [Tone.Premium]: ({ service, days }) => ({
      subject: `আপনার জন্য বিশেষ আয়োজন: ${service}`,
      opening: 'আমাদের নিয়মিত ও মূল্যবান গ্রাহক হিসেবে আপনার প্রতি আমরা কৃতজ্ঞ। তাই আপনার জন্য রেখেছি একটু বাড়তি যত্ন।',
      reason: `আপনার শেষ ${service} ছিল ${days} দিন আগে। নির্দিষ্ট সময় পরপর সার্ভিস নিলে ঘরবাড়ি ও যন্ত্রপাতি দীর্ঘদিন ভালো থাকে, অপ্রত্যাশিত ঝামেলাও কমে যায়।`,
      offerHint: 'কৃতজ্ঞতার ছোট্ট নিদর্শন হিসেবে আপনার জন্য একটি বিশেষ অফার অপেক্ষা করছে।',
      encouragement: 'আপনার সুবিধামতো সময়ে আমাদের দক্ষ দল সেবা দিতে প্রস্তুত।',
    }),
    [Tone.Friendly]: ({ service, days }) => ({
      subject: `${service} বুক করার এখনই ভালো সময়`,
      opening: 'আশা করি ভালো আছেন! আপনার কথা ভেবেই আজকের এই চিঠি।',
      reason: `আপনি ${days} দিন আগে আমাদের ${service} নিয়েছিলেন। সময়মতো আবার সার্ভিস নিলে ঘরের আরাম বজায় থাকে, আর ছোটখাটো ত্রুটি জমে বড় সমস্যা হয় না।`,
      offerHint: 'এই মুহূর্তে আপনার জন্য একটি বিশেষ অফার চালু আছে।',
      encouragement: 'দেরি না করে আজই একটি সময় বেছে নিন, আমরা তৈরি আছি!',
    }),
  },
  [MessageType.Winback]: {
    [Tone.Welcoming]: ({ service, days }) => ({
      subject: `আপনাকে আবার পেতে চাই: ${service}`,
      opening: 'প্রথমবার আমাদের বেছে নেওয়ার জন্য ধন্যবাদ, আমাদের পরিবারে আপনাকে স্বাগত জানাতে পেরে আমরা আনন্দিত। আশা করি সেই অভিজ্ঞতা ভালো ছিল।',
      reason: `আপনার প্রথম ${service}ের পর ${days} দিন কেটে গেছে। নিয়মিত সার্ভিস নিলে বাড়ির যত্ন থাকে ধারাবাহিক, তাই হঠাৎ বড় সমস্যায় পড়তে হয় না।`,
      offerHint: 'আপনাকে ফিরে পেতে একটি বিশেষ অফার অপেক্ষা করছে।',
      encouragement: 'আরও ভালো সেবা দিতে আমরা প্রতিনিয়ত চেষ্টা করছি, আমাদের আরেকটি সুযোগ দিন।',
    }),
    [Tone.Premium]: ({ service, days }) => ({
      subject: `আপনার অভাব অনুভব করছি: ${service}`,
      opening: 'আমাদের দীর্ঘদিনের মূল্যবান গ্রাহক হিসেবে আপনার প্রতি রইল আন্তরিক কৃতজ্ঞতা। অনেকদিন আপনার দেখা পাইনি, তাই খোঁজ নিতে লিখছি।',
      reason: `আপনি শেষবার ${days} দিন আগে আমাদের ${service} নিয়েছিলেন। নিয়মিত যত্ন না নিলে ছোট ত্রুটিও ধীরে ধীরে বড় হয়ে ওঠে, তাই এখনই একবার দেখিয়ে নেওয়া ভালো।`,
      offerHint: 'আপনার ফিরে আসাকে স্মরণীয় করতে একটি বিশেষ অফার অপেক্ষা করছে।',
      encouragement: 'আপনার আস্থার মর্যাদা রাখতে আমাদের সেরা দল প্রস্তুত, আবার আপনার সেবা করতে পারলে আমরা সম্মানিত হব।',
    }),
    [Tone.Friendly]: ({ service, days }) => ({
      subject: `অনেকদিন দেখা নেই! ${service} লাগবে?`,
      opening: 'অনেকদিন হয়ে গেল, আপনার কথা মনে পড়ছিল!',
      reason: `${days} দিন আগে আপনি শেষবার আমাদের ${service} নিয়েছিলেন। নিয়মিত সার্ভিস নিলে ঘর থাকে ঝকঝকে ও আরামদায়ক, আর ছোট সমস্যাগুলো জমে ওঠে না।`,
      offerHint: 'আপনার ফিরে আসা উপলক্ষে একটি বিশেষ অফারও রাখা আছে।',
      encouragement: 'আবার শুরু করতে মাত্র এক ধাপ, আজই বুক করুন!',
    }),
  },
};

/** Offline generator: always available, used when the LLM is disabled or its output is rejected. */
@Injectable()
export class TemplateProseGenerator {
  readonly kind = GeneratorKind.Template;

  write(input: ProseInput): ProseResult {
    const template = TEMPLATES[input.messageType][input.tone]({
      service: serviceLabel(input.serviceNameBn),
      days: toBengaliDigits(Math.max(0, Math.floor(input.daysSinceLastBooking))),
    });
    const paragraphs = [template.opening, template.reason];
    if (input.hasOffer) paragraphs.push(template.offerHint);
    paragraphs.push(template.encouragement);

    return {
      prose: { subject: template.subject, body: paragraphs.join('\n\n') },
      generator: this.kind,
    };
  }
}

/** "প্লাম্বিং" → "প্লাম্বিং সার্ভিস"; a name that already ends in the word is kept, so it is never doubled. */
function serviceLabel(serviceNameBn: string): string {
  const name = serviceNameBn.trim();
  return name.endsWith(SERVICE_WORD) ? name : `${name} ${SERVICE_WORD}`;
}
