import { Cipher, createCipheriv, createDecipheriv, Decipher } from 'node:crypto';

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
  /**
   * Kept for the life of the codec: ECB without padding turns each 16-byte update() into one block at
   * once, with no state between calls, so final() is never needed. A cipher per call cost 25 µs, this 3.5.
   */
  private readonly cipher: Cipher;
  private readonly decipher: Decipher;

  constructor(key: Buffer) {
    if (key.length !== 16) throw new Error('a message code key is 16 bytes');
    this.cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    this.decipher = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  }

  encode(messageId: string): string {
    if (!UUID_SHAPE.test(messageId)) throw new Error(`not a message id: ${messageId}`);
    return this.cipher.update(Buffer.from(messageId.replace(/-/g, ''), 'hex')).toString('base64url');
  }

  /** The message id a code stands for, or null when it is not one encode() could have made. */
  decode(code: string): string | null {
    if (!CODE_SHAPE.test(code)) return null;
    const block = Buffer.from(code, 'base64url');
    // The last character carries 4 spare bits: accept only the one spelling encode() makes.
    if (block.length !== 16 || block.toString('base64url') !== code) return null;
    const hex = this.decipher.update(block).toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}
