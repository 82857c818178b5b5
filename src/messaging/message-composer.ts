import { Injectable } from '@nestjs/common';
import { toBengaliDigits } from './bengali';
import { ComposedMessage, MessageContext, Prose } from './message-content';
import { Tone } from './message.types';

interface Voice {
  offerLead: (discount: string) => string;
  callToAction: (context: MessageContext) => string;
  signOff: string;
}

const VOICES: Record<Tone, Voice> = {
  [Tone.Premium]: {
    offerLead: (discount) => `🎁 আপনার জন্য বিশেষ অফার: ${discount}% ছাড়!`,
    callToAction: (context) =>
      context.offer ? `এখনই বুক করুন - ${toBengaliDigits(context.ttlHours)} ঘণ্টার অফার` : 'এখনই বুক করুন',
    signOff: 'আপনার সেবায় সর্বদা,',
  },
  [Tone.Welcoming]: {
    offerLead: (discount) => `🎉 নতুন গ্রাহক হিসেবে আপনি পাচ্ছেন ${discount}% ছাড়!`,
    callToAction: () => 'সহজেই বুক করুন',
    signOff: 'ধন্যবাদ ও শুভকামনা,',
  },
  [Tone.Friendly]: {
    offerLead: (discount) => `🎁 আপনার পরবর্তী বুকিংয়ে ${discount}% ছাড়!`,
    callToAction: () => 'বুক করতে এখানে ক্লিক করুন',
    signOff: 'ধন্যবাদ,',
  },
};

const TEAM = 'ShoktiAI Team';
const UNSUBSCRIBE_LEAD = 'এ ধরনের ইমেইল আর পেতে না চাইলে';
const UNSUBSCRIBE_ACTION = 'আনসাবস্ক্রাইব করুন';
const PROMO_LABEL = 'প্রোমো কোড:';
const LINK_FALLBACK = 'বোতামটি কাজ না করলে এই লিংকটি ব্রাউজারে খুলুন:';
/**
 * Hidden from the reader; mail clients show it after the subject. The padding (zero-width non-joiner and
 * no-break space) keeps clients from filling the rest of the preview with the greeting.
 */
const PREHEADER_STYLE =
  'display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;font-size:1px;line-height:1px;color:transparent;mso-hide:all;';
const PREHEADER_PADDING = '&zwnj;&nbsp;'.repeat(40);

/** The parts of one email, shared by its text and HTML renderings. */
interface Parts {
  preheader: string;
  greeting: string;
  paragraphs: string[];
  offer: { lead: string; promoCode: string } | null;
  callToAction: string;
  signOff: string;
}

/**
 * Wraps generator prose with everything the server owns: greeting, offer, link and footer.
 * Offer numbers come only from the context, so prose can never misquote them.
 */
@Injectable()
export class MessageComposer {
  compose(prose: Prose, context: MessageContext): ComposedMessage {
    const voice = VOICES[context.tone];
    const discount = context.offer ? toBengaliDigits(context.offer.discountPercent) : null;
    const parts: Parts = {
      preheader: preheaderOf(context, discount),
      greeting: `প্রিয় ${context.customerName},`,
      paragraphs: paragraphsOf(prose.body),
      offer: context.offer && discount ? { lead: voice.offerLead(discount), promoCode: context.offer.promoCode } : null,
      callToAction: voice.callToAction(context),
      signOff: voice.signOff,
    };
    const headline = `${prose.subject.trim()}${discount ? ` — ${discount}% ছাড়!` : ''}`;
    const subject = [headline, context.serviceEmoji.trim()].filter((part) => part.length > 0).join(' ');

    return { subject, text: renderText(parts, context), html: renderHtml(subject, parts, context) };
  }
}

/** A one-line summary for the inbox preview, built only from server-owned facts. */
function preheaderOf(context: MessageContext, discount: string | null): string {
  return context.offer && discount
    ? `আপনার পরবর্তী ${context.serviceNameBn} বুকিংয়ে ${discount}% ছাড়, প্রোমো কোড ${context.offer.promoCode}`
    : `আপনার পরবর্তী ${context.serviceNameBn} বুকিং মাত্র এক ক্লিক দূরে`;
}

