import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { OptionError, Options, STRSIZE_MAX } from '../../src/runtime/options.js';

/** The value -x name=arg gives, or the error's text. */
function set(name: string, arg: string | null): bigint | string {
  const o = new Options();
  try {
    o.set(name, arg);
  } catch (e) {
    assert.ok(e instanceof OptionError, String(e));
    return e.reason;
  }
  return o.get(name);
}

const BAD = 'Invalid value for specified option';
const TOO_LARGE = 'Value too large for defined data type';

test('options: sizes are int64 products of strtoull and a k/m/g/t suffix (dt_optval_parse)', () => {
  const cases: Array<[string, bigint | string]> = [
    ['4m', 4194304n],
    ['0x10k', 16384n],
    ['010', 8n],
    ['8388607t', 8388607n << 40n],
    // 2^63: negative as an int64
    ['8388608t', BAD],
    // 2^64 wraps to 0, as the C multiplication does
    ['16777216t', 0n],
    // strtoull's ERANGE
    ['18446744073709551616', BAD],
    ['9223372036854775808', BAD],
    ['-1', BAD],
    ['1x', BAD],
  ];
  for (const [arg, want] of cases) assert.equal(set('bufsize', arg), want, arg);
});

test('options: counts are int64s (dt_opt_runtime): nspec past 2^63 or past 2^64 is refused', () => {
  assert.equal(set('nspec', '100000000'), 100000000n);
  assert.equal(set('nspec', '9223372036854775807'), 9223372036854775807n);
  assert.equal(set('nspec', '9223372036854775808'), BAD);
  assert.equal(set('nspec', '245566729809009887663'), BAD);
  assert.equal(set('nspec', '-72'), BAD);
});

test('options: strsize is at least 2 and at most 64 KiB', () => {
  assert.equal(set('strsize', '2'), 2n);
  assert.equal(set('strsize', '1'), BAD);
  assert.equal(set('strsize', '64k'), STRSIZE_MAX);
  assert.equal(set('strsize', '65537'), TOO_LARGE);
  assert.equal(set('strsize', '512m'), TOO_LARGE);
  assert.equal(set('strsize', '4294967296'), TOO_LARGE);
});

test('options: printsize and pcapsize fall back to their defaults out of range, rounded to 8', () => {
  const cases: Array<[string, string | null, bigint]> = [
    ['printsize', '100', 104n],
    ['printsize', '64k', 65536n],
    ['printsize', '65537', 8192n],
    ['printsize', '100t', 8192n],
    ['printsize', '0', 8192n],
    ['printsize', null, 8192n],
    ['pcapsize', '1500', 1504n],
    ['pcapsize', '65536', 128n],
    ['pcapsize', '0', 128n],
  ];
  for (const [name, arg, want] of cases) assert.equal(set(name, arg), want, `${name}=${arg}`);
});
