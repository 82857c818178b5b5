import { Injectable } from '@nestjs/common';
import { toBengaliDigits } from './bengali';
import { MessageContext } from './message-content';
import { countSmsSegments, UCS2_MULTI_SEGMENT, UCS2_SINGLE_SEGMENT } from './sms-segments';

export interface ComposedSms {
  text: string;
  segments: number;
}

/**
 * How to stop, on every SMS: "reply STOP to stop". The reply reaches POST /webhooks/sms/inbound, which also
 * takes বন্ধ; STOP is the word gateways and carriers recognise too.
 */
export const SMS_OPT_OUT_HINT = 'বন্ধ করতে STOP পাঠান';

/**
 * Writes the SMS from built-in templates, longest first, and keeps the first that fits the part budget.
 * Bengali SMS are UCS-2 (70 units in one part, 67 per part when split), so every word costs. The prose is what
 * shrinks: the link and the opt-out hint are on every candidate, and a budget they do not fit sends nothing.
 */
@Injectable()
export class SmsComposer {
  compose(context: MessageContext, maxSegments: number): ComposedSms | null {
    for (const prose of this.candidates(context)) {
      const text = `${prose}\n${SMS_OPT_OUT_HINT}`;
      const { segments } = countSmsSegments(text);
      if (segments <= maxSegments) return { text, segments };
    }
    return null;
  }

  /** An LLM's line with the server's offer, link and opt-out hint after it; the parts are checked by the caller. */
  composeLine(line: string, context: MessageContext): ComposedSms {
    const text = `${line}${this.tail(context)}`;
    return { text, segments: countSmsSegments(text).segments };
  }

  /**
   * UTF-16 units left for an LLM's line in `maxSegments` parts once the offer, the link and the opt-out hint are
   * in. A Bengali SMS is UCS-2: 70 units in one part, 67 a part once split.
   */
  lineRoom(context: MessageContext, maxSegments: number): number {
    const capacity = maxSegments <= 1 ? UCS2_SINGLE_SEGMENT : UCS2_MULTI_SEGMENT * maxSegments;
    return capacity - this.tail(context).length;
  }

  private tail(context: MessageContext): string {
    const offer = context.offer
      ? `${toBengaliDigits(context.offer.discountPercent)}% ছাড়, কোড ${context.offer.promoCode}: `
      : '';
    return ` ${offer}${context.bookingUrl}\n${SMS_OPT_OUT_HINT}`;
  }

  private candidates(context: MessageContext): string[] {
    const days = toBengaliDigits(context.daysSinceLastBooking);
    const offer = context.offer
      ? `, ${toBengaliDigits(context.offer.discountPercent)}% ছাড় কোড ${context.offer.promoCode}`
      : '';
    const link = context.bookingUrl;
    return [
      `প্রিয় ${context.customerName}, ${days} দিন আগে আপনি ${context.serviceNameBn} নিয়েছিলেন। আবার বুক করুন${offer}: ${link} -ShoktiAI`,
      `${days} দিন আগে আপনি ${context.serviceNameBn} নিয়েছিলেন। আবার বুক করুন${offer}: ${link} -ShoktiAI`,
      `${context.serviceNameBn} আবার বুক করুন${offer}: ${link} -ShoktiAI`,
      `${context.serviceNameBn} আবার বুক করুন${offer}: ${link}`,
      `আবার বুক করুন${offer}: ${link}`,
    ];
  }
}
