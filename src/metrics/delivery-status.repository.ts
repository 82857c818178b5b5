import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** Message counts per delivery status, read straight from ai_messages. */
@Injectable()
export class DeliveryStatusRepository {
  constructor(private readonly dataSource: DataSource) {}

  async countByStatus(): Promise<Map<string, number>> {
    const rows: { status: string; count: number }[] = await this.dataSource.query(
      'SELECT delivery_status AS status, count(*)::int AS count FROM ai_messages GROUP BY 1',
    );
    return new Map(rows.map((row) => [row.status, Number(row.count)]));
  }
}
