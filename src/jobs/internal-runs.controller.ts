import { Controller, Get, HttpCode, HttpStatus, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { RunDto, RunIdParamDto } from './dto/run.dto';
import { RunsService } from './runs.service';

/** Where a run is followed: the Location of run-segment's 202 and of the run-control answers. */
export const runLocation = (id: string) => `/internal/jobs/runs/${id}`;

@ApiTags('internal')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong API key', type: ErrorResponseDto })
@ApiResponse({ status: 400, description: 'VALIDATION_FAILED: `id` is not a UUID', type: ErrorResponseDto })
@ApiResponse({ status: 404, description: 'RUN_NOT_FOUND: no job run has this id', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('internal/jobs/runs')
export class InternalRunsController {
  constructor(private readonly runs: RunsService) {}

  @Get(':id')
  @ApiOperation({ summary: 'A job run: status, reason, counts and where its customers are right now' })
  @ApiResponse({ status: 200, type: RunDto })
  get(@Param() { id }: RunIdParamDto): Promise<RunDto> {
    return this.runs.get(id);
  }

  @Post(':id/pause')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Pause a RUNNING run; its producer stops within about a second, after its deliveries in flight' })
  @ApiResponse({ status: 202, type: RunDto, description: 'PAUSED; finished_at is set once the producer has stopped' })
  @ApiResponse({ status: 409, description: 'RUN_STATE_CONFLICT: the run is not RUNNING', type: ErrorResponseDto })
  async pause(@Param() { id }: RunIdParamDto, @Res({ passthrough: true }) res: Response): Promise<RunDto> {
    const run = await this.runs.pause(id);
    res.location(runLocation(id));
    return run;
  }

  @Post(':id/resume')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Resume a PAUSED or INTERRUPTED run where it stopped, under the campaign lock' })
  @ApiResponse({ status: 202, type: RunDto, description: 'RUNNING again, in the background' })
  @ApiResponse({
    status: 409,
    description: 'RUN_STATE_CONFLICT (not PAUSED or INTERRUPTED) or CAMPAIGN_ALREADY_RUNNING (another run, or this one still stopping, holds the lock)',
    type: ErrorResponseDto,
  })
  @ApiResponse({ status: 503, description: 'SHUTTING_DOWN', type: ErrorResponseDto })
  async resume(@Param() { id }: RunIdParamDto, @Res({ passthrough: true }) res: Response): Promise<RunDto> {
    const run = await this.runs.resume(id);
    res.location(runLocation(id));
    return run;
  }

  @Post(':id/cancel')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Cancel a RUNNING or PAUSED run for good' })
  @ApiResponse({ status: 202, type: RunDto, description: 'CANCELLED; a running producer stops as for a pause' })
  @ApiResponse({ status: 409, description: 'RUN_STATE_CONFLICT: the run is not RUNNING or PAUSED', type: ErrorResponseDto })
  async cancel(@Param() { id }: RunIdParamDto, @Res({ passthrough: true }) res: Response): Promise<RunDto> {
    const run = await this.runs.cancel(id);
    res.location(runLocation(id));
    return run;
  }
}