function paragraphsOf(body: string): string[] {
  return body
    .split(/\r?\n\s*\r?\n/)
    .map((paragraph) => paragraph.trim())
    .filter((paragraph) => paragraph.length > 0);
}

function renderText(parts: Parts, context: MessageContext): string {
  const blocks = [parts.greeting, ...parts.paragraphs];
  if (parts.offer) blocks.push(`${parts.offer.lead}\n${PROMO_LABEL} ${parts.offer.promoCode}`);
  blocks.push(`[${parts.callToAction}]\n${context.bookingUrl}`);
  blocks.push(`${parts.signOff}\n${TEAM}`);
  blocks.push(`${UNSUBSCRIBE_LEAD} ${UNSUBSCRIBE_ACTION}: ${context.unsubscribeUrl}`);
  return `${blocks.join('\n\n')}\n`;
}

const P = 'margin:0 0 16px;';

function renderHtml(subject: string, parts: Parts, context: MessageContext): string {
  const paragraphs = parts.paragraphs.map((paragraph) => `<p style="${P}">${escapeLines(paragraph)}</p>`);
  const offer = parts.offer
    ? `<div style="margin:0 0 16px;padding:12px 16px;border-radius:8px;background:#fff7e6;border:1px solid #f5c26b;">` +
      `<p style="margin:0;font-weight:bold;">${escapeHtml(parts.offer.lead)}</p>` +
      `<p style="margin:4px 0 0;">${PROMO_LABEL} <strong style="font-family:monospace;letter-spacing:1px;">${escapeHtml(parts.offer.promoCode)}</strong></p>` +
      `</div>`
    : '';
  const bookingUrl = escapeHtml(context.bookingUrl);
  const shortUrl = escapeHtml(context.shortBookingUrl);

  return [
    '<!doctype html>',
    '<html lang="bn">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(subject)}</title>`,
    '</head>',
    '<body style="margin:0;padding:0;background:#f4f5f7;">',
    `<span style="${PREHEADER_STYLE}">${escapeHtml(parts.preheader)}${PREHEADER_PADDING}</span>`,
    `<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;color:#1f2933;font-family:'Noto Sans Bengali','Hind Siliguri',Arial,sans-serif;font-size:16px;line-height:1.7;">`,
    `<p style="${P}">${escapeHtml(parts.greeting)}</p>`,
    ...paragraphs,
    offer,
    `<p style="margin:24px 0;text-align:center;"><a href="${bookingUrl}" style="display:inline-block;padding:12px 24px;border-radius:6px;background:#0b7a75;color:#ffffff;text-decoration:none;font-weight:bold;">${escapeHtml(parts.callToAction)}</a></p>`,
    // On a line of its own, so a phone wraps the short link only when it cannot fit.
    `<p style="${P}font-size:13px;color:#52606d;">${LINK_FALLBACK}<br><a href="${shortUrl}" style="color:#0b7a75;word-break:break-all;">${shortUrl}</a></p>`,
    `<p style="${P}">${escapeHtml(parts.signOff)}<br>${TEAM}</p>`,
    `<p style="margin:24px 0 0;font-size:12px;color:#7b8794;">${UNSUBSCRIBE_LEAD} <a href="${escapeHtml(context.unsubscribeUrl)}" style="color:#7b8794;">${UNSUBSCRIBE_ACTION}</a>।</p>`,
    '</div>',
    context.openPixelUrl
      ? `<img src="${escapeHtml(context.openPixelUrl)}" width="1" height="1" alt="" style="display:block;border:0;">`
      : '',
    '</body>',
    '</html>',
  ]
    .filter((line) => line.length > 0)
    .join('\n');
}

function escapeLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => escapeHtml(line.trim()))
    .join('<br>');
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char]);
}
