// The compiler on hostile input (issue 8): nesting past the parser's limit is a D syntax
// error with a line, as Oracle's bison parser reports a full stack ("memory exhausted"); long
// left-associative chains have no limit and compile.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Compiler } from '../../src/compile/compile.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { MAX_NESTING } from '../../src/lang/parser.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';

function compile(text: string): DCompileError | null {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['t.d'], defaultArgs: false, vars: new Map(), used: new Set() });
  try {
    c.compile({ text, fromFile: true, name: 't.d', level: 3 });
    return null;
  } catch (e) {
    if (e instanceof DCompileError) return e;
    throw e;
  }
}

function tooDeep(text: string, near: string, line = 1): void {
  const e = compile(text);
  assert.ok(e, 'expected an error');
  assert.equal(e.tag, 'D_SYNTAX');
  assert.equal(e.message, `memory exhausted near "${near}"`);
  assert.equal(e.line, line);
  assert.equal(e.format(false, true), `line ${line}: memory exhausted near "${near}"`);
}

test('659 nested parentheses: a D syntax error, not a stack overflow', () => {
  tooDeep(`BEGIN { x = ${'('.repeat(659)}1${')'.repeat(659)}; }`, '(');
});

test('2,400 nested ifs: the error names the line of the if that nests too deep', () => {
  const text = `BEGIN\n{\n${'if (1) {\n'.repeat(2400)}x = 1;\n${'}\n'.repeat(2400)}}\n`;
  // lines 3.. hold the ifs; the one past the limit is number MAX_NESTING + 1
  tooDeep(text, 'if', 2 + MAX_NESTING + 1);
  tooDeep(`BEGIN { ${'if (1) '.repeat(2400)}x = 1; }`, 'if');
});

test('2,557 unary minus, 2,674 casts, ! and ~ chains', () => {
  tooDeep(`BEGIN { x = ${'- '.repeat(2557)}1; }`, '-');
  tooDeep(`BEGIN { x = ${'(int)'.repeat(2674)}1; }`, '(');
  tooDeep(`BEGIN { x = ${'!'.repeat(3000)}1; }`, '!');
  tooDeep(`BEGIN { x = ${'~'.repeat(3000)}1; }`, '~');
});

test('other ways to nest: ?:, chained =, calls, subscripts, operators of rising precedence', () => {
  tooDeep(`BEGIN { x = ${'1 ? '.repeat(1000)}1${' : 0'.repeat(1000)}; }`, '?');
  tooDeep(`BEGIN { ${'x = '.repeat(1000)}1; }`, '=');
  tooDeep(`BEGIN { x = ${'strjoin("a", '.repeat(1000)}"b"${')'.repeat(1000)}; }`, '(');
  tooDeep(`BEGIN { a[1] = 1; x = ${'a['.repeat(1000)}1${']'.repeat(1000)}; }`, '[');
  tooDeep(`BEGIN { x = ${'1 | 1 ^ 1 & 1 == 1 < 1 << 1 + 1 * ('.repeat(100)}1${')'.repeat(100)}; }`, '1');
  tooDeep(`BEGIN { x = a${'[1]'.repeat(1000)}; }`, '[');
});

test('declarators nest too: pointers, dimensions, parentheses, structs', () => {
  tooDeep(`int ${'*'.repeat(3000)}p;`, '*');
  tooDeep(`int a${'[2]'.repeat(3000)};`, '[');
  tooDeep(`int ${'('.repeat(3000)}p${')'.repeat(3000)};`, '(');
  tooDeep(`${'struct { '.repeat(3000)}int m; ${'} f; '.repeat(2999)}} s;`, '{');
});

test('nesting up to the limit compiles', () => {
  const n = MAX_NESTING - 1;
  assert.equal(compile(`BEGIN { x = ${'('.repeat(n)}1${')'.repeat(n)}; }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${'- '.repeat(n)}y; }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${'(int)'.repeat(n)}y; }`), null);
  assert.equal(compile(`BEGIN { ${'if (1) {'.repeat(n - 1)} x = 1; ${'}'.repeat(n - 1)} }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${'y ? 1 : '.repeat(n)}0; }`), null);
});

test('a 2,400-term sum and other long chains compile (no limit on their length)', () => {
  assert.equal(compile(`BEGIN { x = ${Array(2400).fill('1').join(' + ')}; }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${Array(20000).fill('y').join(' - ')}; }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${Array(5000).fill('y').join(' && ')}; }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = (${Array(5000).fill('y').join(', ')}); }`), null);
  assert.equal(compile(`BEGIN /${Array(5000).fill('pid != 0').join(' && ')}/ { }`), null);
  assert.equal(compile(`BEGIN { y = 1; x = ${Array(5000).fill('y').join(' < ')}; }`), null);
  assert.equal(compile(`BEGIN { s = "abc"; t = s${' + 1'.repeat(3000)}; }`), null);
  // a long constant chain in a declaration is folded in a loop, in 64 bits
  assert.equal(compile(`int a[${Array(20000).fill('2').join(' * ')} + 1];`), null);
  const e = compile(`int a[${Array(20000).fill('1').join(' + ')} - 20000];`);
  assert.equal(e?.tag, 'D_DECL_ARRSUB');
});

test('huge literals are errors without growing huge numbers', () => {
  const e = compile(`BEGIN { x = ${'9'.repeat(200000)}; }`);
  assert.equal(e?.tag, 'D_INT_OFLOW');
  assert.equal(compile(`BEGIN { x = ${'2'.repeat(19)}; }`), null);
  // the shift count is taken modulo 64, as the CPU takes it: 1 << 40
  assert.equal(compile(`int a[1 << 1000];`)?.tag, 'D_DECL_ARRBIG');
  assert.equal(compile(`BEGIN { x = 0x${'0'.repeat(5000)}1${'0'.repeat(15)}; }`), null);
  assert.equal(compile(`BEGIN { x = 0x1${'0'.repeat(16)}; }`)?.tag, 'D_INT_OFLOW');
  assert.equal(compile(`BEGIN { x = 01${'7'.repeat(21)}; }`), null);
  assert.equal(compile(`BEGIN { x = 02${'7'.repeat(21)}; }`)?.tag, 'D_INT_OFLOW');
  assert.equal(compile(`BEGIN { x = 00000000000000000000018446744073709551615ull; }`)?.tag, "D_INT_DIGIT");
  assert.equal(compile(`BEGIN { x = 18446744073709551615ull; }`), null);
  assert.equal(compile(`BEGIN { x = 18446744073709551616; }`)?.tag, 'D_INT_OFLOW');
});

test('wide programs stay linear: 40,000 struct members, enumerators and clause-local variables', { timeout: 120_000 }, () => {
  // each of these searched a list per item (quadratic: 12-15 s at this size); no timed assertion
  const members = Array.from({ length: 40000 }, (_, i) => `int m${i};`).join(' ');
  assert.equal(compile(`struct big { ${members} }; struct big b; BEGIN { x = b.m39999; }`), null);
  assert.equal(compile(`struct dup { int a; ${members} int a; };`)?.tag, 'D_UNKNOWN');
  const enums = Array.from({ length: 40000 }, (_, i) => `E${i}`).join(', ');
  assert.equal(compile(`enum big { ${enums} }; BEGIN { x = E39999; }`), null);
  assert.equal(compile(`enum dup { ${enums}, E7 };`)?.message, "failed to define enumerator 'E7': Duplicate member or variable name");
  const locals = Array.from({ length: 40000 }, (_, i) => `this->v${i} = ${i};`).join(' ');
  assert.equal(compile(`BEGIN { ${locals} }`), null);
});
