/** One check every outbound message must pass; the values are metric labels, so keep them stable. */
export enum SafetyRule {
  BengaliScript = 'bengali_script',
  ForeignUrl = 'foreign_url',
  ForeignPromoCode = 'foreign_promo_code',
  WrongDiscount = 'wrong_discount',
  /** Any amount of money: the server never offers taka off, so an amount is always invented. */
  MoneyOffer = 'money_offer',
  FreeOffer = 'free_offer',
  Profanity = 'profanity',
  Length = 'length',
}

export interface SafetyViolation {
  rule: SafetyRule;
  detail: string;
}

export interface SafetyVerdict {
  passed: boolean;
  violations: SafetyViolation[];
}

/** What this one message may contain; built by the server, never by a generator. */
export interface SafetyPolicy {
  offer: { promoCode: string; discountPercent: number } | null;
  /** A link passes when it starts with one of these and continues with "/", "?", "#" or nothing. */
  allowedUrlPrefixes: string[];
  /**
   * Text we put in ourselves (the customer's display name, the brand). Left out of the Bengali-script
   * ratio only: every other rule still sees it, so a profane name is caught.
   */
  trustedTokens: string[];
}

export interface SafetyCandidate {
  subject: string;
  text: string;
  /** Email by default; an SMS has no subject and other length bounds. */
  channel?: 'email' | 'sms';
}
