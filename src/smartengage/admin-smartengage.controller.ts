import { Body, Controller, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AdminApiKeyGuard } from '../auth/admin-api-key.guard';
import { ErrorResponseDto } from '../common/error-response.dto';
import { SendBulkRequestDto, SendBulkResponseDto } from './dto/send-bulk.dto';
import { SendSingleRequestDto, SendSingleResponseDto } from './dto/send-single.dto';
import { SmartEngageService } from './smartengage.service';

@ApiTags('admin')
@ApiBearerAuth()
@ApiResponse({ status: 401, description: 'Missing or wrong admin API key', type: ErrorResponseDto })
@ApiResponse({ status: 400, description: 'Invalid body; `errors` names each bad field', type: ErrorResponseDto })
@UseGuards(AdminApiKeyGuard)
@Controller('admin/smartengage')
export class AdminSmartEngageController {
  constructor(private readonly smartEngage: SmartEngageService) {}

  @Post('send-single')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Write and send one personalised Bengali reminder to one customer' })
  @ApiResponse({ status: 200, type: SendSingleResponseDto })
  @ApiResponse({ status: 404, description: 'Unknown customer or service', type: ErrorResponseDto })
  @ApiResponse({ status: 409, description: 'Customer opted out or frequency-capped', type: ErrorResponseDto })
  @ApiResponse({ status: 502, description: 'The mail server refused the message', type: ErrorResponseDto })
  sendSingle(@Body() body: SendSingleRequestDto): Promise<SendSingleResponseDto> {
    return this.smartEngage.sendSingle(body);
  }

  @Post('send-bulk')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Send a reminder to each of up to 1000 customers, in concurrent batches' })
  @ApiResponse({ status: 200, type: SendBulkResponseDto })
  @ApiResponse({ status: 404, description: 'Unknown service', type: ErrorResponseDto })
  sendBulk(@Body() body: SendBulkRequestDto): Promise<SendBulkResponseDto> {
    return this.smartEngage.sendBulk(body);
  }
}
