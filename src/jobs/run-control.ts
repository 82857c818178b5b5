import { Logger } from '@nestjs/common';
import { ResumableStop } from '../messaging/reminder-delivery';
import { EligibilityCursor } from '../segmentation/eligible-customer.repository';
import { JobRunStatus, ResumeState } from './job-run.entity';
import { JobRunRepository, ProducerWrite, RunCounts } from './job-run.repository';

/** How often a running producer writes its heartbeat and reads back whether it was paused or cancelled. */
const RUN_CONTROL_POLL_MS = 1_000;
/**
 * The counts and resume state (up to ~37 KB: the ids counted in the pages in progress) are written with a
 * heartbeat only when they changed, and at most this often; always together, so a resume never counts a
 * customer twice. A crash loses at most this much progress: those customers are handed over again with the
 * same message ids, and their claims continue from the rows.
 */
export const PROGRESS_WRITE_MS = 3_000;
/** The last error quoted in an auto-pause reason is cut to this length. */
const REASON_ERROR_LENGTH = 200;

/**
 * The reason a run's signal carries when run control stopped it: its row is (or becomes) `status`. A paused run
 * is resumed with the same message ids, so a delivery waiting for its retry is left for the resume.
 */
export class RunStoppedError extends Error implements ResumableStop {
  readonly resumable: boolean;

  constructor(
    readonly status: JobRunStatus,
    reason: string,
  ) {
    super(reason);
    this.name = 'RunStoppedError';
    this.resumable = status === JobRunStatus.Paused;
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

/** A page of customers read from the segment, as RunControl follows it until every one of them is counted. */
export class RunPage {
  handed = 0;
  finished = 0;
  done = false;
  complete = false;

  constructor(
    /** Every customer of the page's key range, counted already or not. */
    readonly customerIds: readonly string[],
    /** Where the page after it starts; null for the last page. */
    readonly next: EligibilityCursor | null,
  ) {}
}

/**
 * One producer's side of run control, so the runner only pages and delivers: where it is (the resume state),
 * customers in flight, a heartbeat every RUN_CONTROL_POLL_MS that writes them with the counts and reads the
 * row's status back, and the auto-pause window. `signal` aborts with a RunStoppedError once the row left
 * RUNNING (paused or cancelled from any replica) or the window tripped; the window starts empty on resume.
 *
 * Several pages can be in flight (the next one starts as the last one drains): the resume state is the start
 * of the oldest page not finished and every customer counted since, so a resume reads those pages again and
 * skips whoever was counted.
 */
export class RunControl {
  private readonly logger = new Logger(RunControl.name);
  private readonly controller = new AbortController();
  private readonly window: FailureWindow;
  private readonly counted: Set<string>;
  /** Pages read and not retired yet, oldest first. */
  private readonly pages: RunPage[] = [];
  /** Customers delivered outside the pages (those a resumed run retries): in flight, never a resume point. */
  private readonly sidePages: RunPage[] = [];
  private cursor: EligibilityCursor | null;
  /** Changes to the counts and resume state, and how many of them the row has (-1: write at the first beat). */
  private changes = 0;
  private changesWritten = -1;
  private progressWrittenAt = 0;
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

  /** Where the run resumes: the start of the oldest page not finished. */
  get resumeCursor(): EligibilityCursor | null {
    return this.cursor;
  }

  /** Starts the heartbeat. */
  start(): void {
    this.timer = setInterval(() => {
      void this.beat();
    }, RUN_CONTROL_POLL_MS);
  }

  /** True for a customer already counted in a page in progress (before a pause, on a resumed run). */
  wasCounted(customerId: string): boolean {
    return this.counted.has(customerId);
  }

  /** A page was read: followed from now on, in reading order. */
  pageRead(customerIds: readonly string[], next: EligibilityCursor | null): RunPage {
    const page = new RunPage(customerIds, next);
    this.pages.push(page);
    return page;
  }

  /**
   * Customers outside the segment's pages: a resumed run's messages still waiting for their retry (their claim
   * took them out of the eligible customers). Counted like the others, never moving the resume point.
   */
  sidePage(customerIds: readonly string[]): RunPage {
    const page = new RunPage(customerIds, null);
    this.sidePages.push(page);
    return page;
  }

  handed(page: RunPage, customers: number): void {
    page.handed += customers;
  }

  /** A customer came back from the fan-out; `counted` unless it was never processed (shutting_down). */
  finished(page: RunPage, customerId: string, counted: boolean): void {
    page.finished++;
    if (!counted) return;
    this.counted.add(customerId);
    this.changes++;
  }

  /**
   * The page's fan-out is over; `complete` when every customer of it was counted (the run did not stop in it).
   * Complete pages at the head retire: the resume point moves past them and their customers are forgotten.
   * The last page is kept, so a run that ends there has nothing left to resume.
   */
  pageDone(page: RunPage, complete: boolean): void {
    page.done = true;
    page.complete = complete;
    while (this.pages[0]?.done && this.pages[0].complete && this.pages[0].next) {
      const retired = this.pages.shift()!;
      for (const id of retired.customerIds) this.counted.delete(id);
      this.cursor = retired.next;
      this.changes++;
    }
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

  /**
   * The heartbeat: customers in flight, and the counts and resume state when they changed and PROGRESS_WRITE_MS
   * passed since they were last written; reads back the row's status.
   */
  beat(): Promise<void> {
    this.beating = this.beating.then(async () => {
      const changes = this.changes;
      const progress = changes !== this.changesWritten && Date.now() - this.progressWrittenAt >= PROGRESS_WRITE_MS;
      try {
        const row = await this.jobRuns.heartbeat(this.snapshot(), progress);
        if (progress) [this.changesWritten, this.progressWrittenAt] = [changes, Date.now()];
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
      inFlight: [...this.pages, ...this.sidePages].reduce((sum, page) => sum + (page.done ? 0 : page.handed - page.finished), 0),
      resumeState,
    };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
