import { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * A local SMTP server that accepts every message and only counts it. Runs as a child of the
 * campaign bench (child_process.fork) so that receiving mail never competes with the bench's event loop.
 *
 * IPC, child → parent: { type: 'ready', port } once listening; { type: 'stats', received, cpuMs } on request.
 * IPC, parent → child: { type: 'stats' } to ask for the counters; { type: 'stop' } to close and exit.
 */
export type SinkRequest = { type: 'stats' } | { type: 'stop' };
export type SinkReport = { type: 'ready'; port: number } | { type: 'stats'; received: number; cpuMs: number };

let received = 0;

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 500,
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => {
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
    report({ type: 'stats', received, cpuMs: (cpu.user + cpu.system) / 1000 });
  } else if (message.type === 'stop') {
    server.close(() => process.exit(0));
  }
});

// The parent went away without saying stop: do not linger.
process.on('disconnect', () => process.exit(0));
