import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsOptional, Matches } from 'class-validator';
import { Transform } from 'class-transformer';
import { Field, lowerCase, UUID_SHAPE } from '../../common/dto-fields';
import { MessageType } from '../../messaging/message.types';
import { MessageTypeField } from '../../messaging/dto/message-type.field';

const MAX_BULK_CUSTOMERS = 1000;

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
  @Transform(lowerCase)
  @IsArray({ message: 'customer_ids must be an array of UUIDs' })
  @ArrayMinSize(1, { message: 'customer_ids must not be empty' })
  @ArrayMaxSize(MAX_BULK_CUSTOMERS, { message: `customer_ids may hold at most ${MAX_BULK_CUSTOMERS} ids` })
  @ArrayUnique({ message: 'customer_ids must not repeat an id' })
  @Matches(UUID_SHAPE, { each: true, message: 'each of customer_ids must be a UUID' })
  customer_ids: string[];

  @MessageTypeField()
  message_type: MessageType;

  @Field.optionalInt('booking_cadence_days', 1, 365, {
    example: 21,
    description: 'Skip customers whose last booking is more recent than this many days',
  })
  booking_cadence_days?: number | null;

  @Field.uuid('service_id', { description: "Defaults to each customer's last service" })
  service_id?: string | null;

  @Field.promoCode({ example: 'DEMO15' })
  promo_code?: string | null;

  @Field.optionalInt('batch_size', 1, 100, { default: 10, description: 'How many customers are sent to at once' })
  batch_size?: number;

  @ApiPropertyOptional({ default: false, description: 'Ignore frequency caps (never opt-outs)' })
  @IsOptional()
  @IsBoolean({ message: 'bypass_frequency_caps must be true or false' })
  bypass_frequency_caps?: boolean;

  @Field.optionalInt('ttl_hours', 1, 168, { default: 48 })
  ttl_hours?: number;

  @Field.channel()
  channel?: 'EMAIL' | 'SMS';
}

/** One customer's outcome in a bulk send or a campaign run. */
export class CustomerResultDto {
  @ApiProperty({ format: 'uuid' })
  customer_id: string;

  @ApiProperty()
  success: boolean;

  @ApiPropertyOptional({ format: 'uuid' })
  message_id?: string;

  @ApiPropertyOptional({
    example: 'frequency_capped',
    description:
      'Why the customer got no message: customer_not_found, opted_out, frequency_capped, no_email_address, no_phone_number, invalid_email_address, invalid_phone_number, sms_quiet_hours, no_booking_history, not_due, already_messaged_today, safety_rejected, delivery_failed, internal_error (dry_run in a campaign preview); queued when no worker reported back within SEND_WAIT_SECONDS (queue mode: sent when one takes the job)',
  })
  reason?: string;
}

/** The counts and per-customer results every multi-customer send returns. */
export class SendSummaryDto {
  @ApiProperty({ example: 3, description: 'Customers found and due for a message' })
  total_eligible: number;

  @ApiProperty({ example: 3 })
  sent: number;

  @ApiProperty({ example: 0 })
  failed: number;

  @ApiProperty({ example: 0 })
  skipped: number;

  @ApiProperty({ type: [CustomerResultDto] })
  results: CustomerResultDto[];

  @ApiProperty({ example: 0.42 })
  duration_seconds: number;

  @ApiProperty()
  correlation_id: string;
}

export class SendBulkResponseDto extends SendSummaryDto {
  @ApiProperty({
    enum: ['completed', 'completed_with_errors', 'queued'],
    example: 'completed',
    description: 'queued (HTTP 202, queue mode): some customers are still waiting for a worker after SEND_WAIT_SECONDS',
  })
  status: string;

  @ApiProperty({ example: 0, description: 'Customers whose message is still queued (each result has its message_id)' })
  queued: number;
}
