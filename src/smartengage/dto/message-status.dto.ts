import { ApiProperty } from '@nestjs/swagger';
import { Field } from '../../common/dto-fields';

export class MessageIdParamDto {
  @Field.uuid('id', { required: true, description: 'The message id (message_id of send-single, send-bulk or a run)' })
  id: string;
}

/** One message's state: what send-single and send-bulk answer `queued` for is followed here. */
export class MessageStatusDto {
  @ApiProperty({ format: 'uuid' })
  message_id: string;

  @ApiProperty({ format: 'uuid' })
  customer_id: string;

  @ApiProperty({ enum: ['EMAIL', 'SMS'], example: 'EMAIL' })
  channel: string;

  @ApiProperty({
    example: 'queued',
    description:
      'queued (waiting for its first attempt or a retry), sending, sent, delivered, opened, clicked, booked, ' +
      'unsubscribed, failed, or unknown (handed to the channel by a process that died: it may or may not have gone)',
  })
  status: string;

  @ApiProperty({ example: 1, description: 'Hand-overs to the mail server or SMS gateway so far' })
  attempts: number;

  @ApiProperty({ type: String, nullable: true, example: '451 Greylisted, please try again later' })
  last_error: string | null;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ format: 'date-time' })
  updated_at: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true })
  sent_at: string | null;
}
