import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { Lexer, MacroEnv, unescape } from '../../src/lang/lexer.js';
import { T } from '../../src/lang/tokens.js';

function macros(args: string[] = ['dtrace'], defaultArgs = false): MacroEnv {
  return { args, defaultArgs, vars: new Map([['pid', 1234]]), used: new Set() };
}

function kinds(text: string, env = macros()): Array<[T, string]> {
  const lx = new Lexer(text, env, true);
  const out: Array<[T, string]> = [];
  for (let t = lx.next(); t.kind !== T.EOF; t = lx.next()) out.push([t.kind, t.text]);
  return out;
}

function lexError(text: string): [string, number, string] {
  try {
    kinds(text);
  } catch (e) {
    if (e instanceof DCompileError) return [e.tag, e.line, e.message];
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

test('operators are read longest first', () => {
  assert.deepEqual(
    kinds('a <<= b >>= c ^^ d -> e ++ --').map(([k]) => k),
    [T.Ident, T.ShlAssign, T.Ident, T.ShrAssign, T.Ident, T.CaretCaret, T.Ident, T.Arrow, T.Ident, T.PlusPlus, T.MinusMinus],
  );
});

test('a slash before ; { / or end of input closes a predicate', () => {
  assert.deepEqual(kinds('a / b').map(([k]) => k), [T.Ident, T.Slash, T.Ident]);
  assert.deepEqual(kinds('a /\n{').map(([k]) => k), [T.Ident, T.EPred, T.LBrace]);
  assert.deepEqual(lexError('(a /\n{'), ['D_SYNTAX', 2, 'closing ) expected in predicate before /']);
});

test('integer constants: values, suffixes and bases', () => {
  const cases: Array<[string, bigint, string]> = [
    ['42', 42n, ''],
    ['0x1F', 31n, ''],
    ['017', 15n, ''],
    ['10ULL', 10n, 'ull'],
    ['0xffffffffffffffff', 0xffffffffffffffffn, ''],
  ];
  for (const [text, value, suffix] of cases) {
    const t = new Lexer(text, macros(), true).next();
    assert.equal(t.kind, T.Int, text);
    assert.equal(t.int, value, text);
    assert.equal(t.suffix, suffix, text);
  }
  assert.deepEqual(lexError('BEGIN { x = 09; }'), ['D_INT_DIGIT', 1, 'constant 09 contains invalid digit 9']);
  assert.equal(lexError('x = 0x10000000000000000')[0], 'D_INT_OFLOW');
  assert.deepEqual(lexError('x = 1.5'), ['D_SYNTAX', 1, 'floating-point constants are not permitted']);
});

test('letters after a number start a new token', () => {
  assert.deepEqual(kinds('10ms').map(([k]) => k), [T.Int, T.Ident]);
});

test('escapes follow stresc2chr: unknown ones keep their backslash', () => {
  assert.equal(unescape('a\\tb\\n'), 'a\tb\n');
  assert.equal(unescape('\\101\\x41\\x4142'), 'AAB');
  assert.equal(unescape('\\?\\c\\"\\\\'), '\\?\\c"\\');
});

test('character constants are integers, first character most significant', () => {
  const t = new Lexer("'ab'", macros(), true).next();
  assert.equal(t.kind, T.Int);
  assert.equal(t.int, 0x6162n);
  assert.equal(lexError("x = '';")[0], 'D_CHR_NULL');
  assert.deepEqual(lexError('x = "abc\ndef";'), ['D_STR_NL', 2, 'newline encountered in string literal']);
});

test('string constants end at an embedded NUL', () => {
  const t = new Lexer('"ab\\0cd"', macros(), true).next();
  assert.equal(t.value, 'ab');
});

test('macro arguments become integers, identifiers or strings', () => {
  const env = macros(['script.d', '17', 'foo', 'two words', '"quoted"']);
  const toks = kinds('$1 $2 $3 $4 $$1 $pid', env);
  assert.deepEqual(toks.map(([k]) => k), [T.Int, T.Ident, T.String, T.String, T.String, T.Int]);
  assert.deepEqual([...env.used].sort(), [1, 2, 3, 4]);
  assert.deepEqual(lexError('$5'), ['D_MACRO_UNDEF', 1, 'macro argument $5 is not defined']);
  assert.deepEqual(lexError('$nosuch'), ['D_MACRO_UNDEF', 1, 'macro variable $nosuch is not defined']);
  assert.deepEqual(kinds('$3 $$3', macros(['s'], true)).map(([k, t]) => [k, t]), [
    [T.Int, '0'],
    [T.String, '$$3'],
  ]);
});

test('comments, control lines and line numbers', () => {
  const lx = new Lexer('/* a\n b */ x\n# 40 "file.d"\ny', macros(), true);
  const x = lx.next();
  const y = lx.next();
  assert.equal(x.line, 2);
  assert.equal(y.line, 40);
  assert.equal(lexError('/* never closed')[2], 'end-of-file encountered before matching */');
  assert.equal(lexError('/* /* */')[2], '/* encountered inside a comment');
});

test('pragmas reach the handler as they are met', () => {
  const seen: string[] = [];
  const lx = new Lexer('#pragma D option quiet\nx', macros(), true);
  lx.onControl = (c) => seen.push(c.words.map((w) => w.text).join(' '));
  lx.next();
  assert.deepEqual(seen, ['pragma D option quiet']);
});
