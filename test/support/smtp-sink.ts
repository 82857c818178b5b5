import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  /** Messages accepted (250) so far. */
  accepted: () => number;
  /** Messages whose data arrived, accepted or not yet answered. */
  received: () => number;
  /** The recipients of each accepted message, in the order they were accepted. */
  recipients: () => string[];
  /** While on, every RCPT TO is refused with `550 5.1.1 mailbox unavailable`. */
  rejectRecipients: (on: boolean) => void;
  /** Answers each message after `ms` from now on. */
  setDelay: (ms: number) => void;
  close: () => Promise<void>;
}

/**
 * A real SMTP server on a free local port that answers each message after `delayMs`, or never when
 * `hang` is set (a mail server that stops responding mid-send).
 */
export async function startSmtpSink({ delayMs = 0, hang = false } = {}): Promise<SmtpSink> {
  let accepted = 0;
  let received = 0;
  let rejecting = false;
  let delay = delayMs;
  const recipients: string[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 200,
    onRcptTo(_address, _session, callback) {
      if (!rejecting) return callback();
      callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
    },
    onData(stream, session, callback) {
      stream.resume();
      stream.on('end', () => {
        received++;
        if (hang) return;
        setTimeout(() => {
          accepted++;
          recipients.push(...session.envelope.rcptTo.map((rcpt) => rcpt.address));
          callback();
        }, delay);
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
    recipients: () => [...recipients],
    rejectRecipients: (on) => {
      rejecting = on;
    },
    setDelay: (ms) => {
      delay = ms;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
