import { JobRunEntity, JobRunStatus } from './job-run.entity';
import { asSeen, toJobRunDto } from './job-run.mapper';
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

describe('toJobRunDto', () => {
  const finished = { ...run('done', JobRunStatus.Done), finishedAt: new Date('2026-11-24T09:10:00Z'), totalEligible: 4, processed: 4 } as JobRunEntity;

  it("shows the run's LLM drafts with tokens as billed and the cost rounded to a millionth of a dollar", () => {
    const dto = toJobRunDto(finished, { drafts: 3, input: 300, cachedInput: 3000, output: 240, costUsd: 0.00041249999 });
    expect(dto.llm).toEqual({ drafts: 3, input_tokens: 300, cached_input_tokens: 3000, output_tokens: 240, cost_usd: 0.000412 });
    expect(dto.duration_seconds).toBe(600);
  });

  it('shows llm as null for a run the LLM wrote nothing for', () => {
    expect(toJobRunDto(finished).llm).toBeNull();
  });
});
