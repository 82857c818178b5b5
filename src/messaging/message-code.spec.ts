import { decodeMessageCode, encodeMessageCode } from './message-code';

describe('message codes', () => {
  const id = '4f0c6c7e-2d1b-4c8a-9a53-0c1d5e9b7a11';

  it('encodes a message id in 22 URL-safe characters and decodes it back', () => {
    const code = encodeMessageCode(id);
    expect(code).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(decodeMessageCode(code)).toBe(id);
    expect(decodeMessageCode(encodeMessageCode(id.toUpperCase()))).toBe(id);
  });

  it('keeps ids without RFC 4122 variant bits (the demo plumbing service has one)', () => {
    const odd = 'c3d4e5f6-a7b8-4c9d-0e1f-2a3b4c5d6e7f';
    expect(decodeMessageCode(encodeMessageCode(odd))).toBe(odd);
  });

  it.each(['', 'short', 'T2xsbyB3b3JsZCBoZWxsbyE=', 'T2xsbyB3b3JsZCBoZWxsb+', 'T2xsbyB3b3JsZCBoZWxsbx'])(
    'rejects %p',
    (code) => {
      expect(decodeMessageCode(code)).toBeNull();
    },
  );

  it('rejects an alternative spelling of the spare bits', () => {
    const code = encodeMessageCode('00000000-0000-4000-8000-000000000000');
    expect(code.endsWith('A')).toBe(true);
    expect(decodeMessageCode(`${code.slice(0, -1)}B`)).toBeNull();
  });

  it('refuses to encode something that is not an id', () => {
    expect(() => encodeMessageCode('not-an-id')).toThrow('not a message id');
  });
});
