import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CompiledClause } from '../../src/compile/compile.js';
import type { ClausePlan } from '../../src/providers/clause-plan.js';
import type { DtraceProvider } from '../../src/providers/dtrace.js';
import type { ProbeDef } from '../../src/providers/provider.js';
import type { ProbeRegistry } from '../../src/providers/registry.js';
import { Probe, type ProbeContext } from '../../src/runtime/context.js';
import { Options } from '../../src/runtime/options.js';
import { OutputSink } from '../../src/runtime/output.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { Session, defaultRingKb } from '../../src/session/session.js';
import { DFault, FLT_DIVZERO } from '../../src/runtime/subr.js';

// A session whose clauses are hand-written functions on BEGIN and ERROR, as generated code calls
// the runtime: what a clause throws must end that clause only.

function probeDef(id: number, name: string): ProbeDef {
  return { probe: new Probe(id, 'dtrace', '', '', name), argTypes: [], described: true };
}

const plan: ClausePlan = { reads: new Set(), bigArgs: null, kernelStack: false, userStack: false, userMemory: false, stringArgs: new Set(), speculates: false, kernel: [], inKernel: null };

function clause(index: number, def: ProbeDef, epid: number, fn: (ctx: ProbeContext) => void): CompiledClause {
  return {
    checked: {} as CompiledClause['checked'],
    probes: [def],
    descs: [],
    epids: new Map([[def.probe.id, epid]]),
    index,
    plan,
    record: { needed: 0, size: 0, align: 4 },
    fn,
    source: '',
    output: null,
  };
}

interface Run {
  stdout: string;
  warnings: string[];
}

/** Fires BEGIN once with clauses made by `make`; returns what was printed and warned. */
function fireBegin(make: (begin: ProbeDef, error: ProbeDef, rt: Runtime) => CompiledClause[], fire = (s: Session, begin: ProbeDef) => s.fireLocal(begin), opts = new Options()): Run {
  const file = join(tmpdir(), `dtrace-ts-session-test-${process.pid}`);
  const fd = openSync(file, 'w+');
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  try {
    opts.set('quiet', null);
    const rt = new Runtime(opts, new OutputSink(fd, warn, (e) => warnings.push(`output failed: ${e.message}`)), warn, true);
    rt.init([], { sizes: [], keyCounts: [] }, []);
    const begin = probeDef(1, 'BEGIN');
    const end = probeDef(2, 'END');
    const error = probeDef(3, 'ERROR');
    const dtrace = { begin, end, error } as DtraceProvider;
    const session = new Session(rt, {} as ProbeRegistry, dtrace, make(begin, error, rt), warn, true);
    fire(session, begin);
    rt.out.flush();
    return { stdout: readFileSync(file, 'latin1'), warnings };
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

test('session: a failed allocation in a clause is DTrace\'s "out of scratch space" fault; ERROR fires', () => {
  const r = fireBegin((begin, error, rt) => [
    clause(0, begin, 1, (ctx) => {
      rt.beginRecord(ctx);
      ctx.action = 2;
      'x'.repeat(2 ** 30); // RangeError: Invalid string length
    }),
    clause(1, begin, 2, (ctx) => {
      rt.beginRecord(ctx);
      rt.printf(ctx, { kind: 'printf', format: 'next\n', convs: [], suffix: 'next\n' } as never, []);
      rt.endRecord(ctx);
    }),
    clause(2, error, 3, (ctx) => {
      rt.beginRecord(ctx);
      rt.printf(ctx, { kind: 'printf', format: 'ERROR\n', convs: [], suffix: `ERROR fault ${ctx.args[4]}\n` } as never, []);
      rt.endRecord(ctx);
    }),
  ]);
  assert.deepEqual(r.warnings, [
    'error on enabled probe ID 1 (ID 1: dtrace:::BEGIN): out of scratch space in action #2 at DIF offset 12',
  ]);
  assert.match(r.stdout, /ERROR fault 5\n/);
  assert.match(r.stdout, /next\n/);
});

test('session: any other exception from a clause is reported against the enabling; tracing goes on', () => {
  const r = fireBegin((begin, _error, rt) => [
    clause(0, begin, 1, () => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    }),
    clause(1, begin, 2, () => {
      throw new RangeError('Maximum call stack size exceeded');
    }),
    clause(2, begin, 3, () => {
      throw new DFault(FLT_DIVZERO, 0n);
    }),
    clause(3, begin, 4, (ctx) => {
      rt.beginRecord(ctx);
      rt.printf(ctx, { kind: 'printf', format: 'after\n', convs: [], suffix: 'after\n' } as never, []);
      rt.endRecord(ctx);
    }),
  ]);
  assert.deepEqual(r.warnings, [
    "error on enabled probe ID 1 (ID 1: dtrace:::BEGIN): internal error: Cannot read properties of undefined (reading 'x')",
    'error on enabled probe ID 2 (ID 1: dtrace:::BEGIN): internal error: Maximum call stack size exceeded',
    'error on enabled probe ID 3 (ID 1: dtrace:::BEGIN): divide-by-zero in predicate at DIF offset 4',
  ]);
  assert.equal(r.stdout, 'after\n');
});

test('session: an exception in an ERROR clause is reported once, without recursion', () => {
  const r = fireBegin((begin, error) => [
    clause(0, begin, 1, () => {
      throw new DFault(FLT_DIVZERO, 0n);
    }),
    clause(1, error, 2, () => {
      throw new Error('boom');
    }),
  ]);
  assert.deepEqual(r.warnings, [
    'error on enabled probe ID 1 (ID 1: dtrace:::BEGIN): divide-by-zero in predicate at DIF offset 4',
    'error on enabled probe ID 2 (ID 3: dtrace:::ERROR): internal error: boom',
  ]);
});

test('the kernel rings are 16 MB per CPU when bufsize is left at its default, within 256 MB and 1/64 of memory, never under 4 MB', () => {
  const GB = 1024 ** 3;
  const cases: Array<[number, number, number]> = [
    // CPUs, memory, KB per CPU
    [2, 24 * GB, 16384],
    [16, 64 * GB, 16384],
    [32, 64 * GB, 8192],
    [128, 512 * GB, 4096],
    [2, 1 * GB, 8192],
    [4, 0.5 * GB, 4096],
  ];
  for (const [ncpus, mem, want] of cases) assert.equal(defaultRingKb(ncpus, mem), want, `${ncpus} CPUs, ${mem / GB} GB`);
  const o = new Options();
  o.setDefault('bufsize', '4m');
  assert.equal(o.isGiven('bufsize'), false);
  o.set('bufsize', '4m');
  assert.equal(o.isGiven('bufsize'), true);
});

test('session: a tick the timer fires for a CPU whose sample did not come fires in that CPU\'s idle thread', () => {
  const seen: unknown[] = [];
  fireBegin(
    (begin) => [clause(0, begin, 1, (ctx) => seen.push([ctx.cpu, ctx.pid, ctx.tid, ctx.ppid, ctx.execname, ctx.args[0], ctx.args[1], ctx.kstackLen]))],
    (s, begin) => {
      s.fireIdle(begin, 1);
      s.fireIdle(begin, 0);
    },
  );
  assert.deepEqual(seen, [
    [1, 0, 0, 0, 'swapper/1', 0n, 0n, 0],
    [0, 0, 0, 0, 'swapper/0', 0n, 0n, 0],
  ]);
});
