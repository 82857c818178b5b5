import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { Response } from 'express';

/** The library's /metrics route, subclassed (as its README suggests) only to document it. */
@ApiTags('public')
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  @ApiOperation({ summary: 'Prometheus metrics in the text exposition format', security: [] })
  @ApiOkResponse({
    description: 'Every metric the service exports, one sample per line',
    content: { 'text/plain': { schema: { type: 'string', example: 'ai_messages_delivery_status{status="sent"} 3' } } },
  })
  index(@Res({ passthrough: true }) response: Response): Promise<string> {
    return super.index(response);
  }
}
