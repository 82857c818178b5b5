import { JobRunEntity, JobRunStatus } from './job-run.entity';
import { asSeen } from './job-run.mapper';
import { ABANDONED_RUN_ERROR } from './job-run.repository';

const heartbeatAt = new Date('2026-11-24T09:03:10Z');
const run = (id: string, status: JobRunStatus, leaseToken = 'lease-1') =>
  ({ id, status, leaseToken, error: null, startedAt: new Date('2026-11-24T09:00:00Z'), finishedAt: null, heartbeatAt }) as JobRunEntity;

describe('asSeen', () => {
  it('shows an abandoned RUNNING row as the FAILED row it becomes, ending at its last heartbeat, without changing it', () => {
    const dead = run('dead', JobRunStatus.Running);
    expect(asSeen(dead, [dead])).toMatchObject({ id: 'dead', status: 'FAILED', error: ABANDONED_RUN_ERROR, finishedAt: heartbeatAt });
    expect(dead).toMatchObject({ status: 'RUNNING', error: null, finishedAt: null });
  });

  it('leaves the live run and rows that already ended as they are', () => {
    const live = run('live', JobRunStatus.Running);
    const paused = run('paused', JobRunStatus.Paused);
    expect(asSeen(live, [run('other', JobRunStatus.Running)])).toBe(live);
    // A row that left RUNNING after the lease check (paused, or closed) is read as it is now.
    expect(asSeen(paused, [run('paused', JobRunStatus.Running)])).toBe(paused);
    // Paused and resumed under a new lease since: running again, not dead.
    const resumed = run('resumed', JobRunStatus.Running, 'lease-2');
    expect(asSeen(resumed, [run('resumed', JobRunStatus.Running, 'lease-1')])).toBe(resumed);
  });
});
