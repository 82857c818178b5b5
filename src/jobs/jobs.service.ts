import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AppException, ErrorCode } from '../common/app.exception';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { Channel } from '../messaging/message.types';
import { CampaignService } from './campaign.service';
import { CampaignScheduler, CRON_TIME_ZONE } from './campaign.scheduler';
import { CAMPAIGN_JOB_NAME, CampaignReport, PREPARE_JOB_NAME } from './campaign.types';
import { JobHistoryQueryDto, JobHistoryResponseDto, JobStatusDto, JobStatusResponseDto } from './dto/job-status.dto';
import { PrepareRequestDto, RunAcceptedDto, RunSegmentRequestDto, RunSegmentResponseDto } from './dto/run-segment.dto';
import { JobTrigger } from './job-run.entity';
import { asSeen, toJobRunDto } from './job-run.mapper';
import { JobRunRepository } from './job-run.repository';
import { LiveRuns } from './live-runs';
import { PrepareScheduler } from './prepare.scheduler';
import { PrepareService } from './prepare.service';
import { campaignLocked, instanceShuttingDown } from './run-errors';

/** run-segment's answer: the run's report when it was waited for, or the started run. */
export type RunSegmentAnswer = { kind: 'done'; body: RunSegmentResponseDto } | { kind: 'accepted'; body: RunAcceptedDto };

const DEFAULT_HISTORY_LIMIT = 20;

/** The internal job routes: a manual campaign run, scheduler status and run history. */
@Injectable()
export class JobsService {
  constructor(
    private readonly campaigns: CampaignService,
    private readonly scheduler: CampaignScheduler,
    private readonly prepareScheduler: PrepareScheduler,
    private readonly jobRuns: JobRunRepository,
    private readonly messages: AiMessageRepository,
    private readonly liveRuns: LiveRuns,
    private readonly config: AppConfig,
    private readonly prepares: PrepareService,
  ) {}

  /** Starts preparing the next campaign's drafts; answered once the prepare lock is taken and its row written. */
  async prepare(request: PrepareRequestDto): Promise<RunAcceptedDto> {
    const plan = await this.prepares.plan({
      preset: request.preset,
      bookingCadenceDays: request.booking_cadence_days,
      channel: request.channel === undefined ? undefined : request.channel === 'SMS' ? Channel.Sms : Channel.Email,
    });
    const started = await this.prepares.start(plan, JobTrigger.Manual);
    if (started.kind === 'shutting_down') throw instanceShuttingDown();
    if (started.kind === 'locked') {
      const held = started.holder ? ` (${started.holder.holder} since ${started.holder.acquiredAt.toISOString()})` : '';
      throw new AppException(ErrorCode.PrepareAlreadyRunning, `a prepare already holds the prepare lock${held}; try again when it ends`);
    }
    void started.done.catch(() => undefined); // the prepare records and logs its own failures
    return { job_run_id: started.row.id, status: 'RUNNING', correlation_id: started.row.correlationId };
  }

  /**
   * Runs the campaign now. By default answers when the run ends (`done`); with `wait: false`, once the lock is
   * taken and the row written (`accepted`), the run going on in the background.
   */
  async runSegment(request: RunSegmentRequestDto): Promise<RunSegmentAnswer> {
    const plan = await this.campaigns.plan({
      preset: request.preset,
      bookingCadenceDays: request.booking_cadence_days,
      promoCode: request.promo_code,
      sendWindowStart: request.send_window_start,
      sendWindowEnd: request.send_window_end,
      batchSize: request.batch_size,
      dryRun: request.dry_run,
      experiment: request.experiment,
      channel: request.channel === undefined ? undefined : request.channel === 'SMS' ? Channel.Sms : Channel.Email,
    });
    const started = await this.campaigns.start(plan, JobTrigger.Manual);
    if (started.kind === 'locked') throw campaignLocked(started.holder);
    if (started.kind === 'window_closed') {
      const { startHour, endHour } = plan.sendWindow;
      throw new AppException(
        ErrorCode.SendWindowClosed,
        `the send window ${startHour}:00-${endHour}:00 (${this.config.campaign.timeZone}) is closed; it is ${started.localHour}:00 there`,
      );
    }
    if (started.kind === 'shutting_down') throw instanceShuttingDown();
    if (request.wait === false) {
      void started.report.catch(() => undefined); // the runner records and logs its own failures
      return {
        kind: 'accepted',
        body: { job_run_id: started.row.id, status: 'RUNNING', correlation_id: started.row.correlationId },
      };
    }
    const report = await started.report;
    if (report.status === 'INTERRUPTED') {
      throw new AppException(
        ErrorCode.CampaignInterrupted,
        `campaign run ${report.jobRunId} was interrupted after ${report.counts.processed} customers because the service ` +
          'is shutting down; running it again resumes it',
      );
    }
    if (report.status === 'FAILED') {
      throw new AppException(
        ErrorCode.CampaignFailed,
        `campaign run ${report.jobRunId} failed after ${report.counts.processed} customers; running it again resumes it`,
      );
    }
    return { kind: 'done', body: toRunSegmentResponse(report) };
  }

