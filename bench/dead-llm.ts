import { AddressInfo, createServer, Socket } from 'node:net';

/** How the LLM provider is dead: it accepts and never answers, or nothing listens. */
export type DeadLlmMode = 'hang' | 'refuse';
export const DEAD_LLM_MODES: readonly DeadLlmMode[] = ['hang', 'refuse'];

export interface DeadLlm {
  /** What OPENAI_BASE_URL should be. */
  baseUrl: string;
  close(): Promise<void>;
}

/** A local stand-in for a dead OpenAI-compatible API. */
export async function startDeadLlm(mode: DeadLlmMode): Promise<DeadLlm> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  };
  // Refused: the port was bound once, then released, so connecting fails at once.
  if (mode === 'refuse') await close();
  return { baseUrl: `http://127.0.0.1:${port}/v1`, close };
}
