import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { Compiler, bigArgsOf } from '../../src/compile/compile.js';
import { DFatalError } from '../../src/errors.js';
import type { EventField } from '../../src/kernel/event-format.js';
import type { KernelClause } from '../../src/providers/clause-plan.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { refusedClause } from '../../src/providers/in-kernel.js';
import { compileDecoder, kernelRefused } from '../../src/providers/kernel-event.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';
import { ProbeContext } from '../../src/runtime/context.js';
import { Runtime } from '../../src/runtime/runtime.js';

function field(name: string, offset: number, size: number, signed: boolean): EventField {
  return { name, type: `${signed ? '' : 'unsigned '}long`, offset, size, signed, charArray: false, dataLoc: false, pointer: false };
}

const FIELDS = [field('a', 8, 8, true), field('b', 16, 8, false), field('c', 24, 4, true), field('d', 28, 4, false), field('e', 32, 2, true), field('f', 34, 1, false)];

const SAFE = 2n ** 53n - 1n;
/** 64-bit values at the edges of a Number's exact range */
const WIDE = [0n, 5n, -1n, SAFE, -SAFE, SAFE + 1n, SAFE + 2n, -SAFE - 2n, 2n ** 63n - 1n, -(2n ** 63n), 0x7ffd_1234_5000n];

function record(a: bigint, b: bigint): { page: Buffer; view: DataView } {
  const page = Buffer.alloc(64);
  page.writeBigInt64LE(a, 8);
  page.writeBigInt64LE(b, 16);
  page.writeInt32LE(-7, 24);
  page.writeUInt32LE(0xfffffff0, 28);
  page.writeInt16LE(-300, 32);
  page.writeUInt8(200, 34);
  return { page, view: new DataView(page.buffer, page.byteOffset, page.byteLength) };
}

test('decoders fill each integer argument as a Number, and as a BigInt where a clause reads one or the Number is not exact', () => {
  const all = compileDecoder(FIELDS, null);
  const numbersOnly = compileDecoder(FIELDS, null, '', new Set([3]));
  for (const v of WIDE) {
    const { page, view } = record(v, BigInt.asIntN(64, -v));
    const ctx = new ProbeContext();
    all(page, view, 0, ctx);
    // arguments past the six fields are 0, whatever the context held
    assert.equal(ctx.argnSet, 0b1111111111);
    assert.deepEqual([...ctx.argn.slice(0, 10)], [Number(v), Number(BigInt.asIntN(64, -v)), -7, 0xfffffff0, -300, 200, 0, 0, 0, 0], String(v));
    assert.deepEqual(ctx.args.slice(0, 10), [v, BigInt.asIntN(64, -v), -7n, 0xfffffff0n, -300n, 200n, 0n, 0n, 0n, 0n], String(v));

    const c2 = new ProbeContext();
    c2.args.fill(42n);
    c2.argn.fill(42);
    numbersOnly(page, view, 0, c2);
    assert.equal(c2.args[7], 0n);
    assert.equal(c2.argn[7], 0);
    assert.equal(c2.argn[0], Number(v));
    // a 64-bit BigInt is made only when the Number is not exact; arg3 is read as a BigInt
    const exact = v >= -SAFE && v <= SAFE;
    assert.equal(c2.args[0], exact ? 42n : v, String(v));
    assert.equal(c2.args[2], 42n);
    assert.equal(c2.args[3], 0xfffffff0n);
  }
});

test('a decoder with code of its own (return probes) fills every BigInt and no Number', () => {
  const d = compileDecoder(FIELDS.slice(0, 1), null, 'a[1] = a[0];\n', new Set());
  const { page, view } = record(SAFE + 2n, 0n);
  const ctx = new ProbeContext();
  ctx.args.fill(42n);
  d(page, view, 0, ctx);
  assert.equal(ctx.argnSet, 0);
  // and the arguments past its fields 0, before its code sets what it sets
  assert.deepEqual(ctx.args.slice(0, 10), [SAFE + 2n, SAFE + 2n, 0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n]);
});

test('an argument\'s Number compares with a constant within 2^53 exactly as its 64-bit value does', () => {
  const consts = [0n, 1n, -1n, 99n, SAFE, -SAFE, SAFE - 1n, 2n ** 32n];
  const ops: Array<[string, (a: number | bigint, b: number | bigint) => boolean]> = [
    ['==', (a, b) => a == b],
    ['!=', (a, b) => a != b],
    ['<', (a, b) => a < b],
    ['<=', (a, b) => a <= b],
    ['>', (a, b) => a > b],
    ['>=', (a, b) => a >= b],
  ];
  const d = compileDecoder(FIELDS.slice(0, 1), null, '', new Set());
  for (const v of WIDE) {
    const { page, view } = record(v, 0n);
    const ctx = new ProbeContext();
    d(page, view, 0, ctx);
    for (const c of consts) {
      for (const [name, op] of ops) assert.equal(op(ctx.argn[0], Number(c)), op(v, c), `${v} ${name} ${c}`);
    }
  }
});

