import { Module } from '@nestjs/common';
import { ApiResponseOptions } from '@nestjs/swagger';
import { ThrottlerModule } from '@nestjs/throttler';
import { ErrorResponseDto } from '../common/error-response.dto';
import { AppConfig } from '../config/app-config';
import { RateLimitStorage } from './rate-limit.storage';

/** The 429 every rate-limited controller documents. */
export const RATE_LIMITED_RESPONSE: ApiResponseOptions = {
  status: 429,
  description: 'TOO_MANY_REQUESTS: more than PUBLIC_RATE_LIMIT_PER_MINUTE requests from this client to this route in a minute',
  type: ErrorResponseDto,
  headers: { 'Retry-After': { description: 'Seconds until requests are accepted again', schema: { type: 'integer', example: 42 } } },
};

/**
 * Per-client limits for the public routes (`@UseGuards(ThrottlerGuard)`): PUBLIC_RATE_LIMIT_PER_MINUTE requests
 * per route and client IP (TRUST_PROXY decides which IP), then 429 with Retry-After until the minute is over.
 */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const limit = config.http.publicRateLimitPerMinute;
        return {
          throttlers: [{ ttl: 60_000, limit }],
          storage: new RateLimitStorage(config.redis),
          errorMessage: (_context, detail) =>
            `too many requests: at most ${limit} a minute from one client; retry after ${detail.timeToBlockExpire} s`,
        };
      },
    }),
  ],
  exports: [ThrottlerModule],
})
export class RateLimitModule {}
