import { ApiProperty } from '@nestjs/swagger';
import { Field } from '../../common/dto-fields';
import { RunLlmUsageDto } from './job-status.dto';

export class RunIdParamDto {
  @Field.uuid('id', { required: true, description: 'The job run id (job_run_id)' })
  id: string;
}

/** Where the customers a run handed to its deliveries are right now. */
export class RunProgressDto {
  @ApiProperty({ example: 12, description: 'Handed to the deliveries and not finished, with no message row yet' })
  waiting: number;

  @ApiProperty({ example: 20, description: "The run's messages being drafted or sent (queued, first attempt, or sending)" })
  active: number;

  @ApiProperty({ example: 1, description: "The run's messages waiting for another attempt (queued after a failed one)" })
  retrying: number;

  @ApiProperty({ example: 0, description: "The run's messages whose outcome is unknown (interrupted while sending)" })
  unknown: number;
}

export class RunDto {
  @ApiProperty({ format: 'uuid' })
  job_run_id: string;

  @ApiProperty({
    enum: ['RUNNING', 'PAUSED', 'DONE', 'FAILED', 'CANCELLED', 'INTERRUPTED', 'SKIPPED'],
    description: 'PAUSED and INTERRUPTED runs can be resumed; PAUSED and CANCELLED ones keep finishing the deliveries in flight until finished_at is set',
  })
  status: string;

  @ApiProperty({
    type: String,
    nullable: true,
    example: 'auto-paused: 187 of the last 200 deliveries failed (last error: 550 mailbox unavailable)',
    description: 'Why it stopped, was paused or cancelled, or failed; null for a run that is running or went through everyone',
  })
  reason: string | null;

  @ApiProperty({ format: 'date-time' })
  started_at: string;

  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When its producer last stopped; null while it runs (or, PAUSED or CANCELLED, is still stopping)',
  })
  finished_at: string | null;

  @ApiProperty()
  total_eligible: number;

  @ApiProperty({ description: 'sent + failed + skipped + unknown' })
  processed: number;

  @ApiProperty()
  sent: number;

  @ApiProperty()
  failed: number;

  @ApiProperty()
  skipped: number;

  @ApiProperty({ description: 'Customers whose message may or may not have gone out (its row is `unknown`): not failed' })
  unknown: number;

  @ApiProperty({ type: RunProgressDto })
  progress: RunProgressDto;

  @ApiProperty({ type: RunLlmUsageDto, nullable: true, description: 'Tokens and cost of its LLM drafts; null when the LLM wrote none' })
  llm: RunLlmUsageDto | null;
}
