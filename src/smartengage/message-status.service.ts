import { Injectable } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/app.exception';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { MessageStatusDto } from './dto/message-status.dto';

/** A message's state for operators: where a send answered `queued` went next. */
@Injectable()
export class MessageStatusService {
  constructor(private readonly messages: AiMessageRepository) {}

  async get(id: string): Promise<MessageStatusDto> {
    const row = await this.messages.findById(id);
    if (!row) throw AppException.notFound(ErrorCode.MessageNotFound, `message ${id} does not exist`);
    return {
      message_id: row.id,
      customer_id: row.userId,
      channel: row.channel,
      status: row.deliveryStatus,
      attempts: row.attempts,
      last_error: row.lastError,
      created_at: row.createdAt.toISOString(),
      updated_at: row.updatedAt.toISOString(),
      sent_at: row.sentAt?.toISOString() ?? null,
    };
  }
}
