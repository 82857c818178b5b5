import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { LockId } from './lock-ids';

/**
 * Postgres advisory locks. Both methods pin one pooled connection and take a
 * session lock on it, run the work, then unlock on that same connection in
 * `finally`, so the unlock never lands on another backend. Needs a session-mode
 * connection to Postgres (direct, or PgBouncer in session mode), not a
 * transaction-mode pooler.
 */
@Injectable()
export class LockService {
  constructor(private readonly dataSource: DataSource) {}

  /** Waits for the lock, then runs `fn` while holding it. */
  async withLock<T>(id: LockId, fn: () => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [id]);
      try {
        return await fn();
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [id]);
      }
    } finally {
      await runner.release();
    }
  }

  /** Runs `fn` only if the lock is free right now; returns `{ acquired: false }` otherwise. */
  async tryLock<T>(id: LockId, fn: () => Promise<T>): Promise<{ acquired: true; result: T } | { acquired: false }> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [id]);
      if (!locked) return { acquired: false };
      try {
        return { acquired: true, result: await fn() };
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [id]);
      }
    } finally {
      await runner.release();
    }
  }
}
