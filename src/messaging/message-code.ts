const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 16 bytes in unpadded base64url are 22 characters. */
const CODE_SHAPE = /^[A-Za-z0-9_-]{22}$/;

/**
 * The short code of a message in tracking links (`/r/<code>`, `/o/<code>.gif`): the 16 bytes of its id
 * in unpadded base64url, 22 characters instead of 36.
 */
export function encodeMessageCode(messageId: string): string {
  if (!UUID_SHAPE.test(messageId)) throw new Error(`not a message id: ${messageId}`);
  return Buffer.from(messageId.replace(/-/g, ''), 'hex').toString('base64url');
}

/** The message id a code stands for, or null when the code is not one encodeMessageCode() could have made. */
export function decodeMessageCode(code: string): string | null {
  if (!CODE_SHAPE.test(code)) return null;
  const bytes = Buffer.from(code, 'base64url');
  // The last character carries 2 spare bits: accept only the one spelling encodeMessageCode() makes.
  if (bytes.length !== 16 || bytes.toString('base64url') !== code) return null;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
