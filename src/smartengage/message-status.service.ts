import { Injectable, Optional } from '@nestjs/common';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { DeliveryJobProbe } from '../messaging/delivery-job-probe';
import { MessageStatusDto } from './dto/message-status.dto';
import { messageNotFound } from './smartengage.exceptions';

/** A message's state for operators: where a send answered `queued` went next. */
@Injectable()
export class MessageStatusService {
  constructor(
    private readonly messages: AiMessageRepository,
    @Optional() private readonly queue?: DeliveryJobProbe,
  ) {}

  async get(id: string): Promise<MessageStatusDto> {
    const row = await this.messages.findById(id);
    if (!row) return this.waiting(id);
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

  /** Queue mode: the worker writes the row when it takes the job, so a job no worker took yet is the message. */
  private async waiting(id: string): Promise<MessageStatusDto> {
    const job = await this.queue?.findJob(id);
    if (!job) throw messageNotFound(id);
    const enqueuedAt = job.enqueuedAt.toISOString();
    return {
      message_id: id,
      customer_id: job.customerId,
      channel: job.channel,
      status: 'queued',
      attempts: 0,
      last_error: null,
      created_at: enqueuedAt,
      updated_at: enqueuedAt,
      sent_at: null,
    };
  }
}
