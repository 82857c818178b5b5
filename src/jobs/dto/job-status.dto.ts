import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

/** What the LLM wrote for a run's messages, as billed. */
export class RunLlmUsageDto {
  @ApiProperty({ example: 1840, description: 'Messages of the run whose prose an LLM wrote (live or prepared)' })
  drafts: number;

  @ApiProperty({ example: 220800, description: 'Uncached prompt tokens' })
  input_tokens: number;

  @ApiProperty({ example: 1884160, description: 'Prompt tokens served from the provider\'s prompt cache (billed at the cached price)' })
  cached_input_tokens: number;

  @ApiProperty({ example: 147200 })
  output_tokens: number;

  @ApiProperty({ example: 0.2566, description: 'USD at the OPENAI_PRICE_* table when each draft was written; Batch API drafts at half price' })
  cost_usd: number;
}

export class JobRunDto {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ example: 'smartengage' })
  type: string;

  @ApiProperty({ example: 'smartengage_daily_campaign' })
  name: string;

  @ApiProperty({ enum: ['cron', 'manual'] })
  trigger: string;

  @ApiProperty({
    enum: ['RUNNING', 'DONE', 'FAILED', 'SKIPPED', 'INTERRUPTED', 'PAUSED', 'CANCELLED'],
    description:
      'RUNNING only while its lock lease is live; INTERRUPTED: stopped by a shutdown; PAUSED, CANCELLED: by run control (GET /internal/jobs/runs/{id})',
  })
  status: string;

  @ApiProperty()
  correlation_id: string;

  @ApiProperty({ example: 1 })
  attempt: number;

  @ApiProperty()
  dry_run: boolean;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { preset: 'default', bookingCadenceDays: 21 } })
  params: Record<string, unknown>;

  @ApiProperty({ format: 'date-time' })
  started_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  finished_at: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 15.3 })
  duration_seconds: number | null;

  @ApiProperty()
  total_eligible: number;

  @ApiProperty()
  processed: number;

  @ApiProperty()
  sent: number;

  @ApiProperty()
  failed: number;

  @ApiProperty()
  skipped: number;

  @ApiProperty({ description: 'Customers whose message may or may not have gone out (its row is `unknown`): not failed' })
  unknown: number;

  @ApiProperty({ type: Number, nullable: true, description: 'Percent of eligible customers processed so far' })
  progress_percent: number | null;

  @ApiProperty({ type: String, nullable: true })
  error: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'smartengage-7d9f8c-x2k4q:1',
    description: 'Instance that ran it (host:pid); null for dry runs',
  })
  holder: string | null;

  @ApiProperty({ type: RunLlmUsageDto, nullable: true, description: 'Tokens and cost of its LLM drafts; null when the LLM wrote none' })
  llm: RunLlmUsageDto | null;
}

export class JobLockDto {
  @ApiProperty({ example: 'smartengage-7d9f8c-x2k4q:1', description: 'Instance holding the lock (host:pid)' })
  holder: string;

  @ApiProperty({ example: '2026-11-24T09:00:00.012Z' })
  acquired_at: string;

  @ApiProperty({ example: '2026-11-24T09:00:20.013Z', description: 'Last renewal of the lease' })
  heartbeat_at: string;

  @ApiProperty({ example: '2026-11-24T09:00:50.013Z', description: 'When the lock frees itself unless renewed' })
  expires_at: string;
}

/** The local hours in which a campaign may send. */
export class SendWindowDto {
  @ApiProperty({ example: 9 })
  start_hour: number;

  @ApiProperty({ example: 18 })
  end_hour: number;

  @ApiProperty({ example: 'Asia/Dhaka', description: 'CAMPAIGN_TIMEZONE' })
  timezone: string;
}

export class JobStatusDto {
  @ApiProperty({ enum: ['smartengage_daily_campaign', 'smartengage_prepare'] })
  name: string;

  @ApiProperty({ type: String, nullable: true, example: '0 9 * * *', description: 'null: not scheduled (the prepare without CAMPAIGN_PREPARE_CRON)' })
  cron: string | null;

  @ApiProperty({ example: 'UTC', description: 'Time zone of the cron expression' })
  timezone: string;

  @ApiProperty({ type: SendWindowDto })
  send_window: SendWindowDto;

  @ApiProperty({ description: 'False when this replica does not schedule it (CAMPAIGN_SCHEDULER_ENABLED=false; for the prepare, also no CAMPAIGN_PREPARE_CRON or no LLM)' })
  enabled: boolean;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, example: '2026-11-25T09:00:00.000Z' })
  next_run_at: string | null;

  @ApiProperty({ description: "True while a live lease holds the job's lock" })
  running: boolean;

  @ApiProperty({ type: JobLockDto, nullable: true, description: "Who holds the job's lock, and since when" })
  lock: JobLockDto | null;

  @ApiProperty({ type: JobRunDto, nullable: true, description: 'The run in progress, with its counts' })
  current_run: JobRunDto | null;

  @ApiProperty({ type: JobRunDto, nullable: true })
  last_run: JobRunDto | null;
}

export class JobStatusResponseDto {
  @ApiProperty({ type: [JobStatusDto] })
  jobs: JobStatusDto[];
}

export class JobHistoryQueryDto {
  @ApiPropertyOptional({ example: 'smartengage' })
  @IsOptional()
  @IsString()
  type?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 20 })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value))
  @IsInt({ message: 'limit must be a whole number' })
  @Min(1, { message: 'limit must be between 1 and 200' })
  @Max(200, { message: 'limit must be between 1 and 200' })
  limit?: number;
}

export class JobHistoryResponseDto {
  @ApiProperty({ type: [JobRunDto] })
  runs: JobRunDto[];
}
