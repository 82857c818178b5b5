export enum Channel {
  Email = 'EMAIL',
  Sms = 'SMS',
}

export enum MessageType {
  Reminder = 'REMINDER',
  Promotional = 'PROMOTIONAL',
  Winback = 'WINBACK',
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
