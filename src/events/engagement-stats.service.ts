import { Injectable } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/app.exception';
import { DAY_MS } from '../common/local-time';
import { EngagementStatsQueryDto, EngagementStatsResponseDto } from './dto/engagement-stats.dto';
import { EngagementStatsRepository } from './engagement-stats.repository';

const DEFAULT_PERIOD_MS = 30 * DAY_MS;

/** Sends, opens, clicks and bookings per kind of message: which tones and promos convert. */
@Injectable()
export class EngagementStatsService {
  constructor(private readonly repository: EngagementStatsRepository) {}

  async stats(query: EngagementStatsQueryDto): Promise<EngagementStatsResponseDto> {
    const to = query.to ? new Date(query.to) : new Date();
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_PERIOD_MS);
    if (from.getTime() >= to.getTime()) {
      throw new AppException(ErrorCode.ValidationFailed, 'invalid request: from must be before to', [
        { field: 'from', message: 'from must be before to' },
      ]);
    }
    const groups = await this.repository.groups(from, to);
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      groups: groups.map((group) => ({
        message_type: group.messageType,
        tone: group.tone,
        promo_code: group.promoCode,
        channel: group.channel,
        sent: group.sent,
        opened: group.opened,
        machine_opened: group.machineOpened,
        clicked: group.clicked,
        booked: group.booked,
        unknown: group.unknown,
        conversion_rate: group.sent === 0 ? 0 : Math.round((group.booked / group.sent) * 10_000) / 10_000,
      })),
    };
  }
}
