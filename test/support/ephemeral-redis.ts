import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import Redis from 'ioredis';
import { waitFor } from './wait';

/** A Redis of the test's own (the machine's is shared), without persistence: a restart loses every key. */
export class EphemeralRedis {
  private process?: ChildProcess;
  /** With `password`, the server requires it (`requirepass`). */
  constructor(
    readonly port: number,
    private readonly password?: string,
  ) {}

  get url(): string {
    return this.password ? `redis://:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}` : `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const auth = this.password ? ['--requirepass', this.password] : [];
    this.process = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', ...auth], {
      stdio: 'ignore',
    });
    await waitFor('redis-server to answer', async () => {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => undefined);
      try {
        await client.connect();
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    }, 10_000);
  }

  async kill(): Promise<void> {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = once(this.process, 'exit');
    this.process.kill('SIGKILL');
    await exited;
  }
}
