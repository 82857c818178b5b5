export enum Channel {
  Email = 'EMAIL',
  Sms = 'SMS',
}

export enum MessageType {
  Reminder = 'REMINDER',
  Promotional = 'PROMOTIONAL',
  Winback = 'WINBACK',
}

/** Lifecycle of a row in ai_messages: written as queued before any send is attempted. */
export enum DeliveryStatus {
  Queued = 'queued',
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
