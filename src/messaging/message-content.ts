import { GeneratorKind, MessageType, Tone } from './message.types';

/** The offer the server attaches to a message; generators never see or write it. */
export interface Offer {
  promoCode: string;
  discountPercent: number;
}

/** Everything known about one message before its prose is written. */
export interface MessageContext {
  /** Sanitised display name of the customer. */
  customerName: string;
  serviceNameBn: string;
  serviceEmoji: string;
  daysSinceLastBooking: number;
  tone: Tone;
  /** The writer a send asks for (an experiment's variant): `template` never calls the LLM. */
  generator?: GeneratorKind;
  messageType: MessageType;
  offer: Offer | null;
  ttlHours: number;
  /** Full deep link, token and promo included. */
  bookingUrl: string;
  /**
   * Short stand-in for bookingUrl on the email's "copy this link" line: the tracked /r/ link, else the booking
   * page without the token (a 400-character token is eight lines of base64 on a phone).
   */
  shortBookingUrl: string;
  unsubscribeUrl: string;
  /** Email open-tracking pixel, when EMAIL_OPEN_TRACKING is on. */
  openPixelUrl?: string;
}

/** What a generator writes: a subject and body paragraphs, with no link, promo code or discount. */
export interface Prose {
  subject: string;
  body: string;
}

/** The message as sent: the server wraps the prose with greeting, offer, link and footer. */
export interface ComposedMessage {
  subject: string;
  text: string;
  html: string;
}

/** The data a generator may use; an allow-list, so an LLM sees nothing else. */
export interface ProseInput {
  customerName: string;
  serviceNameBn: string;
  daysSinceLastBooking: number;
  tone: Tone;
  messageType: MessageType;
  hasOffer: boolean;
}

/** Tokens of one completion as the provider bills them; input excludes the cached part. */
export interface LlmUsage {
  input: number;
  cachedInput: number;
  output: number;
}

/** Which model and prompt a completion came from, its tokens and what it cost (USD, at the OPENAI_PRICE_* table). */
export interface LlmSpend {
  model: string;
  promptVersion: string;
  usage?: LlmUsage;
  costUsd?: number;
}

export interface ProseResult extends Partial<LlmSpend> {
  prose: Prose;
  generator: GeneratorKind;
}

export function proseInputFrom(context: MessageContext): ProseInput {
  return {
    customerName: context.customerName,
    serviceNameBn: context.serviceNameBn,
    daysSinceLastBooking: context.daysSinceLastBooking,
    tone: context.tone,
    messageType: context.messageType,
    hasOffer: context.offer !== null,
  };
}
