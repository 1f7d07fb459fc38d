import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import {
  AF_INET6,
  DFault,
  FLT_BADADDR,
  FLT_ILLOP,
  Rand,
  StrtokState,
  basename,
  cleanpath,
  dirname,
  htonl,
  htonll,
  htons,
  index,
  inet_ntoa,
  inet_ntoa6,
  inet_ntop,
  lltostr,
  ntohl,
  ntohll,
  ntohs,
  rand,
  rindex,
  strchr,
  strjoin,
  strlen,
  strrchr,
  strstr,
  strtok,
  strtokNext,
  strtoll,
  substr,
  tolower,
  toupper,
} from '../../src/runtime/subr.js';

const SZ = 256; // default strsize

function faults(fn: () => unknown, fault: number, value = 0n): void {
  assert.throws(fn, (e: unknown) => e instanceof DFault && e.fault === fault && e.value === value);
}

// A kernel char * that is not a D string, as the caller passes it: read up to 2 * strsize.
const BANNER = 'Linux version 6.8.0-1.el9uek.x86_64 (mockbuild@host) (gcc) #2 SMP';

// -- strlen, strjoin ---------------------------------------------------------------------------

test('strlen', () => {
  const cases: Array<[string, number, bigint]> = [
    ['', SZ, 0n],
    ['1', SZ, 1n],
    ['1234567890', SZ, 10n],
    ['123456789012345678901234567890123456789012345678901234567890', SZ, 60n],
    ['123456789', 5, 5n],
    ['12345', 5, 5n],
  ];
  for (const [s, sz, want] of cases) assert.equal(strlen(s, sz), want, JSON.stringify(s));
  faults(() => strlen(null, SZ), FLT_BADADDR);
});

test('strjoin', () => {
  const cases: Array<[string, string, number, string]> = [
    ['foo', 'baz', SZ, 'foobaz'],
    ['foo', '', SZ, 'foo'],
    ['', 'baz', SZ, 'baz'],
    ['', '', SZ, ''],
    // a string holds up to strsize chars
    ['', '123', 5, '123'],
    ['', '12345', 5, '12345'],
    ['', '1234567890', 5, '12345'],
    ['123', 'abcdefgh', 5, '123ab'],
    ['12345', 'abcdefgh', 5, '12345'],
    ['1234567890', 'abcdefgh', 5, '12345'],
    ['123', '', 5, '123'],
    ['12345', '', 5, '12345'],
    ['1234567890', '', 5, '12345'],
    ['dtrace', 'BEGIN', 10, 'dtraceBEGI'],
    ['dtrace', 'BEGIN', 6, 'dtrace'],
    ['dtrace', 'dtrace', 6, 'dtrace'],
  ];
  for (const [a, b, sz, want] of cases) assert.equal(strjoin(a, b, sz), want, `${a}+${b}/${sz}`);
  assert.equal(
    strjoin(strjoin(strjoin('dtrace', ':', SZ), strjoin('', ':', SZ), SZ), strjoin(strjoin('', ':', SZ), 'BEGIN', SZ), SZ),
    'dtrace:::BEGIN',
  );
  assert.equal(strjoin(BANNER, BANNER, 14), 'Linux version ');
  faults(() => strjoin(null, 'a', SZ), FLT_BADADDR);
  faults(() => strjoin('a', null, SZ), FLT_BADADDR);
});

// -- substr ------------------------------------------------------------------------------------

test('substr: positive index, with and without a length', () => {
  const s = 'abcdefghijklmnop';
  const noCnt = ['abcdefghijklmnop', 'bcdefghijklmnop', 'cdefghijklmnop', 'defghijklmnop', 'efghijklmnop',
    'fghijklmnop', 'ghijklmnop', 'hijklmnop', 'ijklmnop', 'jklmnop', 'klmnop'];
  const cnt3 = ['abc', 'bcd', 'cde', 'def', 'efg', 'fgh', 'ghi', 'hij', 'ijk', 'jkl', 'klm'];
  for (let i = 0; i <= 10; i++) {
    assert.equal(substr(s, i, undefined, SZ), noCnt[i], `substr(s, ${i})`);
    assert.equal(substr(s, i, 3, SZ), cnt3[i], `substr(s, ${i}, 3)`);
  }
  const from2 = ['', 'c', 'cd', 'cde', 'cdef', 'cdefg', 'cdefgh', 'cdefghi', 'cdefghij', 'cdefghijk', 'cdefghijkl'];
  for (let n = 0; n <= 10; n++) assert.equal(substr(s, 2, n, SZ), from2[n], `substr(s, 2, ${n})`);
});

