import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { RequestContext } from './request-context';

export const CORRELATION_HEADER = 'x-correlation-id';
const ACCEPTED = /^[A-Za-z0-9._:-]{8,128}$/;

/** Takes the caller's X-Correlation-ID when it looks sane, otherwise makes one; echoes it back. */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const offered = req.header(CORRELATION_HEADER);
    const correlationId = offered && ACCEPTED.test(offered) ? offered : randomUUID();
    res.setHeader('X-Correlation-ID', correlationId);
    RequestContext.run(correlationId, next);
  }
}
