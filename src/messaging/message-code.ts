import { createCipheriv, createDecipheriv } from 'node:crypto';

const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 16 bytes in unpadded base64url are 22 characters. */
const CODE_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/**
 * The short code of a message in a tracking link (`/r/<code>`, `/o/<code>.gif`): its 16-byte id encrypted
 * as one AES-128 block, in 22 base64url characters. One block under a secret key is a keyed permutation:
 * the code is 128 bits nobody can derive from the id (which leaves in the Message-ID header) or guess, yet
 * it decodes back to the id without a lookup table. Each kind of link has its own key, so the pixel's
 * code (fetched and logged by image proxies) is not a click link.
 */
export class MessageCodec {
  constructor(private readonly key: Buffer) {
    if (key.length !== 16) throw new Error('a message code key is 16 bytes');
  }

  encode(messageId: string): string {
    if (!UUID_SHAPE.test(messageId)) throw new Error(`not a message id: ${messageId}`);
    const cipher = createCipheriv('aes-128-ecb', this.key, null).setAutoPadding(false);
    const block = Buffer.from(messageId.replace(/-/g, ''), 'hex');
    return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
  }

  /** The message id a code stands for, or null when it is not one encode() could have made. */
  decode(code: string): string | null {
    if (!CODE_SHAPE.test(code)) return null;
    const block = Buffer.from(code, 'base64url');
    // The last character carries 2 spare bits: accept only the one spelling encode() makes.
    if (block.length !== 16 || block.toString('base64url') !== code) return null;
    const decipher = createDecipheriv('aes-128-ecb', this.key, null).setAutoPadding(false);
    const hex = Buffer.concat([decipher.update(block), decipher.final()]).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
