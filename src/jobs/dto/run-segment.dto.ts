import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsEnum, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { upperCase } from '../../smartengage/dto/transforms';
import { CampaignPreset } from '../campaign-presets';

export class RunSegmentRequestDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 365, example: 21, description: 'Preset default: 21 (aggressive 14, gentle 28)' })
  @IsOptional()
  @IsInt({ message: 'booking_cadence_days must be a whole number' })
  @Min(1, { message: 'booking_cadence_days must be between 1 and 365' })
  @Max(365, { message: 'booking_cadence_days must be between 1 and 365' })
  booking_cadence_days?: number;

  @ApiPropertyOptional({ nullable: true, example: 'SPECIAL10', description: 'null sends no promo even if the preset has one' })
  @IsOptional()
  @Transform(upperCase)
  @Matches(/^[A-Z0-9]{3,20}$/, { message: 'promo_code must be 3-20 letters or digits' })
  promo_code?: string | null;

  @ApiPropertyOptional({ minimum: 0, maximum: 23, example: 9, description: 'Local hour (CAMPAIGN_TIMEZONE) sending starts' })
  @IsOptional()
  @IsInt({ message: 'send_window_start must be a whole hour' })
  @Min(0, { message: 'send_window_start must be between 0 and 23' })
  @Max(23, { message: 'send_window_start must be between 0 and 23' })
  send_window_start?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 24, example: 18, description: 'Local hour sending stops' })
  @IsOptional()
  @IsInt({ message: 'send_window_end must be a whole hour' })
  @Min(1, { message: 'send_window_end must be between 1 and 24' })
  @Max(24, { message: 'send_window_end must be between 1 and 24' })
  send_window_end?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, example: 50, description: 'Customers per page' })
  @IsOptional()
  @IsInt({ message: 'batch_size must be a whole number' })
  @Min(1, { message: 'batch_size must be between 1 and 1000' })
  @Max(1000, { message: 'batch_size must be between 1 and 1000' })
  batch_size?: number;

  @ApiPropertyOptional({ enum: CampaignPreset, example: 'default' })
  @IsOptional()
  @IsEnum(CampaignPreset, { message: 'preset must be one of: default, aggressive, gentle, weekend' })
  preset?: CampaignPreset;

  @ApiPropertyOptional({ default: false, description: 'List who would be messaged; send nothing' })
  @IsOptional()
  @IsBoolean({ message: 'dry_run must be true or false' })
  dry_run?: boolean;
}

export class CampaignResultDto {
  @ApiProperty({ format: 'uuid' })
  customer_id: string;

  @ApiProperty()
  success: boolean;

  @ApiPropertyOptional({ format: 'uuid' })
  message_id?: string;

  @ApiPropertyOptional({ example: 'frequency_capped' })
  reason?: string;
}

export class RunSegmentResponseDto {
  @ApiProperty({ format: 'uuid' })
  job_run_id: string;

  @ApiProperty({ enum: ['DONE', 'FAILED'] })
  status: string;

  @ApiProperty()
  correlation_id: string;

  @ApiProperty({ example: '2026-11-24T09:00:00.000Z' })
  started_at: string;

  @ApiProperty({ example: '2026-11-24T09:00:15.300Z' })
  finished_at: string;

  @ApiProperty({ example: 15.3 })
  duration_seconds: number;

  @ApiProperty({ example: 'default' })
  preset: string;

  @ApiProperty({ nullable: true, example: 'SPECIAL10' })
  promo_code: string | null;

  @ApiProperty({ example: false })
  dry_run: boolean;

  @ApiProperty({ example: 3 })
  total_eligible: number;

  @ApiProperty({ example: 3 })
  sent: number;

  @ApiProperty({ example: 0 })
  failed: number;

  @ApiProperty({ example: 0 })
  skipped: number;

  @ApiProperty({ type: [CampaignResultDto], description: 'The first 1000 customers handled' })
  results: CampaignResultDto[];

  @ApiProperty({ description: 'True when more customers were handled than results lists' })
  results_truncated: boolean;
}
