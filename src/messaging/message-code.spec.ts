import { randomUUID } from 'node:crypto';
import { MessageCodec } from './message-code';

describe(MessageCodec.name, () => {
  const id = '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11';
  const codec = new MessageCodec(Buffer.alloc(16, 7));

  it('encodes a message id in 22 URL-safe characters and decodes it back', () => {
    const code = codec.encode(id);
    expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(codec.decode(code)).toBe(id);
    expect(codec.decode(codec.encode(id.toUpperCase()))).toBe(id);
  });

  it('gives a code unrelated to the id: not its bytes, and different under another key', () => {
    const plain = Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
    const code = codec.encode(id);
    expect(code).not.toBe(plain);
    expect(codec.decode(plain)).not.toBe(id);
    const other = new MessageCodec(Buffer.alloc(16, 8));
    expect(other.encode(id)).not.toBe(code);
    expect(other.decode(code)).not.toBe(id);
  });

  it('does not let neighbouring ids be read from neighbouring codes', () => {
    // Ids that differ in one bit give codes that differ in about half their bits (AES diffusion).
    const a = Buffer.from(codec.encode('00000000-0000-4000-8000-000000000000'), 'base64url');
    const b = Buffer.from(codec.encode('00000000-0000-4000-8000-000000000001'), 'base64url');
    const differing = [...a].reduce((bits, byte, i) => bits + countBits(byte ^ b[i]), 0);
    expect(differing).toBeGreaterThan(32);
  });

  it('keeps ids without RFC 4122 variant bits (the demo plumbing service has one)', () => {
    const odd = 'c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f';
    expect(codec.decode(codec.encode(odd))).toBe(odd);
  });

  it.each(['', 'short', 'T2xsbyB3b3JsZCBoZWxsbyE=', 'T2xsbyB3b3JsZCBoZWxsb+', 'T2xsbyB3b3JsZCBoZWxsbx'])('rejects %p', (code) => {
    expect(codec.decode(code)).toBeNull();
  });

  it('rejects an alternative spelling of the spare bits', () => {
    // 16 bytes take 22 characters, 4 bits of the last one are spare: only the spelling with them clear is a code.
    expect(codec.decode('A'.repeat(22))).toMatch(/^[0-9a-f-]{36}$/);
    expect(codec.decode(`${'A'.repeat(21)}B`)).toBeNull();
  });

  it('round-trips random ids, one call after another on the same codec, rejected codes in between', () => {
    const ids = Array.from({ length: 100 }, () => randomUUID());
    const codes = ids.map((random) => codec.encode(random));
    expect(new Set(codes).size).toBe(100);
    const decoded = codes.map((code) => [codec.decode(`${code}x`), codec.decode(code)]);
    expect(decoded).toEqual(ids.map((random) => [null, random]));
    expect(codes).toEqual(ids.map((random) => codec.encode(random)));
  });

  it('refuses to encode something that is not an id, and a key that is not 16 bytes', () => {
    expect(() => codec.encode('not-an-id')).toThrow('not a message id');
    expect(() => new MessageCodec(Buffer.alloc(32))).toThrow('16 bytes');
  });
});

function countBits(byte: number): number {
  let bits = 0;
  for (let b = byte; b; b >>= 1) bits += b & 1;
  return bits;
}
