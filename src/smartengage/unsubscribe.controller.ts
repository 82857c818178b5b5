import { Controller, Get, Header, HttpCode, HttpStatus, Param, Post, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ApiOperation, ApiParam, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../common/error-response.dto';
import { IgnoresUndeclaredQuery } from '../common/undeclared-query';
import { RATE_LIMITED_RESPONSE } from '../rate-limit/rate-limit.module';
import { OptOutService } from './opt-out.service';
import { confirmationPage, unsubscribedPage } from './unsubscribe.pages';

const HTML = { 'text/html': { schema: { type: 'string' } } };

/**
 * The List-Unsubscribe target. POST opts out at once (RFC 8058 one-click, sent by mail clients);
 * GET, which link scanners also fetch, only shows a page whose button posts.
 */
@ApiTags('public')
@ApiParam({ name: 'token', description: 'The signed token from the message' })
@ApiResponse({ status: 400, description: 'Invalid or forged token', type: ErrorResponseDto })
@ApiResponse(RATE_LIMITED_RESPONSE)
@IgnoresUndeclaredQuery()
@UseGuards(ThrottlerGuard)
@Controller('unsubscribe')
export class UnsubscribeController {
  constructor(private readonly optOut: OptOutService) {}

  @Get(':token')
  @ApiOperation({ summary: 'Confirmation page with a one-click unsubscribe button', security: [] })
  @ApiResponse({ status: 200, description: 'The page', content: HTML })
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  page(@Param('token') token: string): string {
    this.optOut.verify(token);
    return confirmationPage(token);
  }

  @Post(':token')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Opt the customer out at once (RFC 8058 one-click)', security: [] })
  @ApiResponse({ status: 200, description: 'Opted out; a page saying so', content: HTML })
  @ApiResponse({ status: 404, description: 'CUSTOMER_NOT_FOUND: the link belongs to no customer', type: ErrorResponseDto })
  @Header('Content-Type', 'text/html; charset=utf-8')
  async unsubscribe(@Param('token') token: string): Promise<string> {
    await this.optOut.optOut(token, 'unsubscribe_link');
    return unsubscribedPage();
  }
}
