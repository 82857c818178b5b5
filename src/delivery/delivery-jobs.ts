import { createHash } from 'node:crypto';
import { ConnectionOptions, JobsOptions } from 'bullmq';
import { Channel } from '../messaging/message.types';
import { DeliveryRequest } from '../messaging/reminder-delivery';

/** One queue per channel: each gets its own rate limit, and a slow SMS gateway never holds up email. */
export const DELIVERY_QUEUES: Record<Channel, string> = {
  [Channel.Email]: 'deliveries-email',
  [Channel.Sms]: 'deliveries-sms',
};

export const DELIVERY_JOB_NAME = 'deliver';

/**
 * Every job is removed once it finished: the outcome travels in the completion event and the row in ai_messages
 * is the record. A job that failed outright (every attempt threw) is removed too, its reason logged by the
 * worker: a job added again under the same id (a resumed run) must run, and BullMQ ignores an add whose id
 * still exists. Attempts here are for errors the delivery did not expect (the database unreachable): the
 * delivery is re-entrant, so running it again continues from the message's row. Provider retries
 * (DELIVERY_MAX_ATTEMPTS) are counted on the row, not here.
 */
export const DELIVERY_JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  attempts: 3,
  backoff: { type: 'exponential', delay: 2_000 },
};

/** A DeliveryRequest as a job carries it: JSON, so dates travel as ISO strings. */
export interface DeliveryJobData {
  request: Omit<DeliveryRequest, 'signal' | 'messageId' | 'customer'> & {
    customer: Omit<DeliveryRequest['customer'], 'lastBookingAt' | 'optedOutAt'> & {
      lastBookingAt: string | null;
      optedOutAt: string | null;
    };
  };
  /** When the producer added it: the worker measures enqueue-to-sent latency from here. */
  enqueuedAt: number;
}

export function toJobData(request: DeliveryRequest): DeliveryJobData {
  const { signal: _signal, messageId: _messageId, customer, ...rest } = request;
  return {
    request: {
      ...rest,
      customer: {
        ...customer,
        lastBookingAt: customer.lastBookingAt?.toISOString() ?? null,
        optedOutAt: customer.optedOutAt?.toISOString() ?? null,
      },
    },
    enqueuedAt: Date.now(),
  };
}

export function fromJobData(data: DeliveryJobData, messageId: string): DeliveryRequest {
  const { customer, ...rest } = data.request;
  return {
    ...rest,
    messageId,
    customer: {
      ...customer,
      lastBookingAt: customer.lastBookingAt ? new Date(customer.lastBookingAt) : null,
      optedOutAt: customer.optedOutAt ? new Date(customer.optedOutAt) : null,
    },
  };
}

/**
 * The message id (and job id) of a campaign delivery: the same run and customer always give the same id, so a
 * job added again (the producer restarted, or Redis lost it) continues the message's row instead of claiming
 * a second one. A name-based UUID (version 5 layout) over the run, channel and customer.
 */
export function campaignMessageId(jobRunId: string, channel: Channel, customerId: string): string {
  const hash = createHash('sha1').update(`${jobRunId}:${channel}:${customerId}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * BullMQ connection options from REDIS_URL. Commands wait while Redis is unreachable (no per-request retry
 * limit): a run in progress waits for Redis to come back instead of failing its customers.
 */
export function redisConnection(url: string): ConnectionOptions {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    // Reconnect every second at most: an outage ends within a second of Redis coming back.
    retryStrategy: (times: number) => Math.min(times * 200, 1_000),
  };
}

/** REDIS_URL for messages: without its password. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'REDIS_URL';
  }
}
