import { Controller, Get, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ThrottlerGuard } from '@nestjs/throttler';
import { HealthCheck, HealthCheckResult } from '@nestjs/terminus';
import { HealthCheckFailedFilter } from './health-check-failed.filter';
import { RATE_LIMITED_RESPONSE } from '../rate-limit/rate-limit.module';
import { HealthService } from './health.service';

/** Public, so rate-limited like the other public routes; a load balancer's probe rate stays far inside the limit. */
@ApiTags('public')
@ApiResponse(RATE_LIMITED_RESPONSE)
@UseGuards(ThrottlerGuard)
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @HealthCheck()
  @UseFilters(HealthCheckFailedFilter)
  @ApiOperation({
    summary: 'Readiness: database, plus SMTP and the LLM API when configured',
    security: [],
    description: '200 when every check is up, 503 naming the checks that are down. Never shows URLs or keys.',
  })
  check(): Promise<HealthCheckResult> {
    return this.health.check();
  }
}
