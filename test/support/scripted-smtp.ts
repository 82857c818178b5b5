import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * What the server answers to the end of DATA: 250 (after `delayMs`), or an SMTP error reply. With `holdAfter`, once
 * that many messages were accepted it answers none at all, as a mail server that stops replying mid-send. With
 * `greylist`, the first RCPT TO of each address gets 451 (try again later), as greylisting servers do.
 */
export type SmtpBehaviour =
  | { accept: true; delayMs?: number; holdAfter?: number; greylist?: boolean }
  | { reject: number; message: string };

/**
 * A real SMTP server whose answer can be changed while a test runs, and which records every message it accepted
 * (recipient and time): duplicates, rates and who got what are read from here, as a mail provider would see them.
 */
export class ScriptedSmtpServer {
  /** One entry per accepted message: its recipients and when it was accepted. */
  readonly accepted: { to: string; at: number }[] = [];
  /** Replies other than 250 given so far. */
  rejected = 0;
  /** Messages left without an answer (`holdAfter`). */
  held = 0;
  /** Addresses greylisted once (`greylist`): their next RCPT TO is accepted. */
  readonly greylisted = new Set<string>();
  private behaviour: SmtpBehaviour = { accept: true };
  private readonly server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onRcptTo: (address, _session, callback) => {
      const behaviour = this.behaviour;
      if (!('accept' in behaviour) || !behaviour.greylist || this.greylisted.has(address.address)) return callback();
      this.greylisted.add(address.address);
      this.rejected++;
      callback(Object.assign(new Error('Greylisted, please try again later'), { responseCode: 451 }));
    },
    onData: (stream, session, callback) => {
      stream.resume();
      stream.on('end', () => {
        const behaviour = this.behaviour;
        if ('reject' in behaviour) {
          this.rejected++;
          return callback(Object.assign(new Error(behaviour.message), { responseCode: behaviour.reject }));
        }
        if (this.accepted.length >= (behaviour.holdAfter ?? Infinity)) {
          this.held++;
          return;
        }
        setTimeout(() => {
          for (const rcpt of session.envelope.rcptTo) this.accepted.push({ to: rcpt.address, at: Date.now() });
          callback();
        }, behaviour.delayMs ?? 0);
      });
    },
  });
  url = '';

  async start(): Promise<this> {
    // A client that dies mid-session (a worker killed by a test) resets its socket: expected, not a failure.
    this.server.on('error', () => undefined);
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
    return this;
  }

  set(behaviour: SmtpBehaviour): void {
    this.behaviour = behaviour;
  }

  /** Messages accepted per recipient. */
  perRecipient(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const { to } of this.accepted) counts.set(to, (counts.get(to) ?? 0) + 1);
    return counts;
  }

  /** The most messages accepted within any `windowMs` (a sliding window over the accept times). */
  maxInWindow(windowMs: number): number {
    const times = this.accepted.map((m) => m.at).sort((a, b) => a - b);
    let most = 0;
    for (let start = 0, end = 0; end < times.length; end++) {
      while (times[end] - times[start] >= windowMs) start++;
      most = Math.max(most, end - start + 1);
    }
    return most;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