test('substr: negative index and length', () => {
  const s = 'abcdefghijklmnop';
  // index -10 .. -1
  const noCnt = ['ghijklmnop', 'hijklmnop', 'ijklmnop', 'jklmnop', 'klmnop', 'lmnop', 'mnop', 'nop', 'op', 'p'];
  const cnt3 = ['ghi', 'hij', 'ijk', 'jkl', 'klm', 'lmn', 'mno', 'nop', 'op', 'p'];
  // count -10 .. -1 from index 2
  const negCnt = ['cdef', 'cdefg', 'cdefgh', 'cdefghi', 'cdefghij', 'cdefghijk', 'cdefghijkl', 'cdefghijklm',
    'cdefghijklmn', 'cdefghijklmno'];
  for (let k = 0; k < 10; k++) {
    const i = k - 10;
    assert.equal(substr(s, i, undefined, SZ), noCnt[k], `substr(s, ${i})`);
    assert.equal(substr(s, i, 3, SZ), cnt3[k], `substr(s, ${i}, 3)`);
    assert.equal(substr(s, 2, i, SZ), negCnt[k], `substr(s, 2, ${i})`);
  }
  // a negative index before the start: the slice loses what lies before the string
  const short = 'abcde';
  const farNoCnt = ['abcde', 'abcde', 'abcde', 'abcde', 'abcde', 'abcde', 'bcde', 'cde', 'de', 'e'];
  const far3 = ['', '', '', 'a', 'ab', 'abc', 'bcd', 'cde', 'de', 'e'];
  for (let k = 0; k < 10; k++) {
    const i = k - 10;
    assert.equal(substr(short, i, undefined, SZ), farNoCnt[k], `substr(abcde, ${i})`);
    assert.equal(substr(short, i, 3, SZ), far3[k], `substr(abcde, ${i}, 3)`);
  }
});

test('substr: edge cases', () => {
  const s = 'foobarbazbop';
  const cases: Array<[number, number | undefined, string]> = [
    [3, undefined, 'barbazbop'],
    [300, undefined, ''],
    [-10, undefined, 'obarbazbop'],
    [11, undefined, 'p'],
    [12, undefined, ''],
    [13, undefined, ''],
    [8, 20, 'zbop'],
    [4, 4, 'arba'],
    [5, 8, 'rbazbop'],
    [400, 20, ''],
    [400, 0, ''],
    [400, -1, ''],
    [3, 0, ''],
    [3, -1, 'barbazbo'],
    [3, -4, 'barba'],
    [3, -20, ''],
    [-10, -5, 'obarb'],
    [0, 400, 'foobarbazbop'],
    [-1, 400, 'p'],
    [-1, 0, ''],
    [-1, -1, ''],
    [-24, 24, 'foobarbazbop'],
    [-24, 12, ''],
    [-24, 13, 'f'],
    [-12, 12, 'foobarbazbop'],
    [-12, 11, 'foobarbazbo'],
    // only the low 32 bits of index and length count
    [2 ** 32 + 3, undefined, 'barbazbop'],
    [3, 2 ** 32 + 2, 'ba'],
  ];
  for (const [i, n, want] of cases) assert.equal(substr(s, i, n, SZ), want, `substr(s, ${i}, ${n})`);
  assert.equal(substr('abcdefgh', 12345678, undefined, SZ), '');
  assert.equal(substr('', 0, undefined, SZ), '');
  assert.equal(substr('', -1, 5, SZ), '');
  // without a length, the count is strsize: far enough back, nothing is left
  assert.equal(substr('abc', -200, undefined, SZ), 'abc');
  assert.equal(substr('abc', -300, undefined, SZ), '');
  faults(() => substr(null, 1, undefined, SZ), FLT_BADADDR);
});

test('substr: strsize', () => {
  const x = '1234567890123';
  assert.equal(substr(x, 0, undefined, 13), x);
  assert.equal(substr(x, 0, 12, 13), '123456789012');
  assert.equal(substr(x, 0, 13, 13), x);
  assert.equal(substr(x, 0, 14, 13), x);
  assert.equal(substr('abcdef', 2, undefined, 13), 'cdef');
  assert.equal(substr('ABCDEF', 3, undefined, 13), 'DEF');
  // strjoin of substrs, then substr of that
  const j = strjoin(strjoin(substr('dtrace', 0, 2, SZ), substr('dtrace', 2, undefined, SZ), SZ),
    strjoin(substr('BEGIN', 0, 3, SZ), substr('BEGIN', 3, undefined, SZ), SZ), SZ);
  assert.equal(substr(j, 6, 3, SZ), 'BEG');
  // through a char *: the chars after index are read from the source itself
  assert.equal(substr(BANNER, 1, undefined, 13), 'inux version ');
  assert.equal(substr(BANNER, 1, 4, 13), 'inux');
});

// -- index, rindex, strstr ---------------------------------------------------------------------

test('index and rindex without start', () => {
  const cases: Array<[string, string, number, number]> = [
    ['foobarbaz', 'barbaz', 3, 3],
    ['foofoofoo', 'foo', 0, 6],
    ['boofoofoo', 'foo', 3, 6],
    ['foobarbaz', 'barbazzy', -1, -1],
    ['foobar', 'foobar', 0, 0],
    ['foobar', 'foobarbaz', -1, -1],
    ['', 'foobar', -1, -1],
    ['foobar', '', 0, 6],
    ['', '', 0, 0],
    ['foo', '', 0, 3],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'aaaa', 0, 28],
    ['aaaa', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', -1, -1],
  ];
  for (const [s, t, wi, wr] of cases) {
    assert.equal(index(s, t, undefined, SZ), wi, `index(${s}, ${t})`);
    assert.equal(rindex(s, t, undefined, SZ), wr, `rindex(${s}, ${t})`);
  }
});

