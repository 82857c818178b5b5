import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEnum, IsIn, IsInt, IsOptional, Matches, Max, Min } from 'class-validator';
import { MessageType } from '../../messaging/message.types';
import { upperCase, UUID_SHAPE } from './transforms';

export class SendSingleRequestDto {
  @ApiProperty({ format: 'uuid', example: '229211b0-9cf4-4e36-b707-d593034bfb0f' })
  @Matches(UUID_SHAPE, { message: 'customer_id must be a UUID' })
  customer_id: string;

  @ApiProperty({ enum: ['reminder', 'promotional', 'winback'], example: 'reminder' })
  @Transform(upperCase)
  @IsEnum(MessageType, { message: 'message_type must be one of: reminder, promotional, winback' })
  message_type: MessageType;

  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    example: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    description: "Defaults to the service of the customer's last booking",
  })
  @IsOptional()
  @Matches(UUID_SHAPE, { message: 'service_id must be a UUID' })
  service_id?: string | null;

  @ApiPropertyOptional({ nullable: true, example: 'VIP20', description: 'An active code from the promo_codes table' })
  @IsOptional()
  @Transform(upperCase)
  @Matches(/^[A-Z0-9]{3,20}$/, { message: 'promo_code must be 3-20 letters or digits' })
  promo_code?: string | null;

  @ApiPropertyOptional({ minimum: 1, maximum: 168, default: 48, example: 48, description: 'Lifetime of the booking link' })
  @IsOptional()
  @IsInt({ message: 'ttl_hours must be a whole number' })
  @Min(1, { message: 'ttl_hours must be between 1 and 168' })
  @Max(168, { message: 'ttl_hours must be between 1 and 168' })
  ttl_hours?: number;

  @ApiPropertyOptional({ enum: ['email'], default: 'email', example: 'email' })
  @IsOptional()
  @Transform(upperCase)
  @IsIn(['EMAIL'], { message: 'channel must be email' })
  channel?: 'EMAIL';
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

  @ApiProperty({ example: 'EMAIL' })
  channel: string;

  @ApiPropertyOptional({ example: 'VIP20' })
  promo_code?: string;

  @ApiProperty({ example: 'Reminder sent successfully' })
  message: string;
}
