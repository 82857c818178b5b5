import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { EngagementStatsQueryDto, EngagementStatsResponseDto } from './dto/engagement-stats.dto';
import { EngagementStatsService } from './engagement-stats.service';

@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin API key', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('admin/smartengage')
export class AdminStatsController {
  constructor(private readonly stats: EngagementStatsService) {}

  @Get('stats')
  @ApiOperation({
    summary: 'Sent, clicked and booked (within 7 days) per message type, tone, promo code and channel',
    description: 'Messages sent in [from, to); by default the last 30 days.',
  })
  @ApiResponse({ status: 200, type: EngagementStatsResponseDto })
  @ApiResponse({ status: 400, description: 'Bad date, or from not before to; `errors` names the field', type: ErrorResponseDto })
  engagement(@Query() query: EngagementStatsQueryDto): Promise<EngagementStatsResponseDto> {
    return this.stats.stats(query);
  }
}
