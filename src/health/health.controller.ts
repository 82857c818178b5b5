import { Controller, Get, UseFilters } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult } from '@nestjs/terminus';
import { HealthCheckFailedFilter } from './health-check-failed.filter';
import { HealthService } from './health.service';

@ApiTags('public')
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
