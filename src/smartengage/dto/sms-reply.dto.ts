import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsEventTime } from '../../events/dto/record-event.dto';
import { PHONE_NUMBER_PATTERN } from '../../segmentation/contact-address';

/** A reply to one of our SMS, as the gateway forwards it. */
export class SmsReplyRequestDto {
  @ApiProperty({ example: '+8801712345678', description: 'The sender, in E.164' })
  @IsString({ message: 'from must be a phone number in E.164, e.g. +8801712345678' })
  @Matches(new RegExp(PHONE_NUMBER_PATTERN), { message: 'from must be a phone number in E.164, e.g. +8801712345678' })
  from: string;

  @ApiProperty({
    example: 'STOP',
    maxLength: 1600,
    description: 'The reply. STOP, UNSUBSCRIBE, END or বন্ধ (case and spacing ignored) opt the sender out; anything else is acknowledged and dropped',
  })
  @IsString({ message: 'text must be a string' })
  @MaxLength(1600, { message: 'text must be at most 1600 characters' })
  text: string;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2025-11-26T10:15:00Z',
    description: 'When the gateway received it; defaults to the signature timestamp. At most 5 minutes in the future.',
  })
  @IsOptional()
  @IsEventTime()
  received_at?: string;

  @ApiPropertyOptional({ example: 'gw-7f3a9c', maxLength: 200, description: "The gateway's id of the reply; logged, for tracing" })
  @IsOptional()
  @IsString({ message: 'gateway_message_id must be a string' })
  @MaxLength(200, { message: 'gateway_message_id must be at most 200 characters' })
  gateway_message_id?: string;
}

export const SMS_REPLY_OUTCOMES = ['recorded', 'duplicate', 'ignored'] as const;
export type SmsReplyOutcome = (typeof SMS_REPLY_OUTCOMES)[number];

export class SmsReplyResponseDto {
  @ApiProperty({
    enum: SMS_REPLY_OUTCOMES,
    example: 'recorded',
    description:
      'recorded: the sender was opted out; duplicate: this reply was recorded before, nothing changed; ignored: not an ' +
      'opt-out keyword, or a number that belongs to no customer',
  })
  outcome: SmsReplyOutcome;
}
