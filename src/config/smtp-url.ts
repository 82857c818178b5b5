import { BlockList, isIP } from 'node:net';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';
import { parseConnectionUrl } from 'nodemailer/lib/shared';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Hosts whose traffic never leaves the machine, so a local relay may take credentials in clear: an address in
 * 127.0.0.0/8 or ::1 (also written IPv4-mapped or in full), or the name `localhost` itself. Parsed, not matched
 * by prefix: `127.relay.example.com` and `mail.localhost` are names a resolver may send anywhere.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  const name = (host ?? '').toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost') return true;
  const family = isIP(name);
  return family !== 0 && LOOPBACK.check(name, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The connection options SMTP_URL stands for. With a user name or password for a remote server over smtp://,
 * STARTTLS is required (`requireTLS`), so a server that does not offer it, or a network that strips the offer,
 * fails the send before AUTH instead of receiving the password in clear. `?requireTLS=false` in the URL is the
 * explicit opt-out.
 */
export function smtpConnectionOptions(url: string): SMTPConnection.Options {
  const options = parseConnectionUrl(url);
  if (sendsCredentialsToRemote(options) && options.requireTLS === undefined) options.requireTLS = true;
  return options;
}

/** Why SMTP_URL would send credentials in clear despite the rule above, or null; never quotes the URL. */
export function smtpUrlProblem(url: string): string | null {
  let options: SMTPConnection.Options;
  try {
    options = parseConnectionUrl(url);
  } catch {
    return 'SMTP_URL is not a valid URL';
  }
  if (sendsCredentialsToRemote(options) && options.ignoreTLS === true && options.requireTLS !== false) {
    return 'SMTP_URL has ignoreTLS=true, which would send its credentials in clear to a remote server; remove it, or add requireTLS=false to allow that explicitly';
  }
  return null;
}

/** Settings that are allowed but weaken SMTP security, for a boot warning. */
export function smtpUrlWarnings(url: string): string[] {
  const options = smtpConnectionOptions(url);
  const warnings: string[] = [];
  if (sendsCredentialsToRemote(options) && !options.requireTLS) {
    warnings.push('SMTP_URL has requireTLS=false: the SMTP password crosses the network in clear when the server offers no STARTTLS');
  }
  if (options.tls?.rejectUnauthorized === false) {
    warnings.push(
      "SMTP_URL has tls.rejectUnauthorized=false: the server's certificate is not checked (for tests only; trust a private CA with NODE_EXTRA_CA_CERTS)",
    );
  }
  return warnings;
}

function sendsCredentialsToRemote(options: SMTPConnection.Options): boolean {
  return Boolean(options.auth) && !options.secure && !isLoopbackHost(options.host);
}
