import { hostileInputProblems, MAX_INPUT_DEPTH } from './hostile-input';

const nest = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level++) value = { a: value };
  return value;
};

describe('hostileInputProblems', () => {
  it(`accepts ${MAX_INPUT_DEPTH} levels and refuses one more`, () => {
    expect(hostileInputProblems(nest(MAX_INPUT_DEPTH), '', 'request body')).toEqual([]);
    expect(hostileInputProblems(nest(MAX_INPUT_DEPTH + 1), '', 'request body')).toEqual([
      { field: 'a', message: `the request body is nested more than ${MAX_INPUT_DEPTH} levels deep` },
    ]);
  });

  it('walks a million levels without overflowing the stack', () => {
    expect(hostileInputProblems(nest(1_000_000), '', 'request body')[0].message).toMatch(/nested more than/);
  });

  it('names prototype keys and NUL characters by their path, in arrays too', () => {
    const input = JSON.parse('{"ok":"fine","list":[{"__proto__":1},"a\\u0000b"],"constructor":{}}');
    expect(hostileInputProblems(input, '', 'request body')).toEqual(
      expect.arrayContaining([
        { field: 'constructor', message: 'constructor is not a known field' },
        { field: 'list.0.__proto__', message: 'list.0.__proto__ is not a known field' },
        { field: 'list.1', message: 'list.1 must not contain a NUL character' },
      ]),
    );
  });

  it('names a path parameter by its name', () => {
    expect(hostileInputProblems('x\u0000', 'token', 'path')).toEqual([{ field: 'token', message: 'token must not contain a NUL character' }]);
    expect(hostileInputProblems('plain', 'token', 'path')).toEqual([]);
  });
});
