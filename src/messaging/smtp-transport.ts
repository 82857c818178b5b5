import { connect, Socket } from 'node:net';
import { smtpConnectionOptions } from '../config/smtp-url';

type SocketCallback = (error: Error | null, socketOptions?: { connection: Socket }) => void;

/**
 * Pooled SMTP from SMTP_URL, as the service sends with it (the campaign bench measures the raw send limit with
 * the same options). Sockets get TCP_NODELAY: SMTP writes small commands and waits for each reply, and with
 * Nagle's algorithm every message stalled ~40 ms on a delayed ACK.
 */
export function smtpTransport(url: string, maxConnections: number) {
  // Parsed here: nodemailer drops every other option of an object that carries `url`.
  return {
    ...smtpConnectionOptions(url),
    pool: true,
    maxConnections,
    maxMessages: 1000,
    getSocket: (options: { host?: string; port?: number; secure?: boolean }, callback: SocketCallback) => {
      const socket = connect({ host: options.host, port: options.port ?? (options.secure ? 465 : 587) });
      socket.setNoDelay(true);
      coalesceWrites(socket);
      // Handed over while still connecting, so a refused connection is the SMTP connection's own error and the
      // pool drops it. Failing this callback instead leaks a pool slot per failure (nodemailer never frees a
      // resource whose getSocket failed); once retries had used up SMTP_MAX_CONNECTIONS, sends hung forever.
      callback(null, { connection: socket });
    },
  };
}

/**
 * nodemailer streams a message in many small chunks (one per encoded line); with TCP_NODELAY each would be its
 * own syscall and packet. Corking until the next tick sends everything written in one tick as one writev.
 */
function coalesceWrites(socket: Socket): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    if (!socket.writableCorked) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    return write(...args);
  }) as Socket['write'];
}
