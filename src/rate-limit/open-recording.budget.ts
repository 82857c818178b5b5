import { Inject, Injectable } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
// The throttler guard's own client key (an IPv6 client counts per /64), so every limit counts clients alike.
import { normalizeIp } from '@nestjs/throttler/dist/ip';
import { AppConfig } from '../config/app-config';

const MINUTE_MS = 60_000;

/**
 * Opens recorded per client IP (per /64 for IPv6) and minute (OPEN_RECORD_LIMIT_PER_MINUTE), counted in the rate
 * limits' storage (Redis when set, so replicas share it). Past the budget the pixel is still served: a mail client
 * that gets a 429 for an image shows it broken, and Gmail and Apple fetch every open of a campaign from a few IPs.
 */
@Injectable()
export class OpenRecordingBudget {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorage,
    private readonly config: AppConfig,
  ) {}

  /** Counts one open from this IP; false once the minute's budget is spent. */
  async take(ip: string): Promise<boolean> {
    const limit = this.config.http.openRecordLimitPerMinute;
    const key = `open-record:${normalizeIp(ip)}`;
    const { isBlocked } = await this.storage.increment(key, MINUTE_MS, limit, MINUTE_MS, 'open-record');
    return !isBlocked;
  }
}
