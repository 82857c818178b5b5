import { MessageType, Tone } from './message.types';
import { MessageContext } from './message-content';
import { SMS_OPT_OUT_HINT, SmsComposer } from './sms-composer';
import { countSmsSegments } from './sms-segments';

const CONTEXT: MessageContext = {
  customerName: 'navidkamal5688',
  serviceNameBn: 'প্লাম্বিং',
  serviceEmoji: '🔧',
  daysSinceLastBooking: 21,
  tone: Tone.Premium,
  messageType: MessageType.Reminder,
  offer: { promoCode: 'DEMO15', discountPercent: 15 },
  ttlHours: 48,
  bookingUrl: 'https://engage.shoktiai.com/r/zgN_Gz47Riugaiijz16LGg',
  shortBookingUrl: 'https://engage.shoktiai.com/r/zgN_Gz47Riugaiijz16LGg',
  unsubscribeUrl: 'https://engage.shoktiai.com/unsubscribe/x',
};

describe('SmsComposer', () => {
  const composer = new SmsComposer();

  it.each([2, 3, 4])('ends every SMS with the Bengali opt-out hint, within %i parts', (maxSegments) => {
    const sms = composer.compose(CONTEXT, maxSegments)!;
    expect(sms.text.endsWith(`\n${SMS_OPT_OUT_HINT}`)).toBe(true);
    expect(sms.text).toContain(CONTEXT.bookingUrl);
    expect(sms.segments).toBe(countSmsSegments(sms.text).segments);
    expect(sms.segments).toBeLessThanOrEqual(maxSegments);
  });

  it('shortens the prose, not the hint or the link, as the budget shrinks', () => {
    const three = composer.compose(CONTEXT, 3)!.text;
    const two = composer.compose(CONTEXT, 2)!.text;
    expect(three).toContain(CONTEXT.customerName);
    expect(two).toBe(`প্লাম্বিং আবার বুক করুন, ১৫% ছাড় কোড DEMO15: ${CONTEXT.bookingUrl} -ShoktiAI\n${SMS_OPT_OUT_HINT}`);
  });

  it('the offer stays while anything of the prose is left', () => {
    expect(composer.compose(CONTEXT, 2)!.text).toContain('DEMO15');
  });

  it('writes nothing when the link and the hint alone do not fit (the draft then fails its safety check)', () => {
    // One UCS-2 part is 70 units: a 52-character link, a newline and the hint take 73.
    expect(composer.compose(CONTEXT, 1)).toBeNull();
  });
});
