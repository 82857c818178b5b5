import { Gauge, GaugeConfiguration, register } from 'prom-client';

/**
 * A value loaded at scrape time, at most once per `maxAgeMs` however often (or concurrently) it is scraped.
 * While the source fails, the last good value is served (undefined before the first), and the next scrape
 * asks again.
 */
export class ScrapeCache<T> {
  private cached?: { at: number; value: Promise<T | undefined> };
  private lastGood?: T;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  get(): Promise<T | undefined> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.maxAgeMs) {
      const value = this.load().then(
        (fresh) => (this.lastGood = fresh),
        (error: unknown) => {
          this.onError(error);
          if (this.cached?.value === value) this.cached = undefined; // not a newer load's entry
          return this.lastGood;
        },
      );
      this.cached = { at: now, value };
    }
    return this.cached.value;
  }
}

/**
 * Registers a gauge whose collect() reads this app's resources. The default registry is process-wide, so a
 * gauge left by an earlier app (tests build several) is replaced: its collect() would use a closed connection.
 */
export function registerScrapedGauge<T extends string>(config: GaugeConfiguration<T>): Gauge<T> {
  register.removeSingleMetric(config.name);
  return new Gauge(config);
}

/** Removes the gauge on shutdown, unless a later app has already replaced it. */
export function unregisterScrapedGauge(name: string, gauge: Gauge<string> | undefined): void {
  if (gauge && register.getSingleMetric(name) === gauge) register.removeSingleMetric(name);
}
