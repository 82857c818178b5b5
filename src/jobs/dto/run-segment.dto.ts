import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEnum, IsOptional } from 'class-validator';
import { Field } from '../../common/dto-fields';
import { SendSummaryDto } from '../../smartengage/dto/send-bulk.dto';
import { CampaignPreset } from '../campaign-presets';
import { ExperimentKeyField } from '../../experiments/dto/experiment.dto';

export class RunSegmentRequestDto {
  @Field.optionalInt('booking_cadence_days', 1, 365, { example: 21, description: 'Preset default: 21 (aggressive 14, gentle 28)' })
  booking_cadence_days?: number;

  @Field.promoCode({ example: 'SPECIAL10', description: 'An active promo code; null sends none even if the preset has one' })
  promo_code?: string | null;

  @Field.optionalInt('send_window_start', 0, 23, { example: 9, description: 'Local hour (CAMPAIGN_TIMEZONE) sending starts' })
  send_window_start?: number;

  @Field.optionalInt('send_window_end', 1, 24, { example: 18, description: 'Local hour sending stops' })
  send_window_end?: number;

  @Field.optionalInt('batch_size', 1, 1000, { example: 50, description: 'Customers per page' })
  batch_size?: number;

  @ApiPropertyOptional({ enum: CampaignPreset, example: 'default' })
  @IsOptional()
  @IsEnum(CampaignPreset, { message: 'preset must be one of: default, aggressive, gentle, weekend, sms' })
  preset?: CampaignPreset;

  @Field.channel({ default: undefined, description: "Defaults to the preset's channel (email; sms for the sms preset)" })
  channel?: 'EMAIL' | 'SMS';

  @ExperimentKeyField()
  experiment?: string;

  @ApiPropertyOptional({ default: false, description: 'List who would be messaged; send nothing' })
  @IsOptional()
  @IsBoolean({ message: 'dry_run must be true or false' })
  dry_run?: boolean;

  @ApiPropertyOptional({
    default: true,
    description: 'false: answer 202 once the run has started, and follow it at the Location (GET /internal/jobs/runs/{id})',
  })
  @IsOptional()
  @IsBoolean({ message: 'wait must be true or false' })
  wait?: boolean;
}

/** What prepare takes: the fields of run-segment that decide who the next run reaches and what it offers. */
export class PrepareRequestDto {
  @Field.optionalInt('booking_cadence_days', 1, 365, { example: 21, description: 'Preset default: 21 (aggressive 14, gentle 28)' })
  booking_cadence_days?: number;

  @ApiPropertyOptional({ enum: CampaignPreset, example: 'default' })
  @IsOptional()
  @IsEnum(CampaignPreset, { message: 'preset must be one of: default, aggressive, gentle, weekend, sms' })
  preset?: CampaignPreset;

  @Field.channel({ default: undefined, description: 'Only email drafts are prepared; the default' })
  channel?: 'EMAIL' | 'SMS';
}

/** The 202 answer of run-segment with `wait: false`, and of prepare. */
export class RunAcceptedDto {
  @ApiProperty({ format: 'uuid' })
  job_run_id: string;

  @ApiProperty({ enum: ['RUNNING'] })
  status: 'RUNNING';

  @ApiProperty()
  correlation_id: string;
}

export class RunSegmentResponseDto extends SendSummaryDto {
  @ApiProperty({ format: 'uuid' })
  job_run_id: string;

  @ApiProperty({ description: 'Customers whose message may or may not have gone out (its row is `unknown`): not failed' })
  unknown: number;

  @ApiProperty({
    enum: ['DONE', 'PAUSED', 'CANCELLED'],
    description:
      'PAUSED or CANCELLED: run control stopped it (stopped_reason says why; a PAUSED run can be resumed). ' +
      'A run that fails or is interrupted answers with an error naming the run',
  })
  status: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-24T09:00:00.000Z' })
  started_at: string;

  @ApiProperty({ format: 'date-time', example: '2026-11-24T09:00:15.300Z' })
  finished_at: string;

  @ApiProperty({ example: 'default' })
  preset: string;

  @ApiProperty({ type: String, nullable: true, example: 'SPECIAL10' })
  promo_code: string | null;

  @ApiProperty({ example: false })
  dry_run: boolean;

  @ApiProperty({ enum: ['EMAIL', 'SMS'], example: 'EMAIL' })
  channel: string;

  @ApiProperty({ description: 'True when more customers were handled than results lists (at most the first 1000)' })
  results_truncated: boolean;

  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'Why the run ended before every eligible customer was handled (the send window closed, paused, cancelled); ' +
      'null when it went through them all',
    example: null,
  })
  stopped_reason: string | null;
}
