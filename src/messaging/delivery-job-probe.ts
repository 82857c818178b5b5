import { StaleQueued } from './ai-message.repository';
import { Channel } from './message.types';

/** A job no worker has taken yet: the message has no row until a worker claims it. */
export interface WaitingJob {
  id: string;
  customerId: string;
  channel: Channel;
  enqueuedAt: Date;
}

/**
 * Queue mode's answer to "is this message's job still in the queue?" (waiting, delayed for a retry, or held by a
 * worker), for the sweeper: a `queued` row whose job is there is only waiting, not interrupted. DeliveryModule
 * provides it in queue mode; in-process there is none.
 */
export abstract class DeliveryJobProbe {
  /** The ids, among `messages`, whose job still exists; throws when the queue cannot be asked. */
  abstract jobsInQueue(messages: readonly StaleQueued[]): Promise<Set<string>>;

  /** The job of message `id`, if one is in either queue. */
  abstract findJob(id: string): Promise<WaitingJob | null>;
}
