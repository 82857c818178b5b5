import { Injectable } from '@nestjs/common';
import { AppException, ErrorCode } from '../common/app.exception';
import { AiMessageRepository } from '../messaging/ai-message.repository';
import { CampaignService } from './campaign.service';
import { RunDto } from './dto/run.dto';
import { JobRunEntity, JobRunStatus } from './job-run.entity';
import { asSeen, toRunDto } from './job-run.mapper';
import { JobRunRepository } from './job-run.repository';
import { LiveRuns } from './live-runs';
import { campaignLocked, instanceShuttingDown, runNotFound, runStateConflict } from './run-errors';

const OPERATOR_PAUSE = 'paused by an operator';
const OPERATOR_CANCEL = 'cancelled by an operator';

/**
 * Run control: a run's live state, and pause / resume / cancel. Pause and cancel only change the row; the
 * producer, on whichever replica runs it, sees that with its next heartbeat and stops.
 */
@Injectable()
export class RunsService {
  constructor(
    private readonly jobRuns: JobRunRepository,
    private readonly messages: AiMessageRepository,
    private readonly campaigns: CampaignService,
    private readonly liveRuns: LiveRuns,
  ) {}

  /** The run as it is; one whose process died reads FAILED (abandoned) before anything closed its row. */
  async get(id: string): Promise<RunDto> {
    const abandoned = await this.liveRuns.abandoned(); // before the row (asSeen)
    return this.describe(asSeen(await this.find(id), abandoned));
  }

  pause(id: string): Promise<RunDto> {
    return this.transition(id, [JobRunStatus.Running], JobRunStatus.Paused, OPERATOR_PAUSE, 'paused', 'RUNNING');
  }

  cancel(id: string): Promise<RunDto> {
    const from = [JobRunStatus.Running, JobRunStatus.Paused];
    return this.transition(id, from, JobRunStatus.Cancelled, OPERATOR_CANCEL, 'cancelled', 'RUNNING or PAUSED');
  }

  async resume(id: string): Promise<RunDto> {
    const row = await this.find(id);
    if (row.status !== JobRunStatus.Paused && row.status !== JobRunStatus.Interrupted) {
      throw runStateConflict(id, row.status, 'resumed', 'PAUSED or INTERRUPTED');
    }
    if (!row.resumeState) {
      throw new AppException(ErrorCode.RunStateConflict, `run ${id} is ${row.status} but saved no position to resume from`);
    }
    const resumed = await this.campaigns.resume(row);
    switch (resumed.kind) {
      case 'locked':
        throw campaignLocked(resumed.holder);
      case 'shutting_down':
        throw instanceShuttingDown();
      case 'changed': {
        const now = await this.find(id);
        throw runStateConflict(id, now.status, 'resumed', 'PAUSED or INTERRUPTED');
      }
      case 'started':
        return this.describe(resumed.row);
    }
  }

  private async transition(
    id: string,
    from: JobRunStatus[],
    to: JobRunStatus.Paused | JobRunStatus.Cancelled,
    reason: string,
    action: string,
    allowed: string,
  ): Promise<RunDto> {
    const row = await this.jobRuns.transition(id, from, to, reason);
    if (row) return this.describe(row);
    throw runStateConflict(id, (await this.find(id)).status, action, allowed);
  }

  private async find(id: string): Promise<JobRunEntity> {
    const row = await this.jobRuns.findById(id);
    if (!row) throw runNotFound(id);
    return row;
  }

  private async describe(run: JobRunEntity): Promise<RunDto> {
    const [{ active, retrying, unknown }, llm] = await Promise.all([
      this.messages.countInFlightOfRun(run.id),
      this.messages.llmUsageOfRuns([run.id]),
    ]);
    return toRunDto(run, { waiting: Math.max(0, run.inFlight - active - retrying), active, retrying, unknown }, llm.get(run.id));
  }
}