  /** Each scheduled job: its schedule, who holds its lock, its run in progress and its last run, with what the LLM cost. */
  async status(): Promise<JobStatusResponseDto> {
    const { cron, prepareCron, timeZone, sendWindow } = this.config.campaign;
    const window = { start_hour: sendWindow.startHour, end_hour: sendWindow.endHour, timezone: timeZone };
    const [campaign, prepare] = await Promise.all([this.jobStatus(CAMPAIGN_JOB_NAME), this.jobStatus(PREPARE_JOB_NAME)]);
    const campaignNext = this.scheduler.nextRun();
    const prepareNext = this.prepareScheduler.nextRun();
    return {
      jobs: [
        {
          name: CAMPAIGN_JOB_NAME,
          cron,
          timezone: CRON_TIME_ZONE,
          send_window: window,
          enabled: this.config.campaign.schedulerEnabled,
          next_run_at: campaignNext?.toISOString() ?? null,
          ...campaign,
        },
        // Drafts written ahead for the campaign's send window; scheduled only with CAMPAIGN_PREPARE_CRON and an LLM.
        {
          name: PREPARE_JOB_NAME,
          cron: prepareCron,
          timezone: CRON_TIME_ZONE,
          send_window: window,
          enabled: prepareNext !== null,
          next_run_at: prepareNext?.toISOString() ?? null,
          ...prepare,
        },
      ],
    };
  }

  private async jobStatus(jobName: string): Promise<Pick<JobStatusDto, 'running' | 'lock' | 'current_run' | 'last_run'>> {
    const { lock, run, abandoned } = await this.liveRuns.of(jobName);
    const last = await this.jobRuns.findLast(jobName);
    const llm = await this.messages.llmUsageOfRuns([run?.id, last?.id].filter((id): id is string => id !== undefined));
    return {
      running: lock !== null,
      lock: lock
        ? {
            holder: lock.holder,
            acquired_at: lock.acquiredAt.toISOString(),
            heartbeat_at: lock.heartbeatAt.toISOString(),
            expires_at: lock.expiresAt.toISOString(),
          }
        : null,
      current_run: run ? toJobRunDto(run, llm.get(run.id)) : null,
      last_run: last ? toJobRunDto(asSeen(last, abandoned), llm.get(last.id)) : null,
    };
  }

  async history(query: JobHistoryQueryDto): Promise<JobHistoryResponseDto> {
    const abandoned = await this.liveRuns.abandoned(); // before the rows (asSeen): a dead run reads FAILED
    const runs = await this.jobRuns.history(query.type, query.limit ?? DEFAULT_HISTORY_LIMIT);
    const llm = await this.messages.llmUsageOfRuns(runs.map((run) => run.id));
    return { runs: runs.map((run) => toJobRunDto(asSeen(run, abandoned), llm.get(run.id))) };
  }
}

function toRunSegmentResponse(report: CampaignReport): RunSegmentResponseDto {
  return {
    job_run_id: report.jobRunId,
    status: report.status,
    correlation_id: report.correlationId,
    started_at: report.startedAt.toISOString(),
    finished_at: report.finishedAt.toISOString(),
    duration_seconds: (report.finishedAt.getTime() - report.startedAt.getTime()) / 1000,
    preset: report.plan.preset,
    promo_code: report.plan.offer?.promoCode ?? null,
    dry_run: report.plan.dryRun,
    channel: report.plan.channel,
    total_eligible: report.counts.totalEligible,
    sent: report.counts.sent,
    failed: report.counts.failed,
    skipped: report.counts.skipped,
    unknown: report.counts.unknown,
    results: report.results.map((r) => ({
      customer_id: r.customerId,
      success: r.success,
      ...(r.messageId ? { message_id: r.messageId } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    })),
    results_truncated: report.resultsTruncated,
    // A DONE run carries an error only when it stopped early (the send window closed); a PAUSED or CANCELLED
    // one says who stopped it.
    stopped_reason: report.error ?? null,
  };
}