test('index and rindex with start', () => {
  // [s, t, start, index, rindex]
  const cases: Array<[string, string, number, number, number]> = [
    ['foobarbaz', 'barbaz', -400, 3, -1],
    ['foobarbaz', 'barbaz', -1, 3, -1],
    ['foobarbaz', 'barbaz', 0, 3, -1],
    ['foobarbaz', 'barbaz', 3, 3, 3],
    ['foobarbaz', 'barbaz', 4, -1, 3],
    ['foobarbaz', 'barbaz', 9, -1, 3],
    ['foobarbaz', 'barbaz', 400, -1, 3],
    ['foofoofoo', 'foo', -1, 0, -1],
    ['foofoofoo', 'foo', 0, 0, 0],
    ['foofoofoo', 'foo', 4, 6, 3],
    ['foofoofoo', 'foo', 6, 6, 6],
    ['foofoofoo', 'foo', 7, -1, 6],
    ['foofoofoo', 'foo', 10, -1, 6],
    ['boofoofoo', 'foo', 0, 3, -1],
    ['foobar', 'foobar', 0, 0, 0],
    ['foobar', 'foobar', 3, -1, 0],
    ['foobar', 'foobarbaz', 0, -1, -1],
    ['', 'foobar', 0, -1, -1],
    ['', 'foobar', 400, -1, -1],
    ['foobar', '', -400, 0, -1],
    ['foobar', '', -1, 0, -1],
    ['foobar', '', 0, 0, 0],
    ['foobar', '', 3, 3, 3],
    ['foobar', '', 6, 6, 6],
    // Oracle: past the last possible position index gives -1 even for ""
    ['foobar', '', 7, -1, 6],
    ['foobar', '', 400, -1, 6],
    ['', '', -1, 0, -1],
    ['', '', 0, 0, 0],
    ['', '', 1, -1, 0],
  ];
  for (const [s, t, st, wi, wr] of cases) {
    assert.equal(index(s, t, st, SZ), wi, `index(${s}, ${t}, ${st})`);
    assert.equal(rindex(s, t, st, SZ), wr, `rindex(${s}, ${t}, ${st})`);
  }
});

test('index and rindex on long strings', () => {
  const ab = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@#';
  const x = ab + ab;
  const y = 'abcdefghijklmnopqrstuvwxyz';
  const y2 = ab + 'a';
  const idx: Array<[string, number | undefined, number]> = [
    [y, undefined, 0], [y, -1, 0], [y, 0, 0], [y, 1, 64], [y, 100, -1], [y, 200, -1],
    [y2, -1, 0], [y2, undefined, 0], [y2, 1, -1],
  ];
  for (const [t, st, want] of idx) assert.equal(index(x, t, st, 184), want, `index(x, ${t.length}, ${st})`);
  const ridx: Array<[string, number | undefined, number]> = [
    [y, undefined, 64], [y, -1, -1], [y, 0, 0], [y, 1, 0], [y, 70, 64], [y, 200, 64],
    [y2, -1, -1], [y2, undefined, 0], [y2, 1, 0],
  ];
  for (const [t, st, want] of ridx) assert.equal(rindex(x, t, st, 144), want, `rindex(x, ${t.length}, ${st})`);

  const a5 = 'abcdefghijklmnopqrstuvwxyz'.repeat(5);
  const k = 'klmnopqrstuvw';
  const fwd: Array<[number | undefined, number]> = [
    [-1, 10], [undefined, 10], [10, 10], [20, 36], [30, 36], [40, 62], [50, 62], [60, 62], [70, 88], [80, 88], [90, 114],
  ];
  for (const [st, want] of fwd) assert.equal(index(a5, k, st, 184), want, `index(a5, k, ${st})`);
  const back: Array<[number | undefined, number]> = [
    [undefined, 114], [-1, -1], [0, -1], [5, -1], [10, 10], [30, 10], [40, 36], [60, 36], [70, 62], [80, 62],
    [90, 88], [120, 114], [200, 114],
  ];
  for (const [st, want] of back) assert.equal(rindex(a5, k, st, 144), want, `rindex(a5, k, ${st})`);
  assert.equal(index('', k, undefined, 184), -1);
  assert.equal(index(k, '', undefined, 184), 0);
  assert.equal(rindex('', k, undefined, 144), -1);
  assert.equal(rindex(k, '', undefined, 144), 13);
});

test('index and rindex see roundup(strsize, 8) - 1 chars', () => {
  // strsize 8: buffers of 8 bytes, so 7 chars of each string
  assert.equal(index('abcdefgh', 'h', undefined, 8), -1);
  assert.equal(rindex('abcdefgh', 'h', undefined, 8), -1);
  assert.equal(index('abcdefgh', 'abcdefgh', undefined, 8), 0);
  assert.equal(index('abcdefgh', 'g', undefined, 8), 6);
  // strsize 14: buffers of 16 bytes, so a char * is seen up to 15 chars
  assert.equal(index(BANNER, BANNER, undefined, 14), 0);
  assert.equal(rindex(BANNER, BANNER, undefined, 14), 0);
  assert.equal(index(BANNER, 'version 6.', undefined, 14), -1);
  assert.equal(index(BANNER, 'version 6', undefined, 14), 6);
  assert.equal(index(BANNER, 'version ', undefined, 14), 6);
  faults(() => index(null, 'a', undefined, SZ), FLT_BADADDR);
  faults(() => rindex('a', null, 0, SZ), FLT_BADADDR);
  faults(() => rindex(null, 'a', -1, SZ), FLT_BADADDR);
});

