import { Injectable } from '@nestjs/common';
import { toBengaliDigits } from './bengali';
import { MessageContext } from './message-content';
import { countSmsSegments } from './sms-segments';

export interface ComposedSms {
  text: string;
  segments: number;
}

/**
 * Writes the SMS from built-in templates, longest first, and keeps the first that fits the part budget.
 * Bengali SMS are UCS-2 (70 units in one part, 67 per part when split), so every word costs.
 */
@Injectable()
export class SmsComposer {
  compose(context: MessageContext, maxSegments: number): ComposedSms | null {
    for (const text of this.candidates(context)) {
      const { segments } = countSmsSegments(text);
      if (segments <= maxSegments) return { text, segments };
    }
    return null;
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
      `${context.serviceNameBn} আবার বুক করুন${offer}: ${link}`,
    ];
  }
}
