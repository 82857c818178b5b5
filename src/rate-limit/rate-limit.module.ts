import { Module, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiResponseOptions } from '@nestjs/swagger';
import { ThrottlerModule } from '@nestjs/throttler';
import { ErrorResponseDto } from '../common/error-response.dto';
import { AppConfig } from '../config/app-config';
import { OpenRecordingBudget } from './open-recording.budget';
import { RateLimitStorage } from './rate-limit.storage';

/** The 429 every rate-limited controller documents. */
export const RATE_LIMITED_RESPONSE: ApiResponseOptions = {
  status: 429,
  description: 'TOO_MANY_REQUESTS: more than PUBLIC_RATE_LIMIT_PER_MINUTE requests from this client to this route in a minute',
  type: ErrorResponseDto,
  headers: { 'Retry-After': { description: 'Seconds until requests are accepted again', schema: { type: 'integer', example: 42 } } },
};

/** The 429 of the click redirect, which has its own limit. */
export const CLICK_RATE_LIMITED_RESPONSE: ApiResponseOptions = {
  ...RATE_LIMITED_RESPONSE,
  description: 'TOO_MANY_REQUESTS: more than CLICK_RATE_LIMIT_PER_MINUTE clicks from this client in a minute',
};

const CLICK_LIMIT = 'smartengage:click-rate-limit';

/** Counts the route against CLICK_RATE_LIMIT_PER_MINUTE instead of PUBLIC_RATE_LIMIT_PER_MINUTE. */
export const ClickRateLimit = () => SetMetadata(CLICK_LIMIT, true);

/**
 * Per-client limits for the public routes (`@UseGuards(ThrottlerGuard)`): PUBLIC_RATE_LIMIT_PER_MINUTE requests
 * per route and client IP (TRUST_PROXY decides which IP), CLICK_RATE_LIMIT_PER_MINUTE for `@ClickRateLimit()`
 * routes, then 429 with Retry-After until the minute is over. The open pixel is never refused:
 * `OpenRecordingBudget` only decides whether an open is recorded.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const reflector = new Reflector();
        const { publicRateLimitPerMinute, clickRateLimitPerMinute } = config.http;
        return {
          throttlers: [
            {
              ttl: 60_000,
              limit: (context) =>
                reflector.getAllAndOverride<boolean>(CLICK_LIMIT, [context.getHandler(), context.getClass()])
                  ? clickRateLimitPerMinute
                  : publicRateLimitPerMinute,
            },
          ],
          storage: new RateLimitStorage(config.redis),
          errorMessage: (_context, detail) =>
            `too many requests: at most ${detail.limit} a minute from one client; retry after ${detail.timeToBlockExpire} s`,
        };
      },
    }),
  ],
  providers: [OpenRecordingBudget],
  exports: [ThrottlerModule, OpenRecordingBudget],
})
export class RateLimitModule {}
