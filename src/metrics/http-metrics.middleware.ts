import { Injectable, NestMiddleware } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { NextFunction, Request, Response } from 'express';
import { Histogram } from 'prom-client';
import { Metric } from './metric-names';

/** The label for requests that matched no route (404s), so random paths never become series. */
const UNMATCHED_ROUTE = 'unmatched';

/**
 * Times every request into `http_request_duration_seconds`. A middleware rather than an interceptor, so
 * requests that a guard or pipe rejects are timed too. The route label is Express's route template
 * (`/unsubscribe/:token`), read once the response is sent: the raw path would leak tokens and explode
 * the series count.
 */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  constructor(@InjectMetric(Metric.HttpRequestDuration) private readonly duration: Histogram<string>) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const stop = this.duration.startTimer();
    res.once('finish', () => {
      const route: unknown = req.route?.path;
      stop({
        method: req.method,
        route: typeof route === 'string' ? route : UNMATCHED_ROUTE,
        status_code: String(res.statusCode),
      });
    });
    next();
  }
}
