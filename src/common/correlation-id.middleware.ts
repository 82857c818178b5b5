import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { RequestContext } from './request-context';

const CORRELATION_HEADER = 'x-correlation-id';
const ACCEPTED = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * The request's correlation id, decided once: the caller's X-Correlation-ID when it looks sane, otherwise a
 * new one; echoed back. pino-http calls this as its genReqId, so the id is also `req.id`.
 */
export function assignCorrelationId(req: IncomingMessage, res: ServerResponse): string {
  if (typeof req.id === 'string') return req.id;
  const offered = req.headers[CORRELATION_HEADER];
  const correlationId = typeof offered === 'string' && ACCEPTED.test(offered) ? offered : randomUUID();
  req.id = correlationId;
  res.setHeader('X-Correlation-ID', correlationId);
  return correlationId;
}

/** Puts the request's correlation id in RequestContext, for log lines, error bodies and jobs started here. */
@Injectable()
export class CorrelationIdMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    RequestContext.run(assignCorrelationId(req, res), next);
  }
}
