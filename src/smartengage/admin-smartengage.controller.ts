import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { MessageIdParamDto, MessageStatusDto } from './dto/message-status.dto';
import { SendBulkRequestDto, SendBulkResponseDto } from './dto/send-bulk.dto';
import { SendSingleRequestDto, SendSingleResponseDto } from './dto/send-single.dto';
import { MessageStatusService } from './message-status.service';
import { SmartEngageService } from './smartengage.service';

@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin API key', type: ErrorResponseDto })
@ApiResponse({ status: 400, description: 'Invalid body; `errors` names each bad field', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('admin/smartengage')
export class AdminSmartEngageController {
  constructor(
    private readonly smartEngage: SmartEngageService,
    private readonly messages: MessageStatusService,
  ) {}

  @Post('send-single')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Write and send one personalised Bengali reminder to one customer' })
  @ApiResponse({ status: 200, type: SendSingleResponseDto })
  @ApiResponse({ status: 404, description: 'Unknown customer or service', type: ErrorResponseDto })
  @ApiResponse({ status: 409, description: 'Customer opted out or frequency-capped', type: ErrorResponseDto })
  @ApiResponse({ status: 202, type: SendSingleResponseDto, description: 'Queue mode: no worker reported back within SEND_WAIT_SECONDS; status `queued`' })
  @ApiResponse({ status: 502, description: 'The mail server refused the message', type: ErrorResponseDto })
  async sendSingle(@Body() body: SendSingleRequestDto, @Res({ passthrough: true }) res: Response): Promise<SendSingleResponseDto> {
    const answer = await this.smartEngage.sendSingle(body);
    if (answer.status === 'queued') res.status(HttpStatus.ACCEPTED).location(messageLocation(answer.message_id));
    return answer;
  }

  @Post('send-bulk')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Send a reminder to each of up to 1000 customers, in concurrent batches' })
  @ApiResponse({ status: 200, type: SendBulkResponseDto })
  @ApiResponse({ status: 202, type: SendBulkResponseDto, description: 'Queue mode: some customers still queued after SEND_WAIT_SECONDS' })
  @ApiResponse({ status: 404, description: 'Unknown service', type: ErrorResponseDto })
  async sendBulk(@Body() body: SendBulkRequestDto, @Res({ passthrough: true }) res: Response): Promise<SendBulkResponseDto> {
    const answer = await this.smartEngage.sendBulk(body);
    if (answer.status === 'queued') res.status(HttpStatus.ACCEPTED);
    return answer;
  }

  @Get('messages/:id')
  @ApiOperation({ summary: "One message's state, attempts and last error (follows a send answered `queued`)" })
  @ApiResponse({ status: 200, type: MessageStatusDto })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED: `id` is not a UUID', type: ErrorResponseDto })
  @ApiResponse({ status: 404, description: 'MESSAGE_NOT_FOUND: no message has this id', type: ErrorResponseDto })
  message(@Param() { id }: MessageIdParamDto): Promise<MessageStatusDto> {
    return this.messages.get(id);
  }
}

/** Where a queued message is followed: the Location of send-single's 202. */
const messageLocation = (id: string) => `/admin/smartengage/messages/${id}`;
