import { CustomerProfile } from '../segmentation/customer-profile';
import { ServiceInfo } from '../segmentation/service.repository';
import { Offer } from './message-content';
import { Channel, GeneratorKind, MessageType } from './message.types';

export interface DeliveryRequest {
  customer: CustomerProfile;
  service: ServiceInfo;
  offer: Offer | null;
  messageType: MessageType;
  channel: Channel;
  ttlHours: number;
  bypassFrequencyCap: boolean;
  correlationId: string;
  /** Set by the daily campaign: claims are unique per customer, campaign day and channel. */
  campaign?: {
    day: string;
    jobRunId: string;
    /** When the run's send window closes (epoch ms): no LLM budget turn is waited for past it. */
    windowClosesAt?: number;
  };
  /**
   * Fixed by a producer that may deliver the same request twice (a queue job's id): delivering again with the
   * same id continues from the message's row instead of claiming again. Generated when absent.
   */
  messageId?: string;
  /**
   * Aborted when the service shuts down or the caller stops: a delivery waiting to retry stops and releases its
   * claim, unless the reason is a resumable stop (see ResumableStop).
   */
  signal?: AbortSignal;
  /** Set by a queue worker: a transient failure throws RetryLater instead of waiting (see MessageDispatcher). */
  deferRetries?: boolean;
}

/**
 * An abort reason after which the caller delivers the same requests again, with the same message ids (a paused
 * campaign run, resumed): a delivery waiting for its retry leaves its message `queued` and answers not processed
 * (`shutting_down`), so the resume retries it instead of finding it failed.
 */
export interface ResumableStop {
  readonly resumable: boolean;
}

export function isResumableStop(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as Partial<ResumableStop>).resumable === true;
}

/** Why a customer was not messaged; the same words appear in API results. */
export enum SkipReason {
  CustomerNotFound = 'customer_not_found',
  OptedOut = 'opted_out',
  FrequencyCapped = 'frequency_capped',
  NoEmailAddress = 'no_email_address',
  NoPhoneNumber = 'no_phone_number',
  /** users.email is not exactly one bare address (a list, a display name, CR/LF...): nothing is sent. */
  InvalidEmailAddress = 'invalid_email_address',
  /** users.phone is not one E.164 number. */
  InvalidPhoneNumber = 'invalid_phone_number',
  /** No promotional SMS at night (SMS_QUIET_HOURS_*, by default 00:00-08:00 in CAMPAIGN_TIMEZONE). */
  SmsQuietHours = 'sms_quiet_hours',
  NoBookingHistory = 'no_booking_history',
  NotDue = 'not_due',
  AlreadyMessagedToday = 'already_messaged_today',
  /** The service was shutting down before this customer's turn came. */
  ShuttingDown = 'shutting_down',
}

export enum FailureReason {
  SafetyRejected = 'safety_rejected',
  DeliveryFailed = 'delivery_failed',
  /** Handed to the channel by a process that died: it may or may not have gone, and is not sent again. */
  DeliveryUnknown = 'delivery_unknown',
}

export type DeliveryOutcome =
  | {
      status: 'sent';
      messageId: string;
      generator: GeneratorKind;
      fallbackReason: string | null;
      subject: string;
      outboxPath?: string;
    }
  | { status: 'skipped'; reason: SkipReason }
  | { status: 'failed'; messageId: string; reason: FailureReason; error: string };

/**
 * One customer's step: claim (opt-out and cap checked atomically) → generate → check → mark sending → send →
 * record. Re-entrant: with a given messageId, a second call continues from the row's state. Callers go through
 * DeliveryFanOut, so a queue-backed implementation can replace the in-process one without touching them.
 */
export abstract class ReminderDelivery {
  abstract deliver(request: DeliveryRequest): Promise<DeliveryOutcome>;

  /**
   * At shutdown, once deliveries in flight had their grace: settles those still running (queued → failed and
   * freed for the next run, sending → unknown), so no row is left `sending`. Returns how many it settled.
   */
  abstract settleInFlight(): Promise<number>;
}
