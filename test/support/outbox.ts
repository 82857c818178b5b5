import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ParsedMail, simpleParser } from 'mailparser';

/** Parses the .eml the outbox holds for one message id. */
export async function readOutboxMail(outboxDir: string, messageId: string): Promise<ParsedMail> {
  const file = readdirSync(outboxDir).find((name) => name.endsWith(`${messageId}.eml`));
  if (!file) throw new Error(`no outbox email for message ${messageId} in ${outboxDir}`);
  return simpleParser(readFileSync(join(outboxDir, file)));
}

export function bookingToken(text: string): string {
  const match = /https:\/\/app\.sheba\.xyz\/book\?token=([\w.-]+)/.exec(text);
  if (!match) throw new Error('no booking link in the message');
  return match[1];
}
