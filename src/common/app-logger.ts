import { ConsoleLogger, LogLevel } from '@nestjs/common';
import { RequestContext } from './request-context';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Nest's console logger with the current correlation id on every line. */
export class AppLogger extends ConsoleLogger {
  constructor(level: LogLevel = 'log') {
    super({ logLevels: LEVELS.slice(0, LEVELS.indexOf(level) + 1) });
  }

  protected formatContext(context: string): string {
    const correlationId = RequestContext.correlationId();
    const base = super.formatContext(context);
    return correlationId ? `${base}[cid=${correlationId}] ` : base;
  }
}
