import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  /** Messages accepted (250) so far. */
  accepted: () => number;
  /** Messages whose data arrived, accepted or not yet answered. */
  received: () => number;
  close: () => Promise<void>;
}

/**
 * A real SMTP server on a free local port that answers each message after `delayMs`, or never when
 * `hang` is set (a mail server that stops responding mid-send).
 */
export async function startSmtpSink({ delayMs = 0, hang = false } = {}): Promise<SmtpSink> {
  let accepted = 0;
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => {
        received++;
        if (hang) return;
        setTimeout(() => {
          accepted++;
          callback();
        }, delayMs);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted: () => accepted,
    received: () => received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
