import { Body, Controller, Get, HttpCode, HttpStatus, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { JobHistoryQueryDto, JobHistoryResponseDto, JobStatusResponseDto } from './dto/job-status.dto';
import { RunSegmentRequestDto, RunSegmentResponseDto } from './dto/run-segment.dto';
import { JobsService } from './jobs.service';

@ApiTags('internal')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong API key', type: ErrorResponseDto })
@ApiResponse({ status: 400, description: 'Invalid input; `errors` names each bad field', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('internal')
export class InternalJobsController {
  constructor(private readonly jobs: JobsService) {}

  @Post('ai/smartengage/run-segment')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Run the daily campaign now (or preview it with dry_run)' })
  @ApiResponse({ status: 200, type: RunSegmentResponseDto })
  @ApiResponse({
    status: 409,
    description: 'CAMPAIGN_ALREADY_RUNNING (another run holds the lock; the message names it) or SEND_WINDOW_CLOSED',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 500,
    description: 'CAMPAIGN_FAILED: the run broke off; the message names the run id',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 503,
    description: 'CAMPAIGN_INTERRUPTED (the instance shut down mid-run; the message names the run id) or SHUTTING_DOWN',
    type: ErrorResponseDto,
  })
  runSegment(@Body() body: RunSegmentRequestDto): Promise<RunSegmentResponseDto> {
    return this.jobs.runSegment(body);
  }

  @Get('jobs/status')
  @ApiOperation({ summary: 'Each scheduled job: schedule, next run, the run in progress and the last run' })
  @ApiResponse({ status: 200, type: JobStatusResponseDto })
  status(): Promise<JobStatusResponseDto> {
    return this.jobs.status();
  }

  @Get('jobs/history')
  @ApiOperation({ summary: 'Job runs, newest first' })
  @ApiResponse({ status: 200, type: JobHistoryResponseDto })
  history(@Query() query: JobHistoryQueryDto): Promise<JobHistoryResponseDto> {
    return this.jobs.history(query);
  }
}
