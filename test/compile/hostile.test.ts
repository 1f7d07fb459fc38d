// Hostile programs that compile (issue 8): long chains run without deep recursion in the
// compiler or deep nesting in the generated code, and chained inlines are generated once each.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Compiler } from '../../src/compile/compile.js';
import { DCompileError } from '../../src/lang/diagnostics.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');

/** Runs a -n program to completion (BEGIN fires in dtrace itself). */
function run(program: string): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, [cli, '-q', '-n', program], { timeout: 120_000, env: { ...process.env, LANG: 'C' } });
  return { out: r.stdout.toString(), err: r.stderr.toString(), status: r.status };
}

function sources(text: string): string {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['t.d'], defaultArgs: false, vars: new Map(), used: new Set() });
  return c.compile({ text, fromFile: true, name: 't.d', level: 3 }).clauses.map((cl) => cl.source).join('\n');
}

/** The deepest parenthesis nesting of generated JavaScript (what V8's parser recurses on). */
function maxNesting(js: string): number {
  let d = 0;
  let max = 0;
  for (const ch of js) {
    if (ch === '(' || ch === '{' || ch === '[') max = Math.max(max, ++d);
    else if (ch === ')' || ch === '}' || ch === ']') d--;
  }
  return max;
}

test('a 1,610-term sum compiles and runs when it fires', () => {
  const r = run(`BEGIN { x = ${Array(1610).fill('1').join('+')}; printf("%d\\n", x); exit(0); }`);
  assert.equal(r.err, '');
  assert.equal(r.out, '1610\n\n');
  assert.equal(r.status, 0);
});

test('long chains of every kind run: sums of variables, -, &&, ||, comparisons, commas, strings', () => {
  const n = 3000;
  const y = Array(n).fill('y');
  const prog = [
    'BEGIN { y = 1; s = "abcdef";',
    `a = ${y.join(' + ')};`,
    `b = ${y.join(' - ')};`,
    `c = ${y.join(' && ')};`,
    `d = ${Array(n).fill('0').join(' || ')};`,
    `e = ${y.join(' == ')};`,
    `f = (${y.join(', ')});`,
    `g = ${y.join(' * ')} * 9223372036854775807;`,
    `t = s${' + 0'.repeat(n)} + 1;`,
    `printf("%d %d %d %d %d %d %d %s\\n", a, b, c, d, e, f, g, t);`,
    `exit(0); }`,
  ].join(' ');
  const r = run(prog);
  assert.equal(r.err, '');
  assert.equal(r.out, `3000 -2998 1 0 1 1 9223372036854775807 bcdef\n\n`);
});

test('a long predicate chain runs, and its conjuncts evaluate left to right', () => {
  const r = run(`BEGIN /${Array(2000).fill('x++ >= 0').join(' && ')}/ { printf("%d\\n", x); exit(0); }`);
  assert.equal(r.err, '');
  assert.equal(r.out, '2000\n\n');
});

test('the code generated for a 20,000-term chain is flat', () => {
  const js = sources(`BEGIN { y = 1; x = ${Array(20000).fill('y').join(' + ')}; z = ${Array(20000).fill('y').join(' && ')}; }`);
  assert.ok(maxNesting(js) < 40, `nesting ${maxNesting(js)}`);
});

test('22 chained inlines (each twice the one before) compile once each and run', () => {
  let decls = 'inline int a0 = 1;\n';
  for (let i = 1; i <= 22; i++) decls += `inline int a${i} = a${i - 1} + a${i - 1};\n`;
  const js = sources(`${decls}BEGIN { x = a22; }`);
  assert.ok(js.length < 22 * 200, `${js.length} bytes of code`);
  const r = run(`${decls.replace(/\n/g, ' ')} BEGIN { printf("%d\\n", a22); exit(0); }`);
  assert.equal(r.err, '');
  assert.equal(r.out, '4194304\n\n');
});

test('200 chained inlines over a variable: code linear in the chain, run linear too', () => {
  let decls = 'int x;\ninline int b0 = x;\n';
  for (let i = 1; i <= 200; i++) decls += `inline int b${i} = b${i - 1} + b${i - 1} - b${i - 1};\n`;
  const js = sources(`${decls}BEGIN { x = 7; y = b200; }`);
  assert.ok(js.length < 200 * 300, `${js.length} bytes of code`);
  const r = run(`${decls.replace(/\n/g, ' ')} BEGIN { x = 7; printf("%d\\n", b200); exit(0); }`);
  assert.equal(r.err, '');
  assert.equal(r.out, '7\n\n');
});

test('an inline with side effects is still evaluated at each use', () => {
  const r = run('inline int c0 = x++; inline int c1 = c0 + c0; BEGIN { x = 0; y = c1; printf("%d %d\\n", y, x); exit(0); }');
  assert.equal(r.err, '');
  assert.equal(r.out, '1 2\n\n');
});

test('a chain of 5,000 inlines compiles', () => {
  let decls = 'inline int a0 = 1;\n';
  for (let i = 1; i <= 5000; i++) decls += `inline int a${i} = a${i - 1} + 1;\n`;
  const js = sources(`${decls}BEGIN { x = a5000; }`);
  assert.ok(js.length < 5000 * 200);
  let e: unknown = null;
  try {
    sources(`${decls}BEGIN { x = a5000 / (a5000 - 5001); }`);
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof DCompileError && e.tag === 'D_DIV_ZERO', String(e));
});

test('many stars in a probe description: no match, found without backtracking', () => {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['d'], defaultArgs: false, vars: new Map(), used: new Set() });
  for (const stars of [7, 8, 30]) {
    const d = `${'*'.repeat(stars)}BEGINX`;
    assert.throws(() => c.compile({ text: `${d} { }`, fromFile: false, name: d, level: 3 }), (e: unknown) => {
      return e instanceof DCompileError && e.message === `probe description :::${d} does not match any probes`;
    });
  }
  assert.equal(c.compile({ text: '**********BEGIN { }', fromFile: false, name: 'x', level: 3 }).matches, 1);
});
