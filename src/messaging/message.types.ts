export enum Channel {
  Email = 'EMAIL',
  Sms = 'SMS',
}

export enum MessageType {
  Reminder = 'REMINDER',
  Promotional = 'PROMOTIONAL',
  Winback = 'WINBACK',
}

/**
 * Lifecycle of a row in ai_messages: `queued` when claimed, `sending` (written before the hand-over to the
 * channel), then `sent`, `failed` or `unknown`; events move sent messages further.
 */
export enum DeliveryStatus {
  /** Claimed, not handed to the channel (again, after a failed attempt that will be retried). */
  Queued = 'queued',
  /** Being handed to the channel; the draft is stored. */
  Sending = 'sending',
  /** Was `sending` when its process died: it may or may not have gone. Counts against the cap; never resent. */
  Unknown = 'unknown',
  Sent = 'sent',
  Delivered = 'delivered',
  Failed = 'failed',
  Opened = 'opened',
  Clicked = 'clicked',
  Booked = 'booked',
  Unsubscribed = 'unsubscribed',
}

/** Voice of the message, chosen from the customer's booking history. */
export enum Tone {
  /** Exactly one booking so far. */
  Welcoming = 'welcoming',
  /** Three or more bookings. */
  Premium = 'premium',
  Friendly = 'friendly',
}

export enum GeneratorKind {
  Template = 'template',
  OpenAi = 'openai',
}

export function toneFor(totalBookings: number): Tone {
  if (totalBookings >= 3) return Tone.Premium;
  if (totalBookings <= 1) return Tone.Welcoming;
  return Tone.Friendly;
}
