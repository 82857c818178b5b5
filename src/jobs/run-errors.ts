import { AppException, ErrorCode } from '../common/app.exception';
import { LockHolder } from '../database/lock-lease.repository';
import { JobRunStatus } from './job-run.entity';

/** Thrown under the campaign lock when the run left the state it was resumed from; the lock is released. */
export class RunStateChangedError extends Error {
  constructor() {
    super('the run changed state while it was being resumed');
    this.name = 'RunStateChangedError';
  }
}

export function campaignLocked(holder: LockHolder | null): AppException {
  const held = holder ? ` (${holder.holder} since ${holder.acquiredAt.toISOString()})` : '';
  return new AppException(
    ErrorCode.CampaignAlreadyRunning,
    `a campaign run already holds the campaign lock${held}; try again when it ends`,
  );
}

export function runNotFound(id: string): AppException {
  return new AppException(ErrorCode.RunNotFound, `no job run ${id}`);
}

export function runStateConflict(id: string, status: JobRunStatus, action: string, allowed: string): AppException {
  return new AppException(ErrorCode.RunStateConflict, `run ${id} is ${status}; only a ${allowed} run can be ${action}`);
}

export function instanceShuttingDown(): AppException {
  return new AppException(ErrorCode.ShuttingDown, 'this instance is shutting down; try again on another one');
}
