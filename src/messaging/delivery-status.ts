/**
 * The one declaration of a message's delivery states and of the moves between them. Every writer of
 * ai_messages.delivery_status applies a `StatusChange` through AiMessageRepository, whose SQL takes its
 * from-lists from here; docs/architecture.md draws this table (checked by test/readme.e2e-spec.ts).
 */
export enum DeliveryStatus {
  /**
   * Claimed, not handed to the channel (again, after a failed attempt that will be retried). Its first LLM draft
   * may be stored here (AiMessageRepository.storeDraft), which moves no status.
   */
  Queued = 'queued',
  /** Being handed to the channel; the draft is stored. */
  Sending = 'sending',
  /** Was `sending` when its process died: it may or may not have gone. Counts against the cap; never resent. */
  Unknown = 'unknown',
  Sent = 'sent',
  /** Kept for rows written before `sending` existed: nothing moves a message here any more. */
  Delivered = 'delivered',
  Failed = 'failed',
  Opened = 'opened',
  Clicked = 'clicked',
  Booked = 'booked',
  Unsubscribed = 'unsubscribed',
}

/** What happened to a message: each change moves it to one status, from the statuses listed in TRANSITIONS. */
export enum StatusChange {
  /** The draft is stored and the message is about to be handed to its channel. */
  Send = 'send',
  /** The channel took it. An `unknown` message can still learn its answer (a late record). */
  Sent = 'sent',
  /** The channel refused it for good. */
  Fail = 'fail',
  /** The attempt failed and will be retried. */
  Retry = 'retry',
  /** Handed over, but the answer never came back (the process died or the sweeper gave up). */
  Lose = 'lose',
  /** It never reached the channel: the draft was rejected, or the process died before the hand-over. */
  Abandon = 'abandon',
  Open = 'open',
  Click = 'click',
  Book = 'book',
  /** The reader unsubscribed through this message. */
  Unsubscribe = 'unsubscribe',
}

/**
 * The changes a reader's event makes (Events applies them through AiMessageRepository.advance); `Sent` is a mail
 * proxy's machine open, which proves an `unknown` message went.
 */
export type EngagementChange =
  | StatusChange.Sent
  | StatusChange.Open
  | StatusChange.Click
  | StatusChange.Book
  | StatusChange.Unsubscribe;

export interface Transition {
  change: StatusChange;
  from: readonly DeliveryStatus[];
  to: DeliveryStatus;
}

const { Queued, Sending, Unknown, Sent, Delivered, Failed, Opened, Clicked, Booked, Unsubscribed } = DeliveryStatus;

/**
 * Every allowed move; anything else is refused and leaves the status as it is. An engagement event moves a
 * message up (never down), and proves that an `unknown` one arrived; nothing leaves `failed` or `unsubscribed`.
 */
export const TRANSITIONS: readonly Transition[] = [
  { change: StatusChange.Send, from: [Queued], to: Sending },
  { change: StatusChange.Sent, from: [Sending, Unknown], to: Sent },
  { change: StatusChange.Fail, from: [Sending, Unknown], to: Failed },
  { change: StatusChange.Retry, from: [Sending], to: Queued },
  { change: StatusChange.Lose, from: [Sending], to: Unknown },
  { change: StatusChange.Abandon, from: [Queued], to: Failed },
  { change: StatusChange.Open, from: [Queued, Sending, Unknown, Sent, Delivered], to: Opened },
  { change: StatusChange.Click, from: [Queued, Sending, Unknown, Sent, Delivered, Opened], to: Clicked },
  { change: StatusChange.Book, from: [Queued, Sending, Unknown, Sent, Delivered, Opened, Clicked], to: Booked },
  {
    change: StatusChange.Unsubscribe,
    from: [Queued, Sending, Unknown, Sent, Delivered, Opened, Clicked, Booked],
    to: Unsubscribed,
  },
];

/** Statuses a message reaches only once it went out: a redelivered request for it answers `sent`. */
export const SENT_OR_LATER: ReadonlySet<DeliveryStatus> = new Set([Sent, Delivered, Opened, Clicked, Booked, Unsubscribed]);

const BY_CHANGE = new Map(TRANSITIONS.map((transition) => [transition.change, transition]));

export function transitionOf(change: StatusChange): Transition {
  const transition = BY_CHANGE.get(change);
  if (!transition) throw new Error(`no transition declared for ${change}`);
  return transition;
}

/** Where `change` takes a message in status `from`, or null when the move is refused. */
export function nextStatus(from: DeliveryStatus, change: StatusChange): DeliveryStatus | null {
  const { from: allowed, to } = transitionOf(change);
  return allowed.includes(from) ? to : null;
}

/** The change an attempt's recorded status stands for (AttemptRecord.status). */
export const ATTEMPT_CHANGE = {
  [Sent]: StatusChange.Sent,
  [Failed]: StatusChange.Fail,
  [Unknown]: StatusChange.Lose,
  [Queued]: StatusChange.Retry,
} as const satisfies Partial<Record<DeliveryStatus, StatusChange>>;

/** `column IN ('a', 'b')` for the statuses `change` may leave: the SQL form of its from-list. */
export function sqlAllowedFrom(change: StatusChange, column = 'delivery_status'): string {
  return `${column} IN (${transitionOf(change).from.map((status) => `'${status}'`).join(', ')})`;
}

/** The state diagram in mermaid, as docs/architecture.md shows it. */
export function mermaidStateDiagram(): string {
  const lines = ['stateDiagram-v2', `    [*] --> ${Queued}: claim`];
  for (const { change, from, to } of TRANSITIONS) {
    for (const status of from) lines.push(`    ${status} --> ${to}: ${change}`);
  }
  return lines.join('\n');
}
