import { createHash } from 'node:crypto';
import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP server that accepts every message and only counts it (or, after `reject-once`, answers the first
 * message to a fixed share of the recipients with 421, as a provider shedding load now and then). Runs as a child of the
 * campaign bench (child_process.fork) so that receiving mail never competes with the bench's event loop.
 *
 * IPC, child → parent: { type: 'ready', port } once listening; { type: 'stats', received, cpuMs } on request.
 * IPC, parent → child: { type: 'stats' } to ask for the counters; { type: 'stop' } to close and exit.
 */
export type SinkRequest = { type: 'stats' } | { type: 'stop' } | { type: 'reject-once'; percent: number };
export type SinkReport = { type: 'ready'; port: number } | { type: 'stats'; received: number; rejected: number; cpuMs: number };

let received = 0;
let rejected = 0;
/** Recipients whose first message gets 421, in hundredths of a percent (by a hash of the address). */
let rejectOnceShare = 0;
const rejectedOnce = new Set<string>();

function rejectsOnce(address: string): boolean {
  if (rejectOnceShare === 0 || rejectedOnce.has(address)) return false;
  if (createHash('md5').update(address).digest().readUInt32BE(0) % 10_000 >= rejectOnceShare) return false;
  rejectedOnce.add(address);
  return true;
}

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 500,
  onData(stream, session, callback) {
    stream.resume();
    stream.on('end', () => {
      if (rejectsOnce(session.envelope.rcptTo[0]?.address ?? '')) {
        rejected++;
        return callback(Object.assign(new Error('Service busy, try again later'), { responseCode: 421 }));
      }
      // Counted before the 250 reply, so a resolved sendMail() is already in the count.
      received++;
      callback();
    });
  },
});

function report(message: SinkReport): void {
  process.send?.(message);
}

server.on('error', (error) => {
  console.error(`smtp-sink: ${error.message}`);
});

server.listen(0, '127.0.0.1', () => {
  report({ type: 'ready', port: (server.server.address() as AddressInfo).port });
});

process.on('message', (message: SinkRequest) => {
  if (message.type === 'stats') {
    const cpu = process.cpuUsage();
    report({ type: 'stats', received, rejected, cpuMs: (cpu.user + cpu.system) / 1000 });
  } else if (message.type === 'reject-once') {
    rejectOnceShare = Math.round(message.percent * 100);
    rejectedOnce.clear();
  } else if (message.type === 'stop') {
    server.close(() => process.exit(0));
  }
});

// The parent went away without saying stop: do not linger.
process.on('disconnect', () => process.exit(0));
