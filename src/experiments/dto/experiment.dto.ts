import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { Field, lowerCase } from '../../common/dto-fields';
import { GeneratorKind, Tone } from '../../messaging/message.types';

export const EXPERIMENT_KEY = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const KEY_MESSAGE = 'must be a slug: lower-case letters and digits, words joined by single hyphens, at most 64 characters';

/** The `experiment` field of run-segment and send-bulk. */
export function ExperimentKeyField() {
  return applyDecorators(
    ApiPropertyOptional({
      example: 'reminder-worth-it',
      description: 'Key of a running experiment: its holdout gets no message, its variants override the send',
    }),
    IsOptional(),
    Transform(lowerCase),
    IsString({ message: 'experiment must be an experiment key' }),
    Matches(EXPERIMENT_KEY, { message: `experiment ${KEY_MESSAGE}` }),
    MaxLength(64, { message: `experiment ${KEY_MESSAGE}` }),
  );
}

export class VariantDto {
  @ApiProperty({ example: 'premium', description: 'Unique within the experiment; not `holdout`' })
  @IsString({ message: 'name must be a string' })
  @Matches(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'name must be 1-40 lower-case letters, digits, - or _' })
  name: string;

  @ApiProperty({ example: 1, description: 'Share of the non-holdout customers, relative to the other variants' })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'weight must be a positive number' })
  @Min(0.001, { message: 'weight must be a positive number' })
  @Max(1000, { message: 'weight must be at most 1000' })
  weight: number;

  @ApiPropertyOptional({ enum: GeneratorKind, description: "Who writes the prose; the send's default when absent" })
  @IsOptional()
  @IsIn(Object.values(GeneratorKind), { message: 'generator must be template or openai' })
  generator?: GeneratorKind;

  @Field.promoCode({ example: 'VIP20', description: "An active promo code; null sends none; the send's code when absent" })
  promo_code?: string | null;

  @ApiPropertyOptional({ enum: Tone, description: "The message's voice; chosen from the booking history when absent" })
  @IsOptional()
  @IsIn(Object.values(Tone), { message: 'tone must be welcoming, friendly or premium' })
  tone?: Tone;
}

export class CreateExperimentDto {
  @ApiProperty({ example: 'reminder-worth-it' })
  @IsString({ message: `key ${KEY_MESSAGE}` })
  @Matches(EXPERIMENT_KEY, { message: `key ${KEY_MESSAGE}` })
  @MaxLength(64, { message: `key ${KEY_MESSAGE}` })
  key: string;

  @ApiPropertyOptional({ example: 'Does the reminder cause bookings, and which tone works best?' })
  @IsOptional()
  @IsString({ message: 'description must be a string' })
  @MaxLength(500, { message: 'description must be at most 500 characters' })
  description?: string;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 50, example: 10, description: 'Customers who get no message, in percent' })
  @IsInt({ message: 'holdout_percent must be a whole number between 0 and 50' })
  @Min(0, { message: 'holdout_percent must be between 0 and 50' })
  @Max(50, { message: 'holdout_percent must be between 0 and 50' })
  holdout_percent: number;

  @ApiProperty({ type: [VariantDto] })
  @IsArray({ message: 'variants must be an array' })
  @ArrayMinSize(1, { message: 'variants must hold at least one variant' })
  @ArrayMaxSize(10, { message: 'variants may hold at most 10 variants' })
  @ValidateNested({ each: true })
  @Type(() => VariantDto)
  variants: VariantDto[];

  @Field.optionalInt('attribution_days', 1, 90, { default: 7, description: 'Bookings within this many days of the assignment convert' })
  attribution_days?: number;

  @Field.channel({ default: undefined, description: 'Only sends on this channel may name the experiment; any when absent' })
  channel?: 'EMAIL' | 'SMS';
}

export class IntervalDto {
  @ApiProperty({ example: 0.0281 })
  lower: number;

