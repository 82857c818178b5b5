import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Field } from '../../common/dto-fields';
import { MessageType } from '../../messaging/message.types';
import { MessageTypeField } from '../../messaging/dto/message-type.field';

export class SendSingleRequestDto {
  @Field.uuid('customer_id', { required: true, example: '229211b0-9cf4-4e36-b707-d593034bfb0f' })
  customer_id: string;

  @MessageTypeField()
  message_type: MessageType;

  @Field.uuid('service_id', {
    example: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    description: "Defaults to the service of the customer's last booking",
  })
  service_id?: string | null;

  @Field.promoCode({ example: 'VIP20' })
  promo_code?: string | null;

  @Field.optionalInt('ttl_hours', 1, 168, { default: 48, example: 48, description: 'Lifetime of the booking link' })
  ttl_hours?: number;

  @Field.channel()
  channel?: 'EMAIL' | 'SMS';
}

export class SendSingleResponseDto {
  @ApiProperty({ example: true })
  success: boolean;

  @ApiProperty({ format: 'uuid' })
  message_id: string;

  @ApiProperty({ format: 'uuid', example: '229211b0-9cf4-4e36-b707-d593034bfb0f' })
  customer_id: string;

  @ApiProperty({ example: '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11' })
  correlation_id: string;

  @ApiProperty({ enum: ['EMAIL', 'SMS'], example: 'EMAIL' })
  channel: string;

  @ApiPropertyOptional({ example: 'VIP20' })
  promo_code?: string;

  @ApiProperty({
    enum: ['sent', 'queued'],
    example: 'sent',
    description: 'queued (HTTP 202, queue mode): no worker reported back within SEND_WAIT_SECONDS; it is sent when one takes the job',
  })
  status: 'sent' | 'queued';

  @ApiProperty({ example: 'Reminder sent successfully' })
  message: string;
}
