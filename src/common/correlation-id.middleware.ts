import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { RequestContext } from './request-context';

export const CORRELATION_HEADER = 'x-correlation-id';
const ACCEPTED = /^[A-Za-z0-9._:-]{8,128}$/;

/** The caller's X-Correlation-ID when it looks sane, otherwise a new one; echoed back in the response. */
export function assignCorrelationId(req: Request, res: Response): string {
  const offered = req.header(CORRELATION_HEADER);
  const correlationId = offered && ACCEPTED.test(offered) ? offered : randomUUID();
  res.setHeader('X-Correlation-ID', correlationId);
  return correlationId;
}

/** Runs the request under its correlation id. */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    RequestContext.run(assignCorrelationId(req, res), next);
  }
}
