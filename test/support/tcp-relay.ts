import { AddressInfo, createServer, Server, Socket } from 'node:net';

export interface TcpRelay {
  /** `url` with its host and port replaced by the relay's. */
  url: string;
  /** Drops every connection through the relay and refuses new ones, as a database that went away. */
  cut: () => Promise<void>;
  /** Accepts connections again, on the same port. */
  restore: () => Promise<void>;
  close: () => Promise<void>;
}

/** A TCP relay in front of the server `url` names (e.g. Postgres), which the test can cut and restore. */
export async function startTcpRelay(url: string): Promise<TcpRelay> {
  const target = new URL(url);
  const targetPort = Number(target.port || 5432);
  const sockets = new Set<Socket>();
  const relayConnection = (client: Socket) => {
    const upstream = new Socket();
    upstream.connect(targetPort, target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  const listen = (server: Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  let server = createServer(relayConnection);
  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  const relayed = new URL(url);
  relayed.hostname = '127.0.0.1';
  relayed.port = String(port);
  const cut = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  return {
    url: relayed.toString(),
    cut,
    restore: async () => {
      if (server.listening) return;
      server = createServer(relayConnection);
      await listen(server, port);
    },
    close: cut,
  };
}
