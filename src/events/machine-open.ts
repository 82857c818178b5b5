/**
 * User agents of the proxies that fetch a message's images for the mail client rather than for a reader:
 * Apple Mail Privacy Protection (a bare "Mozilla/5.0", no browser would send that), Gmail's image proxy and
 * Yahoo's. They fetch on arrival, before anyone reads the message.
 */
const MAIL_PROXY_AGENTS: readonly RegExp[] = [/^Mozilla\/5\.0$/, /GoogleImageProxy/, /YahooMailProxy/];

/** How soon after the send a proxy's fetch counts as the prefetch on arrival; later it may be a reader's open. */
export const MACHINE_OPEN_WINDOW_MS = 60_000;

/** An open fetched by a known mail proxy within MACHINE_OPEN_WINDOW_MS of the send: arrived, not read. */
export function isMachineOpen(userAgent: string | undefined, sentAt: Date, openedAt: Date): boolean {
  if (!userAgent || !MAIL_PROXY_AGENTS.some((agent) => agent.test(userAgent.trim()))) return false;
  return openedAt.getTime() - sentAt.getTime() <= MACHINE_OPEN_WINDOW_MS;
}
