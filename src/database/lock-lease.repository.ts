import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LockId } from './lock-ids';

/** A live lease: who holds the lock, since when, and until when unless renewed. */
export interface LockHolder {
  holder: string;
  token: string;
  acquiredAt: Date;
  heartbeatAt: Date;
  expiresAt: Date;
}

interface LeaseRow {
  holder: string;
  token: string;
  acquired_at: Date;
  heartbeat_at: Date;
  expires_at: Date;
}

const RETURNING = 'RETURNING holder, token, acquired_at, heartbeat_at, expires_at';

/**
 * lock_leases: one row per lock, each statement on its own (any pooled connection will do, which is the
 * point). Expiry is computed with the database's clock, never the caller's.
 */
@Injectable()
export class LockLeaseRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Takes the lock unless a live lease holds it; an expired lease is taken over. */
  async acquire(id: LockId, holder: string, token: string, ttlMs: number): Promise<LockHolder | null> {
    const rows: LeaseRow[] = await this.dataSource.query(
      `INSERT INTO lock_leases AS l (id, name, holder, token, acquired_at, heartbeat_at, expires_at)
       VALUES ($1, $2, $3, $4, now(), now(), now() + $5 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE
          SET name = EXCLUDED.name, holder = EXCLUDED.holder, token = EXCLUDED.token,
              acquired_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
        WHERE l.expires_at <= now()
       ${RETURNING}`,
      [id, LockId[id], holder, token, ttlMs],
    );
    return rows.length ? toHolder(rows[0]) : null;
  }

  /** Extends the lease held under `token`; false once it has expired or another holder has it. */
  async renew(id: LockId, token: string, ttlMs: number): Promise<boolean> {
    // TypeORM answers an UPDATE with [rows, affected].
    const [, affected]: [unknown[], number] = await this.dataSource.query(
      `UPDATE lock_leases SET heartbeat_at = now(), expires_at = now() + $3 * interval '1 millisecond'
        WHERE id = $1 AND token = $2 AND expires_at > now()`,
      [id, token, ttlMs],
    );
    return affected > 0;
  }

  async release(id: LockId, token: string): Promise<void> {
    await this.dataSource.query('DELETE FROM lock_leases WHERE id = $1 AND token = $2', [id, token]);
  }

  async live(id: LockId): Promise<LockHolder | null> {
    const rows: LeaseRow[] = await this.dataSource.query(
      'SELECT holder, token, acquired_at, heartbeat_at, expires_at FROM lock_leases WHERE id = $1 AND expires_at > now()',
      [id],
    );
    return rows.length ? toHolder(rows[0]) : null;
  }
}

function toHolder(row: LeaseRow): LockHolder {
  return {
    holder: row.holder,
    token: row.token,
    acquiredAt: row.acquired_at,
    heartbeatAt: row.heartbeat_at,
    expiresAt: row.expires_at,
  };
}
