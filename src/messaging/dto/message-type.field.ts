import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEnum } from 'class-validator';
import { upperCase } from '../../common/dto-fields';
import { MessageType } from '../message.types';

/** The `message_type` request field: reminder, promotional or winback, in any case. */
export function MessageTypeField() {
  return applyDecorators(
    ApiProperty({ enum: ['reminder', 'promotional', 'winback'], example: 'reminder' }),
    Transform(upperCase),
    IsEnum(MessageType, { message: 'message_type must be one of: reminder, promotional, winback' }),
  );
}
