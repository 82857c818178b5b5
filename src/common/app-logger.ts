import type { IncomingMessage, ServerResponse } from 'node:http';
import { LoggerModule } from 'nestjs-pino';
import pino, { LoggerOptions } from 'pino';
import type { Options as HttpLogOptions } from 'pino-http';
import pinoPretty from 'pino-pretty';
import { AppConfig } from '../config/app-config';
import { assignCorrelationId } from './correlation-id.middleware';
import { REDACTED_FIELDS, scrubSecrets } from './log-redaction';
import { RequestContext } from './request-context';

const PINO_LEVEL: Record<AppConfig['log']['level'], pino.Level> = {
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

/**
 * The process's pino logger: JSON lines for an aggregator, or readable lines (pino-pretty) for a terminal.
 * Lines written inside a request or job carry its correlationId (and runId, customerId, messageId) as fields.
 */
export function createAppLogger(settings: AppConfig['log']): pino.Logger {
  const options: LoggerOptions = {
    level: PINO_LEVEL[settings.level],
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => RequestContext.logFields(),
    redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
    serializers: { err: scrubbedError },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map(scrubMessage) as Parameters<typeof method>);
      },
    },
  };
  if (settings.format === 'json') {
    return pino({ ...options, formatters: { level: (label) => ({ level: label }) } });
  }
  const pretty = pinoPretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context',
    messageFormat: '{if context}[{context}] {end}{msg}',
    singleLine: true,
  });
  return pino(options, pretty);
}

/** pino-http around the app logger: one line per finished request, with the correlation id as a field. */
export function httpLogOptions(logger: pino.Logger): HttpLogOptions {
  return {
    logger,
    genReqId: assignCorrelationId,
    // Method and path only: headers carry the admin key, and the path is scrubbed of tokens.
    serializers: {
      req: (req: { method: string; url: string }) => ({ method: req.method, url: scrubSecrets(req.url) }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessObject: (req: IncomingMessage, _res: ServerResponse, line: object) => ({
      ...line,
      correlationId: req.id,
    }),
    // pino-http makes up an Error for a 5xx (its own stack); AllExceptionsFilter logs the real one.
    customErrorObject: (req: IncomingMessage, _res: ServerResponse, _error: Error, line: object) => ({
      ...line,
      err: undefined,
      correlationId: req.id,
    }),
    // Prometheus scrapes every few seconds; a line per scrape would drown the rest.
    autoLogging: { ignore: (req) => req.url === '/metrics' },
  };
}

/** nestjs-pino over the app logger; main.ts makes it Nest's logger too. */
export const AppLoggerModule = LoggerModule.forRootAsync({
  inject: [AppConfig],
  useFactory: (config: AppConfig) => ({
    pinoHttp: httpLogOptions(createAppLogger(config.log)),
    // Mounted with use(), like the app's other middleware: nestjs-pino's default route sets req.route on every
    // request, and HttpMetricsMiddleware would label 404s "/{*path}" instead of "unmatched".
    forRoutes: ['*'],
  }),
});

/** A message may quote a URL with a token or credentials, as a string or as the msg of a fields object. */
function scrubMessage(arg: unknown): unknown {
  if (typeof arg === 'string') return scrubSecrets(arg);
  const msg = (arg as { msg?: unknown } | null)?.msg;
  return typeof msg === 'string' ? { ...(arg as object), msg: scrubSecrets(msg) } : arg;
}

function scrubbedError(error: unknown): unknown {
  if (typeof error === 'string') return scrubSecrets(error);
  if (typeof (error as Error | null)?.message !== 'string') return error;
  const serialized = pino.stdSerializers.err(error as Error);
  const stack = typeof serialized.stack === 'string' ? scrubSecrets(serialized.stack) : serialized.stack;
  return { ...serialized, message: scrubSecrets(serialized.message), stack };
}
