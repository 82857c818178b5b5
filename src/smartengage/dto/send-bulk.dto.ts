import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsEnum,
  IsIn,
  IsInt,
  IsOptional,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { MessageType } from '../../messaging/message.types';
import { upperCase, UUID_SHAPE } from './transforms';

export const MAX_BULK_CUSTOMERS = 1000;

export class SendBulkRequestDto {
  @ApiProperty({
    type: [String],
    format: 'uuid',
    example: [
      '229211b0-9cf4-4e36-b707-d593034bfb0f',
      '201df462-8e81-475b-9b9b-2a2946218312',
      '55a91395-0760-4c57-a7db-ad97f2256917',
    ],
  })
  @IsArray({ message: 'customer_ids must be an array of UUIDs' })
  @ArrayMinSize(1, { message: 'customer_ids must not be empty' })
  @ArrayMaxSize(MAX_BULK_CUSTOMERS, { message: `customer_ids may hold at most ${MAX_BULK_CUSTOMERS} ids` })
  @ArrayUnique({ message: 'customer_ids must not repeat an id' })
  @Matches(UUID_SHAPE, { each: true, message: 'each of customer_ids must be a UUID' })
  customer_ids: string[];

  @ApiProperty({ enum: ['reminder', 'promotional', 'winback'], example: 'reminder' })
  @Transform(upperCase)
  @IsEnum(MessageType, { message: 'message_type must be one of: reminder, promotional, winback' })
  message_type: MessageType;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 365,
    example: 21,
    description: 'Skip customers whose last booking is more recent than this many days',
  })
  @IsOptional()
  @IsInt({ message: 'booking_cadence_days must be a whole number' })
  @Min(1, { message: 'booking_cadence_days must be between 1 and 365' })
  @Max(365, { message: 'booking_cadence_days must be between 1 and 365' })
  booking_cadence_days?: number | null;

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: "Defaults to each customer's last service" })
  @IsOptional()
  @Matches(UUID_SHAPE, { message: 'service_id must be a UUID' })
  service_id?: string | null;

  @ApiPropertyOptional({ nullable: true, example: 'DEMO15' })
  @IsOptional()
  @Transform(upperCase)
  @Matches(/^[A-Z0-9]{3,20}$/, { message: 'promo_code must be 3-20 letters or digits' })
  promo_code?: string | null;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 10, description: 'How many customers are sent to at once' })
  @IsOptional()
  @IsInt({ message: 'batch_size must be a whole number' })
  @Min(1, { message: 'batch_size must be between 1 and 100' })
  @Max(100, { message: 'batch_size must be between 1 and 100' })
  batch_size?: number;

  @ApiPropertyOptional({ default: false, description: 'Ignore frequency caps (never opt-outs)' })
  @IsOptional()
  @IsBoolean({ message: 'bypass_frequency_caps must be true or false' })
  bypass_frequency_caps?: boolean;

  @ApiPropertyOptional({ minimum: 1, maximum: 168, default: 48 })
  @IsOptional()
  @IsInt({ message: 'ttl_hours must be a whole number' })
  @Min(1, { message: 'ttl_hours must be between 1 and 168' })
  @Max(168, { message: 'ttl_hours must be between 1 and 168' })
  ttl_hours?: number;

  @ApiPropertyOptional({ enum: ['email'], default: 'email' })
  @IsOptional()
  @Transform(upperCase)
  @IsIn(['EMAIL'], { message: 'channel must be email' })
  channel?: 'EMAIL';
}

export class BulkResultDto {
  @ApiProperty({ format: 'uuid' })
  customer_id: string;

  @ApiProperty()
  success: boolean;

  @ApiPropertyOptional({ format: 'uuid' })
  message_id?: string;

  @ApiPropertyOptional({
    example: 'frequency_capped',
    description:
      'Why the customer got no message: customer_not_found, opted_out, frequency_capped, no_email_address, no_booking_history, not_due, safety_rejected, delivery_failed',
  })
  reason?: string;
}

export class SendBulkResponseDto {
  @ApiProperty({ enum: ['completed', 'completed_with_errors'], example: 'completed' })
  status: string;

  @ApiProperty({ example: 3, description: 'Customers found and due for a message' })
  total_eligible: number;

  @ApiProperty({ example: 3 })
  sent: number;

  @ApiProperty({ example: 0 })
  failed: number;

  @ApiProperty({ example: 0 })
  skipped: number;

  @ApiProperty({ type: [BulkResultDto] })
  results: BulkResultDto[];

  @ApiProperty({ example: 0.42 })
  duration_seconds: number;

  @ApiProperty()
  correlation_id: string;
}
