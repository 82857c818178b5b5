import { Controller, Get, ServiceUnavailableException, UseFilters, UseGuards } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult } from '@nestjs/terminus';
import { ThrottlerGuard } from '@nestjs/throttler';
import { RATE_LIMITED_RESPONSE } from '../rate-limit/rate-limit.module';
import { HealthCheckFailedFilter } from './health-check-failed.filter';
import { HealthService } from './health.service';

const READINESS = {
  security: [],
  description:
    '200 when what this replica needs is up (the database; Redis in queue mode; a worker\'s queue connection), 503 ' +
    'naming what is down. SMTP, the SMS gateway and the LLM API are reported (up, down, not_configured) and never ' +
    'fail it. Each check runs at most once per interval whatever the request rate. Never shows URLs or keys.',
};

/** Public, so rate-limited like the other public routes; a load balancer's probe rate stays far inside the limit. */
@ApiTags('public')
@ApiResponse(RATE_LIMITED_RESPONSE)
@UseGuards(ThrottlerGuard)
@UseFilters(HealthCheckFailedFilter)
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('live')
  @ApiOperation({ summary: 'Liveness: the process answers; checks no dependency', security: [] })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: can this replica serve its role', ...READINESS })
  ready(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  /** The readiness answer under its historical name, which load balancers configured before /health/ready read. */
  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness, as GET /health/ready', ...READINESS })
  check(): Promise<HealthCheckResult> {
    return this.readiness();
  }

  private async readiness(): Promise<HealthCheckResult> {
    const result = await this.health.readiness();
    if (result.status !== 'ok') throw new ServiceUnavailableException(result);
    return result;
  }
}
