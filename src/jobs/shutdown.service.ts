import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InFlight } from '../common/in-flight';
import { AppConfig } from '../config/app-config';

/** The reason a run's signal carries when the process is stopping. */
export class ShutdownError extends Error {
  constructor() {
    super('the service is shutting down');
    this.name = 'ShutdownError';
  }
}

/** Time allowed, past the grace, for a stopped run to write its row and release its lock. */
const RECORD_MARGIN_MS = 5_000;

/**
 * Stops job runs when the application closes (SIGTERM/SIGINT through enableShutdownHooks, or app.close()):
 * aborts `signal`, then waits until every tracked run has finished its in-flight work (bounded by
 * SHUTDOWN_GRACE_SECONDS), recorded how far it got and released its lock. Only then do HTTP and the
 * database close.
 */
@Injectable()
export class ShutdownService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private readonly controller = new AbortController();
  private readonly running = new InFlight();
  readonly graceMs: number;

  constructor(config: AppConfig) {
    this.graceMs = config.shutdownGraceMs;
  }

  /** Aborted (with a ShutdownError) once the application starts closing. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Runs `work` and makes the shutdown wait for it. */
  track<T>(work: () => Promise<T>): Promise<T> {
    return this.running.track(work());
  }

  /**
   * Called by AppShutdown, the first shutdown hook (which has already stopped the fan-out starting customers),
   * so messages in flight can finish before the mailer closes its SMTP pool and the database its connections.
   */
  async stop(): Promise<void> {
    this.controller.abort(new ShutdownError());
    if (this.running.size === 0) return;
    const started = Date.now();
    this.logger.log(`Stopping ${this.running.size} job run(s); messages in flight get up to ${this.graceMs / 1000} s`);
    const stopped = await this.running.settledWithin(this.graceMs + RECORD_MARGIN_MS);
    if (stopped) {
      this.logger.log(`Job runs stopped, recorded and their locks released in ${Date.now() - started} ms`);
    } else {
      this.logger.error('Job runs did not stop in time; their locks free themselves when their leases expire');
    }
  }

  beforeApplicationShutdown(signal?: string): void {
    this.logger.log(`Shutting down${signal ? ` on ${signal}` : ''}: closing HTTP and the database`);
  }
}