test('the arguments generated code reads as BigInts', () => {
  const cases: Array<[string, number[] | null]> = [
    ['if (!(((ctx.argnSet & 1 ? ctx.argn[0] : rt.argNum(ctx, 0)) !== 99))) return;', []],
    ['rt.trace(K[0], ctx.args[0]); AG[0].addBig(AG[0].slot0(), ctx.args[2], 1);', [0, 2]],
    ['x = rt.arg(ctx, 3) + rt.argStr(ctx, 1);', [3]],
    ['x = rt.arg(ctx, Number(t0));', null],
  ];
  for (const [src, want] of cases) {
    const got = bigArgsOf(src);
    assert.deepEqual(got === null ? null : [...got].sort(), want, src);
  }
});

test('args[N] of a 32-bit type reads the low 32 bits of the Number a decoder made, or of the BigInt', () => {
  const argLow = Runtime.prototype.argLow;
  const d = compileDecoder(FIELDS.slice(0, 1), null, '', new Set());
  for (const v of WIDE) {
    const { page, view } = record(v, 0n);
    const ctx = new ProbeContext();
    d(page, view, 0, ctx);
    assert.equal(argLow.call(null, ctx, 0) | 0, Number(BigInt.asIntN(32, v)), String(v));
    assert.equal(argLow.call(null, ctx, 0) >>> 0, Number(BigInt.asUintN(32, v)), String(v));
    // filled by a provider, not a decoder
    ctx.argnSet = 0;
    ctx.args[0] = v;
    assert.equal(argLow.call(null, ctx, 0) | 0, Number(BigInt.asIntN(32, v)), String(v));
  }
});

test("a provider's own decoder code may declare any name (fbt's string copies declared n beside the head's n)", () => {
  const d = compileDecoder(FIELDS.slice(0, 1), null, 'let n = 2; const a = 1;\nctx.capturedN = n + a;\n');
  const { page, view } = record(5n, 0n);
  const ctx = new ProbeContext();
  d(page, view, 0, ctx);
  assert.equal(ctx.capturedN, 3);
  assert.equal(ctx.args[0], 5n);
});

/** A clause in the kernel at `line`, with thread-locals there or not. */
function kernelClauseAt(line: number, threadLocals: number[]): KernelClause {
  return { line, aggregations: [], threadLocals, globals: [], stack: 0, copyinBytes: 0, args: [], comparedProbeFields: [], output: null, emit: () => true };
}

test("a refused program whose variables live in the kernel is an error naming its clauses' lines; without such variables its clauses run in dtrace", () => {
  const why = 'Permission denied: R1 invalid mem access | processed 12 insns';
  assert.throws(() => kernelRefused('syscall::read:entry', [kernelClauseAt(3, [0])], why), (e: Error) => e instanceof DFatalError && e.message === `could not enable syscall::read:entry in the kernel (clause at line 3): ${why}`);
  assert.throws(() => kernelRefused('syscall::read:entry', [kernelClauseAt(7, []), kernelClauseAt(3, [1])], why), (e: Error) => e instanceof DFatalError && e.message === `could not enable syscall::read:entry in the kernel (clauses at lines 3, 7): ${why}`);
  assert.throws(() => kernelRefused('syscall::read:entry', [kernelClauseAt(1, []), kernelClauseAt(1, [1])], why), (e: Error) => e.message.includes('(clauses at line 1)'));
  kernelRefused('syscall::read:entry', [kernelClauseAt(3, []), kernelClauseAt(7, [])], why);
  // the clause whose code the verifier refused, where its log says
  const second = kernelClauseAt(7, []);
  assert.throws(() => kernelRefused('syscall::read:entry', [kernelClauseAt(3, [0]), second], why, second), (e: Error) => e.message === `could not enable syscall::read:entry in the kernel (clause at line 7): ${why}`);
});

test("the clause a verifier's log refused is the one whose code holds the last instruction it shows", () => {
  const log = (at: number) =>
    [
      'func#0 @0',
      '0: R1=ctx() R10=fp0',
      '0: (bf) r6 = r1                       ; R1=ctx() R6_w=ctx()',
      'from 5 to 12: R0=scalar()',
      `${at}: (79) r1 = *(u64 *)(r0 +0)`,
      "R0 invalid mem access 'map_value_or_null'",
      'processed 18 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1',
    ].join('\n');
  // the prologue ends at 2; clause 0 is 2..9, clause 1 10..19; the exit follows
  const starts = [2, 10];
  assert.deepEqual([1, 2, 9, 10, 19, 20].map((at) => refusedClause(log(at), starts, 20)), [-1, 0, 0, 1, 1, -1]);
  assert.equal(refusedClause('BPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns', starts, 20), -1);
});

test('a clause compiled to BPF knows the line it starts on', () => {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['t'], defaultArgs: false, vars: new Map(), used: new Set() });
  const clauses = c.compile({ text: 'BEGIN { @a = count(); }\n\n/* two */\nBEGIN\n{\n  @b = sum(1);\n}\n', fromFile: true, name: 't', level: 3 }).clauses;
  assert.deepEqual(clauses.map((x) => x.plan.inKernel?.line), [1, 4]);
});
