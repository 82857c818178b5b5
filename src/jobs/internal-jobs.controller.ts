import { Body, Controller, Get, HttpCode, HttpStatus, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { JobHistoryQueryDto, JobHistoryResponseDto, JobStatusResponseDto } from './dto/job-status.dto';
import { PrepareRequestDto, RunAcceptedDto, RunSegmentRequestDto, RunSegmentResponseDto } from './dto/run-segment.dto';
import { JobsService } from './jobs.service';
import { runLocation } from './internal-runs.controller';

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
  @ApiResponse({ status: 200, type: RunSegmentResponseDto, description: 'The run ended (DONE), or run control stopped it' })
  @ApiResponse({
    status: 202,
    type: RunAcceptedDto,
    description: '`wait: false`: the run started; `Location` is /internal/jobs/runs/{id}',
  })
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
  async runSegment(
    @Body() body: RunSegmentRequestDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RunSegmentResponseDto | RunAcceptedDto> {
    const answer = await this.jobs.runSegment(body);
    if (answer.kind === 'accepted') res.status(HttpStatus.ACCEPTED).location(runLocation(answer.body.job_run_id));
    return answer.body;
  }

  @Post('ai/smartengage/prepare')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: "Write the next campaign's LLM email drafts ahead (live, or through the Batch API with OPENAI_BATCH)" })
  @ApiResponse({ status: 202, type: RunAcceptedDto, description: 'The prepare started; `Location` is /internal/jobs/runs/{id}' })
  @ApiResponse({
    status: 409,
    description: 'LLM_NOT_CONFIGURED (no OPENAI_API_KEY) or PREPARE_ALREADY_RUNNING (another prepare holds the lock)',
    type: ErrorResponseDto,
  })
  @ApiResponse({ status: 503, description: 'SHUTTING_DOWN', type: ErrorResponseDto })
  async prepare(@Body() body: PrepareRequestDto, @Res({ passthrough: true }) res: Response): Promise<RunAcceptedDto> {
    const accepted = await this.jobs.prepare(body);
    res.location(runLocation(accepted.job_run_id));
    return accepted;
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
