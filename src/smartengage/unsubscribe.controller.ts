import { Controller, Get, Header, HttpCode, HttpStatus, Param, Post, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto';
import { RATE_LIMITED_RESPONSE } from '../rate-limit/rate-limit.module';
import { OptOutService } from './opt-out.service';
import { confirmationPage, unsubscribedPage } from './unsubscribe.pages';

/**
 * The List-Unsubscribe target. POST opts out at once (RFC 8058 one-click, sent by mail clients);
 * GET, which link scanners also fetch, only shows a page whose button posts.
 */
@ApiTags('public')
@ApiParam({ name: 'token', description: 'The signed token from the message' })
@ApiResponse({ status: 400, description: 'Invalid or forged token', type: ErrorResponseDto })
@ApiResponse(RATE_LIMITED_RESPONSE)
@UseGuards(ThrottlerGuard)
@Controller('unsubscribe')
export class UnsubscribeController {
  constructor(private readonly optOut: OptOutService) {}

  @Get(':token')
  @ApiOperation({ summary: 'Confirmation page with a one-click unsubscribe button' })
  @ApiProduces('text/html')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(@Param('token') token: string): string {
    this.optOut.verify(token);
    return confirmationPage(token);
  }

  @Post(':token')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Opt the customer out at once (RFC 8058 one-click)' })
  @ApiProduces('text/html')
  @Header('Content-Type', 'text/html; charset=utf-8')
  async unsubscribe(@Param('token') token: string): Promise<string> {
    await this.optOut.optOut(token, 'unsubscribe_link');
    return unsubscribedPage();
  }
}
