import { Body, Controller, HttpStatus, Post, Res, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ErrorResponseDto } from '../common/error-response.dto';
import { RATE_LIMITED_RESPONSE } from '../rate-limit/rate-limit.module';
import { BookingTokenClaims } from '../messaging/deep-link.service';
import { BookingClaims, BookingTokenGuard } from './booking-token.guard';
import { MessageEventResponseDto, RecordEventRequestDto } from './dto/record-event.dto';
import { EventsService } from './events.service';

/** Engagement events reported by the booking app, authorised by the token of the message's booking link. */
@ApiTags('events')
@ApiBearerAuth()
@ApiResponse(RATE_LIMITED_RESPONSE)
// The limit first: a flood of forged tokens is counted too.
@UseGuards(ThrottlerGuard, BookingTokenGuard)
@Controller('events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Post()
  @ApiOperation({
    summary: 'Record what the customer did with a message (opened, clicked, booked, unsubscribed)',
    description:
      '`Authorization: Bearer <token>` with the booking token from the message link. The same event ' +
      '(message, event_type, occurred_at) is stored once, and opens and clicks once per message and minute: ' +
      'a repeat answers 200 with `duplicate: true` and the stored event. `occurred_at` may not precede the send. ' +
      'The token from a tracked link (`/r/` redirect) records message_opened, message_clicked and ' +
      'booking_started only; booking_completed and unsubscribed need the token of the email\'s booking link.',
  })
  @ApiResponse({ status: 201, description: 'Recorded', type: MessageEventResponseDto })
  @ApiResponse({ status: 200, description: 'Already recorded; the stored event', type: MessageEventResponseDto })
  @ApiResponse({ status: 400, description: 'Invalid body; `errors` names each bad field', type: ErrorResponseDto })
  @ApiResponse({
    status: 401,
    description: 'INVALID_TOKEN: missing, forged, expired or foreign token, or no such message of its customer',
    type: ErrorResponseDto,
  })
  @ApiResponse({
    status: 403,
    description: 'INSUFFICIENT_SCOPE: a token from a tracked link, which cannot record booking_completed or unsubscribed',
    type: ErrorResponseDto,
  })
  async record(
    @BookingClaims() claims: BookingTokenClaims,
    @Body() body: RecordEventRequestDto,
    @Res({ passthrough: true }) response: Response,
  ): Promise<MessageEventResponseDto> {
    const result = await this.events.recordWithToken(claims, body);
    response.status(result.duplicate ? HttpStatus.OK : HttpStatus.CREATED);
    return result;
  }
}
