import { Body, Controller, HttpCode, HttpStatus, Post, Req, UseGuards } from '@nestjs/common';
import { ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ErrorResponseDto } from '../common/error-response.dto';
import { SmsReplyRequestDto, SmsReplyResponseDto } from './dto/sms-reply.dto';
import { SmsReplyService } from './sms-reply.service';
import { signedAt, SmsSignatureGuard } from './sms-signature.guard';

/** Replies to our SMS, forwarded by the gateway: how customers say STOP. */
@ApiTags('webhooks')
@Controller('webhooks/sms')
export class SmsReplyController {
  constructor(private readonly replies: SmsReplyService) {}

  @Post('inbound')
  @HttpCode(HttpStatus.OK)
  @UseGuards(SmsSignatureGuard)
  @ApiOperation({
    summary: 'A reply to an SMS: STOP, UNSUBSCRIBE, END or বন্ধ opts the sender out of every channel',
    description:
      'Signed with SMS_INBOUND_SECRET: X-SmartEngage-Signature is `sha256=` and the hex HMAC-SHA256 of ' +
      '`<X-SmartEngage-Timestamp>.<raw body>`. Without SMS_INBOUND_SECRET the route answers 404.',
    security: [],
  })
  @ApiHeader({ name: 'X-SmartEngage-Timestamp', required: true, description: 'Unix seconds; at most 5 minutes from now', example: '1764152100' })
  @ApiHeader({
    name: 'X-SmartEngage-Signature',
    required: true,
    description: 'sha256=<hex HMAC-SHA256 with SMS_INBOUND_SECRET over timestamp + "." + the raw body>',
    example: 'sha256=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd',
  })
  @ApiResponse({ status: 200, description: 'Acknowledged, whatever the reply said', type: SmsReplyResponseDto })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED: a field is missing or malformed (signed requests only)', type: ErrorResponseDto })
  @ApiResponse({ status: 401, description: 'UNAUTHORIZED: missing or wrong signature, or a timestamp more than 5 minutes off', type: ErrorResponseDto })
  @ApiResponse({ status: 404, description: 'NOT_FOUND: SMS_INBOUND_SECRET is not set', type: ErrorResponseDto })
  async inbound(@Body() reply: SmsReplyRequestDto, @Req() request: Request): Promise<SmsReplyResponseDto> {
    return { outcome: await this.replies.receive(reply, signedAt(request)) };
  }
}