test('strstr', () => {
  const str = 'foobarbarbazbarbop';
  const cases: Array<[string, string, string | null]> = [
    [str, str, str],
    [str, 'baz', 'bazbarbop'],
    [str, 'bar', 'barbarbazbarbop'],
    [str, 'bazbarbop', 'bazbarbop'],
    [str, 'barba', 'barbarbazbarbop'],
    ['bazbarbop', 'zbarbop', 'zbarbop'],
    [str, '', str],
    ['', '', ''],
    ['f', 'f', 'f'],
    [str, 'barbarf', null],
    [str, 'foobarbarbazbarbopp', null],
    ['', 'a', null],
  ];
  for (const [s, t, want] of cases) assert.equal(strstr(s, t, 184), want, `strstr(${s}, ${t})`);
  assert.equal(strstr(strstr(str, 'baz', 184), strstr(str, 'zba', 184), 184), 'zbarbop');
  faults(() => strstr(strstr('abc', 'def', SZ), 'a', SZ), FLT_BADADDR);
});

// -- strchr, strrchr ---------------------------------------------------------------------------

test('strchr and strrchr', () => {
  const s = 'fooeyfooeyfoo';
  const cases: Array<[string, string, string | null, string | null]> = [
    [s, 'f', s, 'foo'],
    [s, 'y', 'yfooeyfoo', 'yfoo'],
    [s, 'a', null, null],
    ['yfooeyfoo', 'y', 'yfooeyfoo', 'yfoo'],
    ['', 'a', null, null],
    ['a', 'a', 'a', 'a'],
  ];
  for (const [str, c, wc, wr] of cases) {
    assert.equal(strchr(str, c.charCodeAt(0), SZ), wc, `strchr(${str}, ${c})`);
    assert.equal(strrchr(str, c.charCodeAt(0), SZ), wr, `strrchr(${str}, ${c})`);
  }
  // NUL is never found; only the low 8 bits of c count (char)
  assert.equal(strchr(s, 0, SZ), null);
  assert.equal(strrchr(s, 0, SZ), null);
  assert.equal(strchr(s, 0x100 + 0x79, SZ), 'yfooeyfoo');
  assert.equal(strchr('a\xe9b', -23, SZ), '\xe9b');
  assert.equal(strrchr('a\xe9b\xe9', -23, SZ), '\xe9');
  faults(() => strchr(null, 0x61, SZ), FLT_BADADDR);
  faults(() => strrchr(null, 0x61, SZ), FLT_BADADDR);
});

test('strchr and strrchr see strsize - 1 chars', () => {
  assert.equal(strchr('12345', 0x31, 5), '1234');
  assert.equal(strchr('12345', 0x35, 5), null);
  assert.equal(strrchr('12345', 0x33, 5), '34');
  assert.equal(strrchr('12345', 0x35, 5), null);
  assert.equal(strchr('1234', 0x32, 5), '234');
  assert.equal(strchr(BANNER, 0x78, 14), 'x version');
  assert.equal(strrchr(BANNER, 0x75, 14), 'ux version');
});

// -- strtok ------------------------------------------------------------------------------------

test('strtok: a sequence of tokens', () => {
  const st = new StrtokState();
  assert.equal(strtok(st, ',,,Carrots,,Barley,Oatmeal,,,Beans,', ',', SZ), 'Carrots');
  assert.equal(strtokNext(st, ',', SZ), 'Barley');
  assert.equal(strtokNext(st, ',', SZ), 'Oatmeal');
  assert.equal(strtokNext(st, ',', SZ), 'Beans');
  assert.equal(strtokNext(st, ',', SZ), null);
});

test('strtok: single calls', () => {
  const cases: Array<[string, string, string | null]> = [
    ['', '', null],
    ['foo', '', 'foo'],
    ['foobar', 'o', 'f'],
    ['oobar', 'o', 'bar'],
    ['foo', 'bar', 'foo'],
    ['', 'foo', null],
    [',,,', ',', null],
    ['abc', 'def', 'abc'],
  ];
  for (const [s, d, want] of cases) assert.equal(strtok(new StrtokState(), s, d, SZ), want, `strtok(${s}, ${d})`);
});

