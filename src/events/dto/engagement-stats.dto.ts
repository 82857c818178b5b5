import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO8601, IsOptional } from 'class-validator';
import { Channel, MessageType, Tone } from '../../messaging/message.types';

export class EngagementStatsQueryDto {
  @ApiPropertyOptional({ format: 'date-time', example: '2025-11-01T00:00:00Z', description: 'Inclusive; defaults to 30 days before `to`' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'from must be an ISO-8601 date or date-time' })
  from?: string;

  @ApiPropertyOptional({ format: 'date-time', example: '2025-12-01T00:00:00Z', description: 'Exclusive; defaults to now' })
  @IsOptional()
  @IsISO8601({ strict: true }, { message: 'to must be an ISO-8601 date or date-time' })
  to?: string;
}

export class EngagementGroupDto {
  @ApiProperty({ enum: MessageType, example: MessageType.Reminder })
  message_type: MessageType;

  @ApiProperty({ enum: Tone, nullable: true, example: Tone.Premium })
  tone: Tone | null;

  @ApiProperty({ type: String, nullable: true, example: 'VIP20' })
  promo_code: string | null;

  @ApiProperty({ enum: Channel, example: Channel.Email })
  channel: Channel;

  @ApiProperty({ example: 120, description: 'Messages sent in the period (failed ones excluded)' })
  sent: number;

  @ApiProperty({ example: 41, description: 'Messages a reader opened (the open pixel fetched by a mail client, not a proxy prefetch)' })
  opened: number;

  @ApiProperty({
    example: 52,
    description:
      "Messages whose only opens are machine opens: the pixel fetched by a mail proxy (Apple's privacy prefetch, Google's " +
      'image proxy) within a minute of the send. They arrived; nobody is known to have read them (not in opened)',
  })
  machine_opened: number;

  @ApiProperty({ example: 30, description: 'Messages clicked at least once' })
  clicked: number;

  @ApiProperty({ example: 9, description: 'Messages followed by a non-cancelled booking of their customer within 7 days' })
  booked: number;

  @ApiProperty({
    example: 0,
    description:
      'Messages handed to the channel by a process that stopped before it answered: they may or may not have arrived, ' +
      'and are not sent again (not in sent)',
  })
  unknown: number;

  @ApiProperty({ example: 0.075, description: 'booked / sent, rounded to 4 decimals; 0 when nothing was sent' })
  conversion_rate: number;
}

export class EngagementStatsResponseDto {
  @ApiProperty({ format: 'date-time', example: '2025-11-01T00:00:00.000Z' })
  from: string;

  @ApiProperty({ format: 'date-time', example: '2025-12-01T00:00:00.000Z' })
  to: string;

  @ApiProperty({ type: [EngagementGroupDto] })
  groups: EngagementGroupDto[];
}
