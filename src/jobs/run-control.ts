import { Logger } from '@nestjs/common';
import { EligibilityCursor } from '../segmentation/eligible-customer.repository';
import { JobRunStatus, ResumeState } from './job-run.entity';
import { JobRunRepository, ProducerWrite, RunCounts } from './job-run.repository';

/** How often a running producer writes its progress and reads back whether it was paused or cancelled. */
const RUN_CONTROL_POLL_MS = 1_000;
/** The last error quoted in an auto-pause reason is cut to this length. */
const REASON_ERROR_LENGTH = 200;

/** The reason a run's signal carries when run control stopped it: its row is (or becomes) `status`. */
export class RunStoppedError extends Error {
  constructor(
    readonly status: JobRunStatus,
    reason: string,
  ) {
    super(reason);
    this.name = 'RunStoppedError';
  }
}

/**
 * The outcomes (failed or not) of the last `size` deliveries. Trips when the window is full and more than
 * `ratio` of them failed; a ratio of 1 never trips.
 */
export class FailureWindow {
  private readonly failedAt: boolean[] = [];
  private next = 0;
  failures = 0;

  constructor(
    readonly size: number,
    private readonly ratio: number,
  ) {}

  /** Records one delivery; true when the window is now full and over the ratio. */
  add(failed: boolean): boolean {
    if (this.failedAt.length < this.size) {
      this.failedAt.push(failed);
    } else {
      if (this.failedAt[this.next]) this.failures--;
      this.failedAt[this.next] = failed;
      this.next = (this.next + 1) % this.size;
    }
    if (failed) this.failures++;
    return this.failedAt.length === this.size && this.failures / this.size > this.ratio;
  }
}

export interface RunControlSettings {
  jobRunId: string;
  /** The lease the producer runs under; null for a dry run. */
  leaseToken: string | null;
  autoPause: { window: number; failureRatio: number };
  /** Told once when the failure window trips, with the reason recorded on the row. */
  onAutoPause: (reason: string) => void;
}

/**
 * One producer's side of run control, so the runner only pages and delivers: where it is (the resume state),
 * customers in flight, a heartbeat every RUN_CONTROL_POLL_MS that writes them with the counts and reads the
 * row's status back, and the auto-pause window. `signal` aborts with a RunStoppedError once the row left
 * RUNNING (paused or cancelled from any replica) or the window tripped; the window starts empty on resume.
 */
export class RunControl {
  private readonly logger = new Logger(RunControl.name);
  private readonly controller = new AbortController();
  private readonly window: FailureWindow;
  private readonly counted: Set<string>;
  private cursor: EligibilityCursor | null;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> = Promise.resolve();
  private autoPaused: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly jobRuns: JobRunRepository,
    private readonly settings: RunControlSettings,
    private readonly counts: RunCounts,
    private readonly campaignDay: string,
    from: { cursor: EligibilityCursor | null; counted: string[] } = { cursor: null, counted: [] },
  ) {
    this.window = new FailureWindow(settings.autoPause.window, settings.autoPause.failureRatio);
    this.cursor = from.cursor;
    this.counted = new Set(from.counted);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Where the page in progress is read from. */
  get pageCursor(): EligibilityCursor | null {
    return this.cursor;
  }

  /** Starts the heartbeat. */
  start(): void {
    this.timer = setInterval(() => {
      void this.beat();
    }, RUN_CONTROL_POLL_MS);
  }

  /** True for a customer of the page in progress already counted (before a pause, on a resumed run). */
  wasCounted(customerId: string): boolean {
    return this.counted.has(customerId);
  }

  handed(customers: number): void {
    this.inFlight += customers;
  }

  /** A customer came back from the fan-out; `counted` unless it was never processed (shutting_down). */
  finished(customerId: string, counted: boolean): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (counted) this.counted.add(customerId);
  }

  /** The page is over: customers that never started (the run stopped) are no longer in flight. */
  pageDone(): void {
    this.inFlight = 0;
  }

  /** The next page starts after `next`; nobody of it is counted yet. */
  nextPage(next: EligibilityCursor): void {
    this.cursor = next;
    this.counted.clear();
  }

  /** A delivery's outcome for the auto-pause (skips are not deliveries). */
  delivered(failed: boolean, error?: string): void {
    if (!this.window.add(failed) || this.controller.signal.aborted) return;
    const lastError = (error ?? 'unknown').slice(0, REASON_ERROR_LENGTH);
    const reason = `auto-paused: ${this.window.failures} of the last ${this.window.size} deliveries failed (last error: ${lastError})`;
    this.controller.abort(new RunStoppedError(JobRunStatus.Paused, reason));
    this.settings.onAutoPause(reason);
    // Written at once so GET shows PAUSED while deliveries in flight finish; the final write keeps it.
    this.autoPaused = this.jobRuns
      .transition(this.settings.jobRunId, [JobRunStatus.Running], JobRunStatus.Paused, reason, this.settings.leaseToken)
      .catch((error: unknown) => this.logger.warn(`Could not record the auto-pause yet (the run's end records it): ${describe(error)}`));
  }

  /** Writes the progress now (after each page) and reads back the row's status. */
  beat(): Promise<void> {
    this.beating = this.beating.then(async () => {
      try {
        const row = await this.jobRuns.heartbeat(this.snapshot());
        if (row && row.status !== JobRunStatus.Running && !this.controller.signal.aborted) {
          this.controller.abort(new RunStoppedError(row.status, row.error ?? `the run is ${row.status}`));
        }
      } catch (error) {
        this.logger.warn(`Could not write the campaign's progress, trying again: ${describe(error)}`);
      }
    });
    return this.beating;
  }

  /** Stops the heartbeat and waits for writes under way, before the producer records how it ended. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([this.beating, this.autoPaused]);
  }

  /** Where the producer is now, as its row records it: counts, customers in flight and where to resume. */
  snapshot(): ProducerWrite {
    const resumeState: ResumeState = { campaignDay: this.campaignDay, cursor: this.cursor, counted: [...this.counted] };
    return {
      id: this.settings.jobRunId,
      leaseToken: this.settings.leaseToken,
      counts: this.counts,
      inFlight: this.inFlight,
      resumeState,
    };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