test('strtok: changing delimiters; the ending delimiter is not consumed', () => {
  const ab = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const st = new StrtokState();
  assert.equal(strtok(st, ab + ab + ab, 'abcABC', SZ), 'defghijklmnopqrstuvwxyz');
  assert.equal(strtokNext(st, 'MNO', SZ), 'ABCDEFGHIJKL');
  assert.equal(strtokNext(st, 'MNO', SZ), 'PQRSTUVWXYZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKL');
  assert.equal(strtokNext(st, '0123456789', SZ), 'MNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
  assert.equal(strtokNext(st, '0123456789', SZ), null);
});

test('strtok: long strings', () => {
  const x = '_'.repeat(253) + 'XYZ';
  const st = new StrtokState();
  assert.equal(strtok(st, x, 'a', SZ), x);
  assert.equal(strtok(st, 'zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA', x, SZ), 'zyxwvutsrqponmlkjihgfedcba');
  assert.equal(strtok(st, x, 'Z', SZ), '_'.repeat(253) + 'XY');
  assert.equal(strtokNext(st, 'a', SZ), 'Z');
  // the string is kept up to strsize chars
  assert.equal(strtok(st, 'abcdefgh', ',', 5), 'abcde');
});

test('strtok: through a char *', () => {
  const st = new StrtokState();
  assert.equal(strtok(st, BANNER, ' ', 14), 'Linux');
  assert.equal(strtokNext(st, ' ', 14), 'version');
  assert.equal(strtok(st, '@@@@@ !!!!!', BANNER, 14), '@@@@@');
  assert.equal(strtokNext(st, BANNER, 14), '!!!!!');
});

test('strtok: faults and state', () => {
  const st = new StrtokState();
  faults(() => strtokNext(st, '!', SZ), FLT_BADADDR);
  faults(() => strtok(st, 'abc', null, SZ), FLT_BADADDR);
  // the string was taken before the delimiters faulted
  assert.equal(strtokNext(st, 'b', SZ), 'a');
  faults(() => strtok(st, strstr('abc', 'def', SZ), '', SZ), FLT_BADADDR);
  assert.equal(strtok(st, 'abc', 'def', SZ), 'abc');
  assert.equal(strtokNext(st, 'def', SZ), null);
  st.reset();
  faults(() => strtokNext(st, 'def', SZ), FLT_BADADDR);
});

test('strtok: after NULL the offset is relative (Oracle)', () => {
  const st = new StrtokState();
  assert.equal(strtok(st, 'a,b', ',', SZ), 'a');
  assert.equal(strtokNext(st, ',', SZ), 'b');
  assert.equal(strtokNext(st, ',', SZ), null);
  assert.equal(strtokNext(st, ',', SZ), 'a');
  assert.equal(strtok(st, 'abcdef,,,,', ',', SZ), 'abcdef');
  assert.equal(strtokNext(st, ',', SZ), null);
  assert.equal(strtokNext(st, 'x', SZ), 'ef,,,,');
});

// -- basename, dirname, cleanpath --------------------------------------------------------------

test('basename and dirname', () => {
  const cases: Array<[string, string, string]> = [
    ['/foo/bar/baz', 'baz', '/foo/bar'],
    ['/foo/bar///baz/', 'baz', '/foo/bar'],
    ['/foo/bar/baz/', 'baz', '/foo/bar'],
    ['/foo/bar/baz//', 'baz', '/foo/bar'],
    ['/foo/bar/baz/.', '.', '/foo/bar/baz'],
    ['/foo/bar/baz/./', '.', '/foo/bar/baz'],
    ['/foo/bar/baz/.//', '.', '/foo/bar/baz'],
    ['foo/bar/baz/', 'baz', 'foo/bar'],
    ['/', '/', '/'],
    ['./', '.', '.'],
    ['//', '/', '/'],
    ['/.', '.', '/'],
    ['/./', '.', '/'],
    ['/./.', '.', '/.'],
    ['/.//', '.', '/'],
    ['.', '.', '.'],
    ['f', 'f', '.'],
    ['f/', 'f', '.'],
    ['/////', '/', '/'],
    ['', '.', '.'],
    ['//a', 'a', '/'],
    ['a//b', 'b', 'a'],
    ['/var/crash/systemtap', 'systemtap', '/var/crash'],
  ];
  for (const [s, b, d] of cases) {
    assert.equal(basename(s, SZ), b, `basename(${s})`);
    assert.equal(dirname(s, SZ), d, `dirname(${s})`);
  }
  assert.equal(basename(BANNER, 14), 'Linux version ');
  assert.equal(dirname(BANNER, 14), '.');
  assert.equal(basename('/ab/cdefg', 5), 'c');
  assert.equal(dirname('/ab/cdefg', 5), '/ab');
  faults(() => basename(null, SZ), FLT_BADADDR);
  faults(() => dirname(null, SZ), FLT_BADADDR);
});

test('cleanpath', () => {
  const cases: Array<[string, string]> = [
    ['/foo/bar/baz', '/foo/bar/baz'],
    ['/foo/bar///baz/', '/foo/bar/baz'],
    ['/foo/bar/baz/', '/foo/bar/baz'],
    ['/foo/bar/baz//', '/foo/bar/baz'],
    ['/foo/bar/baz/.', '/foo/bar/baz'],
    ['/foo/bar/baz/./', '/foo/bar/baz'],
    ['/foo/bar/../../baz/.//', '/baz'],
    ['foo/bar/./././././baz/', 'foo/bar/baz'],
    ['/foo/bar/baz/../../../../../../', '/'],
    ['/../../../../../../', '/'],
    ['/./', '/'],
    ['/foo/bar/baz/../../bop/bang/../../bar/baz/', '/foo/bar/baz'],
    ['./', '.'],
    ['//', '/'],
    ['/.', '/'],
    ['/./.', '/'],
    ['/.//', '/'],
    ['.', '.'],
    ['/', '/'],
    ['/////', '/'],
    ['', ''],
    ['a/.', 'a'],
    ['a/./.', 'a'],
    ['./a', 'a'],
    ['././a', 'a'],
    ['..', '..'],
    ['../..', '../..'],
    ['../../..', '../../..'],
    ['../../../..', '../../../..'],
    ['a/..', '.'],
    ['abc', 'abc'],
    ['a', 'a'],
    ['a/', 'a'],
    ['ab/', 'ab'],
    ['/abc', '/abc'],
    ['z/a/../b', 'z/b'],
    ['/z/a/../b', '/z/b'],
    ['z/a/b/../../././c///d/e', 'z/c/d/e'],
    ['/z/a/b/../../././c///d/e', '/z/c/d/e'],
    ['/a/../b', '/b'],
    ['/a/..', '/'],
    ['/a/../..', '/'],
    ['/a/b/../../././c///d/e', '/c/d/e'],
    ['a/../b', 'b'],
    ['a/../..', '..'],
    ['a/b/../../././c///d/e', 'c/d/e'],
    ['../a/..', '..'],
    ['a/../b/..', '.'],
    ['x../..', '.'],
    ['..a/b/...', '..a/b/...'],
    ['.hidden/./x', '.hidden/x'],
  ];
  for (const [s, want] of cases) assert.equal(cleanpath(s, SZ), want, `cleanpath(${s})`);
  faults(() => cleanpath(null, SZ), FLT_BADADDR);
});

test('cleanpath: Oracle keeps only (count mod 16) leading ".."s', () => {
  assert.equal(cleanpath('../'.repeat(15) + 'x', SZ), '../'.repeat(15) + 'x');
  assert.equal(cleanpath('../'.repeat(16) + 'x', SZ), 'x');
  assert.equal(cleanpath('../'.repeat(17) + 'x', SZ), '../x');
  assert.equal(cleanpath('../'.repeat(16), SZ), '.');
});

test('cleanpath: no room for the work buffer', () => {
  // strlen(s) + 2 must be below strsize; otherwise the partly squeezed "/" + s + "/" comes back
  assert.equal(cleanpath('abcdefg', 10), 'abcdefg'); // 7 + 2 < 10
  assert.equal(cleanpath('abcdefgh', 10), '/abcdefgh/');
  assert.equal(cleanpath('abcdefghi', 10), '/abcdefghi');
  assert.equal(cleanpath('abcdefghij', 10), '/abcdefghi');
  assert.equal(cleanpath('abcdefghijkl', 10), '/abcdefghi');
  assert.equal(cleanpath('/ab//cdefg', 10), '/ab/cdefef');
  assert.equal(cleanpath('a/./bcdefg', 10), '/a/bcdefef');
});

// -- lltostr, strtoll, toupper, tolower --------------------------------------------------------

test('lltostr', () => {
  const cases: Array<[bigint, string]> = [
    [0n, '0'],
    [1n, '1'],
    [-1n, '-1'],
    [123456789n, '123456789'],
    [-123456789n, '-123456789'],
    [1n << 62n, '4611686018427387904'],
    [-(1n << 62n), '-4611686018427387904'],
    [0x7ffffffffffffffen, '9223372036854775806'],
    [0x7fffffffffffffffn, '9223372036854775807'],
    [0x8000000000000000n, '-9223372036854775808'],
    [0x8000000000000001n, '-9223372036854775807'],
    [-(1n << 63n), '-9223372036854775808'],
    [0xffffffffffffffffn, '-1'],
  ];
  for (const [v, want] of cases) assert.equal(lltostr(v, undefined, SZ), want, `lltostr(${v})`);
  const short: Array<[bigint, string]> = [
    [0n, '0'], [12n, '12'], [1234567n, '1234567'], [12345678n, '1234567'], [1234567890n, '1234567'],
    [-123456n, '-123456'], [-1234567n, '-123456'], [-1234567890n, '-123456'],
    [9999999n, '9999999'], [10000000n, '1000000'], [-999999n, '-999999'], [-1000000n, '-100000'],
  ];
  for (const [v, want] of short) assert.equal(lltostr(v, undefined, 7), want, `lltostr(${v}) strsize=7`);
});

test('lltostr with a base (illumos)', () => {
  const cases: Array<[bigint, number, string]> = [
    [0n, 16, '0x0'],
    [0n, 8, '0'],
    [0n, 2, '0'],
    [0n, 10, '0'],
    [255n, 16, '0xff'],
    [8n, 8, '010'],
    [5n, 2, '101'],
    [35n, 36, 'z'],
    [36n, 36, '10'],
    [-10n, 10, '-10'],
    [-1n, 16, '0xffffffffffffffff'],
    [-1n, 2, '1'.repeat(64)],
    [-8n, 8, '01777777777777777777770'],
    [0x8000000000000000n, 10, '-9223372036854775808'],
  ];
  for (const [v, b, want] of cases) assert.equal(lltostr(v, b, SZ), want, `lltostr(${v}, ${b})`);
  assert.equal(lltostr(-1n, 2, 10), '1111111111');
  for (const b of [-1, 0, 1, 37, 100]) faults(() => lltostr(1n, b, SZ), FLT_ILLOP);
});

test('strtoll (illumos)', () => {
  const cases: Array<[string, number | undefined, bigint]> = [
    ['0', 2, 0n],
    ['1', 36, 1n],
    ['0x20', 16, 32n],
    ['0X20', 16, 32n],
    ['0xg', 16, 0n],
    ['0x', 16, 0n],
    ['0x20', 10, 0n],
    ['-32', 10, -32n],
    ['+32', 10, 32n],
    ['010', 8, 8n],
    ['101010', 2, 42n],
    ['9223372036854775807', undefined, 9223372036854775807n],
    ['-9223372036854775808', undefined, -9223372036854775808n],
    ['9223372036854775808', undefined, -9223372036854775808n],
    ['18446744073709551617', undefined, 1n],
    ['0777777777777777777777', 8, 9223372036854775807n],
    ['1000000000000000000000', 8, -9223372036854775808n],
    ['-1000000000000000000001', 8, 9223372036854775807n],
    ['baddcafe', 16, 3135097598n],
    ['BADDCAFE', 16, 3135097598n],
    ['12j', 10, 12n],
    ['102', 2, 2n],
    ['zz', 36, 1295n],
    ['1985', undefined, 1985n],
    ['-2012', undefined, -2012n],
    ['  \t 42x', undefined, 42n],
    ['\n42', undefined, 0n],
    ['- 42', undefined, 0n],
    ['', undefined, 0n],
    ['-', undefined, 0n],
  ];
  for (const [s, b, want] of cases) assert.equal(strtoll(s, b), want, `strtoll(${s}, ${b})`);
  for (const b of [0, 1, 37]) faults(() => strtoll('1', b), FLT_ILLOP);
  faults(() => strtoll(null), FLT_BADADDR);
});

test('toupper and tolower (illumos)', () => {
  assert.equal(toupper('Hello, World! 123', SZ), 'HELLO, WORLD! 123');
  assert.equal(tolower('Hello, World! 123', SZ), 'hello, world! 123');
  assert.equal(toupper('\xe9\xff', SZ), '\xe9\xff');
  assert.equal(tolower('\xc9', SZ), '\xc9');
  assert.equal(toupper('', SZ), '');
  assert.equal(toupper('abcdef', 3), 'ABC');
  assert.equal(tolower('ABC', SZ), 'abc');
  faults(() => toupper(null, SZ), FLT_BADADDR);
});

// -- byte order --------------------------------------------------------------------------------

test('htons, htonl, htonll and their inverses', () => {
  assert.equal(htons(0x1122), 0x2211);
  assert.equal(htonl(0x11223344), 0x44332211);
  assert.equal(htonll(0x1122334455667788n), 0x8877665544332211n);
  // converted to the parameter type first: (uint16_t)0x123456789abcdef0 == 0xdef0
  assert.equal(htons(0xdef0), 0xf0de);
  assert.equal(htonl(0x9abcdef0), 0xf0debc9a);
  assert.equal(htonll(0x123456789abcdef0n), 0xf0debc9a78563412n);
  assert.equal(ntohs(0xdef0), 0xf0de);
  assert.equal(ntohl(0x9abcdef0), 0xf0debc9a);
  assert.equal(ntohll(0x123456789abcdef0n), 0xf0debc9a78563412n);
  assert.equal(htonl(0x000000ff), 0xff000000);
  assert.equal(htonll(0xffn), 0xff00000000000000n);
  assert.equal(htonll(0xff00000000000000n), 0xffn);
});

// -- inet_ntoa, inet_ntoa6, inet_ntop ----------------------------------------------------------

function v6(bytes: Record<number, number>): Uint8Array {
  const a = new Uint8Array(16);
  for (const [i, v] of Object.entries(bytes)) a[Number(i)] = v;
  return a;
}

function v4(addr: number): Uint8Array {
  return Uint8Array.of(addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff);
}

const IP6: Record<string, Uint8Array> = {
  a: v6({ 0: 0xfe, 1: 0x80, 8: 0x02, 9: 0x14, 10: 0x4f, 11: 0xff, 12: 0xfe, 13: 0x0b, 14: 0x76, 15: 0xc8 }),
  b: v6({ 0: 0x10, 1: 0x80, 10: 0x08, 11: 0x08, 13: 0x0c, 14: 0x41, 15: 0x7a }),
  c: v6({ 15: 0x01 }),
  d: v6({}),
  e: v6({ 12: 0x7f, 15: 0x01 }),
  f: v6({ 10: 0xff, 11: 0xff, 12: 0x7f, 15: 0x01 }),
  g: v6({ 10: 0xff, 11: 0xfe, 12: 0x7f, 15: 0x01 }),
  h: v6({ 0: 0xfe, 1: 0x12, 2: 0x34, 3: 0x56, 4: 0x78, 5: 0x9a, 6: 0xbc, 7: 0xde, 8: 0x02, 9: 0x14 }),
  i: v6({ 0: 0xfe, 1: 0x12, 2: 0x34, 3: 0x56, 4: 0x78, 5: 0x9a, 6: 0xbc, 7: 0xde, 8: 0x02, 9: 0x14, 10: 0x4f, 11: 0xff }),
  j: v6({ 0: 0xfe, 1: 0x12, 2: 0x34, 3: 0x56, 4: 0x78, 5: 0x9a, 6: 0xbc, 7: 0xde, 8: 0x02, 9: 0x14, 10: 0x4f, 11: 0xff,
    12: 0xfe, 13: 0x0b }),
  k: v6({ 0: 0xfe, 1: 0x12, 2: 0x34, 3: 0x56, 4: 0x78, 5: 0x9a, 6: 0xbc, 7: 0xde, 8: 0x02, 9: 0x14, 10: 0x4f, 11: 0xff,
    12: 0xfe, 13: 0x0b, 14: 0x76, 15: 0xc8 }),
  l: v6({ 0: 0xfe, 1: 0x80, 2: 0x70, 3: 0x60, 4: 0x50, 5: 0x40, 6: 0x30, 7: 0x80, 8: 0x32, 9: 0x14, 10: 0x4f, 11: 0xff,
    12: 0xfe, 13: 0x0b, 14: 0x76, 15: 0xc8 }),
  ones: new Uint8Array(16).fill(0xff),
};

test('inet_ntoa', () => {
  const cases: Array<[number, string]> = [
    [0xc0a80117, '192.168.1.23'],
    [0x7f000001, '127.0.0.1'],
    [0xffffffff, '255.255.255.255'],
    [0x00000000, '0.0.0.0'],
    [0x4c696e75, '76.105.110.117'],
  ];
  for (const [a, want] of cases) assert.equal(inet_ntoa(v4(a), SZ), want);
  assert.equal(inet_ntoa(v4(0xffffffff), 10), '255.255.25');
  assert.equal(inet_ntoa(v4(0xffffffff), 12), '255.255.255.');
});

test('inet_ntoa6', () => {
  const cases: Array<[string, string, string]> = [
    // [address, not strict, strict]
    ['a', 'fe80::214:4fff:fe0b:76c8', 'fe80::214:4fff:fe0b:76c8'],
    ['b', '1080::808:c:417a', '1080::808:c:417a'],
    ['c', '::1', '::1'],
    ['d', '::', '::'],
    ['e', '127.0.0.1', '::127.0.0.1'],
    ['f', '127.0.0.1', '::ffff:127.0.0.1'],
    ['g', '::fffe:7f00:1', '::fffe:7f00:1'],
    ['h', 'fe12:3456:789a:bcde:214::', 'fe12:3456:789a:bcde:214::'],
    ['i', 'fe12:3456:789a:bcde:214:4fff::', 'fe12:3456:789a:bcde:214:4fff::'],
    ['j', 'fe12:3456:789a:bcde:214:4fff:fe0b:0', 'fe12:3456:789a:bcde:214:4fff:fe0b:0'],
    ['k', 'fe12:3456:789a:bcde:214:4fff:fe0b:76c8', 'fe12:3456:789a:bcde:214:4fff:fe0b:76c8'],
    ['l', 'fe80:7060:5040:3080:3214:4fff:fe0b:76c8', 'fe80:7060:5040:3080:3214:4fff:fe0b:76c8'],
    ['ones', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [k, loose, strict] of cases) {
    assert.equal(inet_ntoa6(IP6[k], false, SZ), loose, `inet_ntoa6(${k})`);
    assert.equal(inet_ntoa6(IP6[k], true, SZ), strict, `inet_ntoa6(${k}, 1)`);
  }
  const more: Array<[Record<number, number>, string]> = [
    [{ 15: 2 }, '0.0.0.2'], // legacy: 6 zero words then not 0 or 1 is IPv4
    [{ 10: 0xff, 11: 0xff }, '0.0.0.0'],
    [{ 9: 1, 15: 1 }, '::1:0:0:1'],
    [{ 1: 1, 5: 1 }, '1:0:1::'], // the longest run
    [{ 1: 1, 9: 1 }, '1::1:0:0:0'], // equal runs: the first one
    [{ 1: 1, 7: 1, 13: 1 }, '1::1:0:0:1:0'],
    [{ 0: 0x0a, 1: 0xbc, 15: 1 }, 'abc::1'],
    [{ 3: 1, 5: 1, 7: 1, 9: 1, 11: 1, 13: 1, 15: 1 }, '0:1:1:1:1:1:1:1'],
  ];
  for (const [bytes, want] of more) assert.equal(inet_ntoa6(v6(bytes), false, SZ), want, want);
});

test('inet_ntoa6 with small strsize', () => {
  const want10: Array<[string, string]> = [
    ['l', 'fe80:7060:'], ['b', '1080::808:'], ['c', '::1'], ['d', '::'], ['e', '127.0.0.1'], ['f', '127.0.0.1'],
    ['g', '::fffe:7f0'],
  ];
  for (const [k, want] of want10) assert.equal(inet_ntoa6(IP6[k], false, 10), want, k);
  assert.equal(inet_ntoa6(IP6.l, false, 40), 'fe80:7060:5040:3080:3214:4fff:fe0b:76c8');
  assert.equal(inet_ntoa6(IP6.f, true, 10), '::ffff:127');
});

test('inet_ntop', () => {
  assert.equal(inet_ntop(2, v4(0xc0a80117), SZ), '192.168.1.23');
  assert.equal(inet_ntop(2, v4(0), SZ), '0.0.0.0');
  const want: Array<[string, string]> = [
    ['a', 'fe80::214:4fff:fe0b:76c8'], ['b', '1080::808:c:417a'], ['c', '::1'], ['d', '::'], ['e', '::127.0.0.1'],
    ['f', '::ffff:127.0.0.1'], ['g', '::fffe:7f00:1'], ['ones', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ];
  for (const [k, w] of want) assert.equal(inet_ntop(AF_INET6, IP6[k], SZ), w, k);
  // any family but AF_INET6 formats IPv4
  assert.equal(inet_ntop(-1, v4(0xc0a80117), SZ), '192.168.1.23');
});

// -- rand --------------------------------------------------------------------------------------

test('rand', () => {
  const a = new Rand(42);
  const b = new Rand(42);
  const seq = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(seq, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(seq, Array.from({ length: 5 }, () => new Rand(43).next()));
  // signed 32-bit ints, every bit uniformly set
  const bits = new Array<number>(32).fill(0);
  let neg = 0;
  const N = 20000;
  for (let i = 0; i < N; i++) {
    const v = rand();
    assert.ok(Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31);
    if (v < 0) neg++;
    for (let k = 0; k < 32; k++) if ((v >>> k) & 1) bits[k]++;
  }
  for (let k = 0; k < 32; k++) assert.ok(Math.abs(bits[k] - N / 2) < 5 * Math.sqrt(N / 4), `bit ${k}`);
  assert.ok(Math.abs(neg - N / 2) < 5 * Math.sqrt(N / 4));
});
