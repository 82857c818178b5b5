import { Controller, Get, Header, Headers, Ip, Param, Redirect, StreamableFile, UseGuards } from '@nestjs/common';
import { SkipThrottle, ThrottlerGuard } from '@nestjs/throttler';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto';
import { IgnoresUndeclaredQuery } from '../common/undeclared-query';
import { CLICK_RATE_LIMITED_RESPONSE, ClickRateLimit } from '../rate-limit/rate-limit.module';
import { TrackingService } from './tracking.service';

/** A 1×1 transparent GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const CODE_PARAM = {
  name: 'code',
  description: 'The code of the message in its link: 22 base64url characters (not derivable from the message id)',
  example: 'Twxsfi0bTIqaUwwdXpt6EQ',
};

/** Public tracking links carried by messages; they need no credentials and reveal nothing. */
@ApiTags('public')
@IgnoresUndeclaredQuery()
@UseGuards(ThrottlerGuard)
@Controller()
export class TrackingController {
  constructor(private readonly tracking: TrackingService) {}

  @Get('r/:code')
  @ClickRateLimit()
  @Redirect()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Record a click and redirect to the booking page with a fresh click-scoped token', security: [] })
  @ApiParam(CODE_PARAM)
  @ApiResponse({
    status: 302,
    description: 'To BOOKING_BASE_URL?token=…&promo=…; without the token once the link has expired',
    headers: {
      Location: {
        description: 'The booking link',
        schema: { type: 'string', format: 'uri' },
        example: 'https://app.sheba.xyz/book?token=eyJhbGciOi…&promo=VIP20',
      },
    },
  })
  @ApiResponse({ status: 404, description: 'MESSAGE_NOT_FOUND: unknown or malformed code', type: ErrorResponseDto })
  @ApiResponse(CLICK_RATE_LIMITED_RESPONSE)
  async click(@Param('code') code: string): Promise<{ url: string; statusCode: number }> {
    return { url: await this.tracking.click(code), statusCode: 302 };
  }

  @Get('o/:code')
  @SkipThrottle()
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Open-tracking pixel (`/o/<code>.gif`): records message_opened (machine_open for a mail proxy\'s prefetch), answers a 1×1 GIF',
    description: 'Never refused: past OPEN_RECORD_LIMIT_PER_MINUTE opens from one IP in a minute the GIF is served and nothing recorded.',
    security: [],
  })
  @ApiParam({ ...CODE_PARAM, description: `${CODE_PARAM.description}, optionally followed by .gif`, example: `${CODE_PARAM.example}.gif` })
  @ApiResponse({
    status: 200,
    description: 'Always the GIF, for unknown codes and past the recording limit too',
    content: { 'image/gif': { schema: { type: 'string', format: 'binary' } } },
  })
  async open(@Param('code') code: string, @Ip() ip: string, @Headers('user-agent') userAgent?: string): Promise<StreamableFile> {
    await this.tracking.open(code.replace(/\.gif$/i, ''), { ip, userAgent });
    return new StreamableFile(PIXEL, { type: 'image/gif', length: PIXEL.length });
  }
}