  @ApiProperty({ example: 0.0418 })
  upper: number;
}

export class VariantResponseDto {
  @ApiProperty({ example: 'premium' })
  name: string;

  @ApiProperty({ example: 1 })
  weight: number;

  @ApiPropertyOptional({ enum: GeneratorKind })
  generator?: GeneratorKind;

  @ApiPropertyOptional({ type: String, nullable: true })
  promo_code?: string | null;

  @ApiPropertyOptional({ enum: Tone })
  tone?: Tone;
}

export class ExperimentResponseDto {
  @ApiProperty({ example: 'reminder-worth-it' })
  key: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({ example: 10 })
  holdout_percent: number;

  @ApiProperty({ type: [VariantResponseDto] })
  variants: VariantResponseDto[];

  @ApiProperty({ example: 7 })
  attribution_days: number;

  @ApiProperty({ type: String, nullable: true, enum: ['EMAIL', 'SMS'] })
  channel: string | null;

  @ApiProperty({ enum: ['running', 'stopped'] })
  status: 'running' | 'stopped';

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  stopped_at: string | null;
}

export class ExperimentListDto {
  @ApiProperty({ type: [ExperimentResponseDto] })
  experiments: ExperimentResponseDto[];
}

export class ArmResultDto {
  @ApiProperty({ example: 'premium', description: '`holdout`, or a variant name' })
  name: string;

  @ApiProperty({ example: 1000 })
  assigned: number;

  @ApiProperty({ example: 985, description: 'Assigned customers sent a message within the attribution window' })
  messaged: number;

  @ApiProperty({ example: 120 })
  clicked: number;

  @ApiProperty({ example: 50, description: 'Customers with a non-cancelled booking within attribution_days of their assignment' })
  converted: number;

  @ApiProperty({ type: Number, nullable: true, example: 0.05 })
  conversion_rate: number | null;

  @ApiProperty({ type: IntervalDto, nullable: true, description: '95% Wilson interval' })
  conversion_rate_ci: IntervalDto | null;

  @ApiPropertyOptional({ type: Number, nullable: true, example: 0.02, description: 'Variants: rate minus the holdout rate (0.02 is 2 points)' })
  absolute_uplift?: number | null;

  @ApiPropertyOptional({ type: IntervalDto, nullable: true, description: '95%, unpooled standard error' })
  absolute_uplift_ci?: IntervalDto | null;

  @ApiPropertyOptional({ type: Number, nullable: true, example: 0.667, description: 'Variants: rate / holdout rate - 1' })
  relative_uplift?: number | null;

  @ApiPropertyOptional({ type: IntervalDto, nullable: true, description: '95%, delta method' })
  relative_uplift_ci?: IntervalDto | null;

  @ApiPropertyOptional({ type: Number, nullable: true, example: 0.022, description: 'Two-sided two-proportion z-test against the holdout' })
  p_value?: number | null;
}

export class ExperimentResultsDto {
  @ApiProperty({ example: 'reminder-worth-it' })
  key: string;

  @ApiProperty({ enum: ['running', 'stopped'] })
  status: 'running' | 'stopped';

  @ApiProperty({ example: 7 })
  attribution_days: number;

  @ApiProperty({ type: [ArmResultDto] })
  arms: ArmResultDto[];

  @ApiProperty({ type: Number, nullable: true, description: "Pearson chi-square of the assigned counts against the configured split" })
  srm_p_value: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'Set when srm_p_value < 0.001: do not trust the uplift' })
  srm_warning: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'premium' })
  best_variant: string | null;

  @ApiProperty({ type: Boolean, nullable: true, description: 'Whether the best variant beats the runner-up significantly' })
  best_beats_runner_up: boolean | null;

  @ApiProperty({ type: [String], example: ['premium converts 2.1 points better than no message (95% CI 0.4 to 3.8, p = 0.014)'] })
  verdict: string[];
}
