import { RunLlmUsage } from '../messaging/ai-message.repository';
import { RunDto, RunProgressDto } from './dto/run.dto';
import { JobRunDto, RunLlmUsageDto } from './dto/job-status.dto';
import { JobRunEntity, JobRunStatus } from './job-run.entity';
import { ABANDONED_RUN_ERROR } from './job-run.repository';

/**
 * A row as readers see it: a RUNNING row whose lease is gone reads as the FAILED (abandoned) row it becomes when
 * the sweeper or the next run closes it, ending at its last heartbeat. Nothing is written here. Read `abandoned`
 * before the row: a row closed in between then reads as it is, and one running again under a new lease (paused,
 * then resumed) no longer matches.
 */
export function asSeen(row: JobRunEntity, abandoned: readonly JobRunEntity[]): JobRunEntity {
  const dead = abandoned.some((run) => run.id === row.id && run.leaseToken === row.leaseToken);
  if (row.status !== JobRunStatus.Running || !dead) return row;
  return { ...row, status: JobRunStatus.Failed, error: ABANDONED_RUN_ERROR, finishedAt: row.heartbeatAt };
}

/** A job_runs row in the scheduler's status and the run history. */
export function toJobRunDto(run: JobRunEntity, llm?: RunLlmUsage): JobRunDto {
  return {
    id: run.id,
    type: run.jobType,
    name: run.jobName,
    trigger: run.trigger,
    status: run.status,
    correlation_id: run.correlationId,
    attempt: run.attempt,
    dry_run: run.dryRun,
    params: run.params,
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    duration_seconds: run.finishedAt ? (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000 : null,
    total_eligible: run.totalEligible,
    processed: run.processed,
    sent: run.sent,
    failed: run.failed,
    skipped: run.skipped,
    unknown: run.unknown,
    progress_percent: run.totalEligible > 0 ? Math.round((run.processed / run.totalEligible) * 1000) / 10 : null,
    error: run.error,
    holder: run.holder,
    llm: toLlmUsageDto(llm),
  };
}

/** A job_runs row in run control's answers, with where its customers in flight are. */
export function toRunDto(run: JobRunEntity, progress: RunProgressDto, llm?: RunLlmUsage): RunDto {
  return {
    job_run_id: run.id,
    status: run.status,
    reason: run.error,
    started_at: run.startedAt.toISOString(),
    finished_at: run.finishedAt?.toISOString() ?? null,
    total_eligible: run.totalEligible,
    processed: run.processed,
    sent: run.sent,
    failed: run.failed,
    skipped: run.skipped,
    unknown: run.unknown,
    progress,
    llm: toLlmUsageDto(llm),
  };
}

function toLlmUsageDto(llm: RunLlmUsage | undefined): RunLlmUsageDto | null {
  if (!llm) return null;
  return {
    drafts: llm.drafts,
    input_tokens: llm.input,
    cached_input_tokens: llm.cachedInput,
    output_tokens: llm.output,
    cost_usd: Math.round(llm.costUsd * 1e6) / 1e6,
  };
}
