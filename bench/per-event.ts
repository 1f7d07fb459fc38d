// Per-event microbenchmarks (not tests): the consumer's CPU per event on the real path, without
// the kernel. Each case compiles a D program against a synthetic provider whose probes are
// tracefs events (formats as Linux publishes them), enables it in a real Session, and feeds the
// handler enableEventProbe() subscribed synthetic records: generated decoder -> fillTask ->
// Session.fire -> generated clause -> aggregation / printf -> OutputSink (to /dev/null). The
// `ring` case reads synthetic pages through the real RingReader first (STYLE rule 3).
//
// Each case runs in processes of its own (as dtrace runs one program), which warm up, then time
// rounds of events by the process's CPU time; the median and the least of all rounds are
// printed. Never fails on a number.
//   node build/bench/per-event.js [case ...]     BENCH_PROCS (default 3), BENCH_RUNS (rounds each, 5)
//
// STYLE rules exercised (each case prints its own): 1-2 (one ProbeContext, filled in place:
// every case), 3 (ring, ring-busy), 4 (arguments' representation: count-int's predicate,
// printf3, trace, quantize), 5 (generated clauses: every case), 6 (printf plans: printf3), 7
// (one synchronous batch: ring, ring-busy), 8 (tuple keys: count-int, count-str, count-2keys),
// 9 (strings from records: count-str, fork-str), 10 (OutputSink: printf3, trace). Budget (issue
// 9): <= 100 ns for count-int and count-str, <= 400 ns for printf3.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Compiler, dynvarSlotSize } from '../src/compile/compile.js';
import { zeroCode } from '../src/compile/repr.js';
import { type EventFormat, type PageLayout, parseEventFormat } from '../src/kernel/event-format.js';
import { ProcessTable } from '../src/kernel/proctable.js';
import { RingReader } from '../src/kernel/ringbuf.js';
import type { EventHandler, KernelTracer } from '../src/kernel/tracer.js';
import type { TraceInstance } from '../src/kernel/tracefs.js';
import type { MacroEnv } from '../src/lang/lexer.js';
import { DtraceProvider } from '../src/providers/dtrace.js';
import { argFields, describeFromFields, enableEventProbe } from '../src/providers/kernel-event.js';
import type { FiringEnv, NewProbe, ProbeDef, Provider } from '../src/providers/provider.js';
import { ProbeRegistry } from '../src/providers/registry.js';
import type { TypeScope } from '../src/lang/typescope.js';
import { Options } from '../src/runtime/options.js';
import { OutputSink } from '../src/runtime/output.js';
import { type AggSpec, Runtime } from '../src/runtime/runtime.js';
import type { Value } from '../src/runtime/values.js';
import { Session } from '../src/session/session.js';

/** The cases: a D program, the probe it fires, and what the figure means. */
const CASES: Record<string, { program: string; event: 'read' | 'fork'; what: string; rules: string }> = {
  'count-int': {
    program: 'syscall::read:entry /arg0 != 99/ { @[pid] = count(); }',
    event: 'read',
    what: 'predicate on arg0 + count, one integer key',
    rules: '1,2,4,5,8',
  },
  'args-int': {
    program: 'sched:::process-fork /args[3] != 99/ { @[args[3]] = count(); }',
    event: 'fork',
    what: 'predicate + count on a typed 32-bit argument (args[3], pid_t child_pid)',
    rules: '4,8',
  },
  'count-str': {
    program: 'syscall::read:entry /pid != 0/ { @[execname] = count(); }',
    event: 'read',
    what: 'predicate + count, one string key (execname)',
    rules: '5,8,9',
  },
  'count-2keys': {
    program: 'syscall::read:entry { @[execname, probefunc] = count(); }',
    event: 'read',
    what: 'count by execname, probefunc (the live consumer benchmark\'s clause)',
    rules: '8',
  },
  printf3: {
    program: 'syscall::read:entry { printf("%s %d %d\\n", execname, arg0, arg2); }',
    event: 'read',
    what: 'three-argument printf, -q',
    rules: '4,6,10',
  },
  quantize: {
    program: 'syscall::read:entry { @ = quantize(arg2); }',
    event: 'read',
    what: 'quantize of arg2',
    rules: '4',
  },
  trace: {
    program: 'syscall::read:entry { trace(arg0); }',
    event: 'read',
    what: 'trace(arg0), -q',
    rules: '4,10',
  },
  'fork-str': {
    program: 'sched:::process-fork { @[args[2]] = count(); }',
    event: 'fork',
    what: 'count by a __data_loc string argument (child_comm)',
    rules: '9',
  },
  ring: {
    program: 'syscall::read:entry { @[execname, probefunc] = count(); }',
    event: 'read',
    what: 'count-2keys with records read from pages by RingReader (2 CPUs, merged)',
    rules: '3,7',
  },
  'ring-busy': {
    program: 'syscall::read:entry { @[execname] = count(); }',
    event: 'read',
    what: 'count by execname, records read by RingReader from one busy CPU of two',
    rules: '3,7',
  },
};

// The formats as Linux 6.x publishes them (events/<system>/<event>/format).
const READ_FORMAT = `name: sys_enter_read
ID: 842
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned int fd;	offset:16;	size:8;	signed:0;
	field:char * buf;	offset:24;	size:8;	signed:0;
	field:size_t count;	offset:32;	size:8;	signed:0;
`;

const FORK_FORMAT = `name: sched_process_fork
ID: 366
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:__data_loc char[] parent_comm;	offset:8;	size:4;	signed:0;
	field:pid_t parent_pid;	offset:12;	size:4;	signed:1;
	field:__data_loc char[] child_comm;	offset:16;	size:4;	signed:0;
	field:pid_t child_pid;	offset:20;	size:4;	signed:1;
`;

const LAYOUT: PageLayout = { timestampAt: 0, commitAt: 8, dataAt: 16, dataSize: 4080, typeLenBits: 5, padding: 29, timeExtend: 30, timeStamp: 31 };
const PAGE_SIZE = 4096;

/** The threads the records come from, with their names (a few processes, as a busy system has). */
const TASKS: Array<[number, string]> = [
  [1001, 'bash'], [1002, 'sshd'], [1003, 'node'], [1004, 'systemd-journal'],
  [1005, 'cc1'], [1006, 'make'], [1007, 'python3'], [1008, 'getppid'],
];

/** A provider of two probes on the formats above, enabled through enableEventProbe(). */
class BenchProvider implements Provider {
  readonly name: string;
  private readonly defs = new Map<ProbeDef, EventFormat>();

  constructor(
    name: string,
    private readonly func: string,
    private readonly probeName: string,
    private readonly format: EventFormat,
    private readonly skip: number,
    private readonly types: TypeScope,
  ) {
    this.name = name;
  }

  populate(newProbe: NewProbe): void {
    this.defs.set(newProbe('vmlinux', this.func, this.probeName, []), this.format);
  }

  describe(def: ProbeDef): void {
    describeFromFields(def, argFields(this.format, this.skip), this.types);
  }

  enable(probes: ProbeDef[], env: FiringEnv): void {
    for (const def of probes) {
      const fields = argFields(this.format, this.skip);
      enableEventProbe(env, { def, system: this.format.system, event: this.format.name, fields, fieldOf: (i) => fields[i] ?? null, copies: false });
    }
  }

  disable(): void {}
}

/** What enableEventProbe() asks of the kernel tracer, and the handler it subscribes. */
class FakeTracer {
  readonly procs = new ProcessTable(null);
  handler: EventHandler | null = null;
  readonly formats: EventFormat[];
  constructor(formats: EventFormat[]) {
    this.formats = formats;
    for (const [tid, comm] of TASKS) this.procs.newTask(1, tid, comm, 0n);
  }
  format(system: string, event: string): EventFormat {
    return this.formats.find((f) => f.system === system && f.name === event)!;
  }
  pidOffset(): number {
    return 4;
  }
  subscribe(_system: string, _event: string, _filter: string | null, handler: EventHandler): void {
    this.handler = handler;
  }
  kernelStack(): number {
    return 0;
  }
}

class BenchSession extends Session {
  fake: FakeTracer | null = null;
  override tracer(): KernelTracer {
    return this.fake as unknown as KernelTracer;
  }
}

/** A compiled, enabled program and the handler its probe's records go to. */
function setUp(program: string): { handler: EventHandler; formats: EventFormat[]; rt: Runtime } {
  const opts = new Options();
  opts.set('bufsize', '4m');
  opts.set('aggsize', '4m');
  opts.set('quiet', null);
  const registry = new ProbeRegistry();
  const dtrace = new DtraceProvider();
  registry.add(dtrace);
  const macros: MacroEnv = { args: ['dtrace'], defaultArgs: false, vars: new Map(), used: new Set() };
  const compiler = new Compiler(opts, registry, macros);
  const read = parseEventFormat('syscalls', READ_FORMAT);
  const fork = parseEventFormat('sched', FORK_FORMAT);
  registry.add(new BenchProvider('syscall', 'read', 'entry', read, 1, compiler.types), true);
  registry.add(new BenchProvider('sched', '', 'process-fork', fork, 0, compiler.types), true);
  const prog = compiler.compile({ text: program, fromFile: false, name: program, level: 3 });
  const out = new OutputSink(openSync('/dev/null', 'w'), () => {}, (e) => {
    throw e;
  });
  const warn = (m: string) => process.stderr.write(`per-event: ${m}\n`);
  const rt = new Runtime(opts, out, warn, false);
  // as cli/main.ts sets the runtime up
  const syms = compiler.syms;
  const slot = dynvarSlotSize([...[...syms.globals.values()].filter((v) => v.kind === 'assoc'), ...syms.tls.values()]);
  const globals = [...syms.globals.values()].map((v) => ({
    id: v.id,
    zero: new Function(`return ${v.type ? zeroCode(v.type) : '0n'};`) as () => Value | null,
    assoc: v.kind === 'assoc',
    nkeys: v.keys?.length ?? 0,
    elemSize: slot,
  }));
  const aggs: AggSpec[] = [...syms.aggs.values()]
    .filter((a) => a.fn !== null)
    .map((a) => ({ name: a.name, id: a.id, fn: a.fn!, keys: a.keys ?? [], params: a.params }));
  rt.init(globals, { sizes: [], keyCounts: [] }, aggs);
  compiler.link(prog.clauses, { rt, G: rt.G, D: rt.D, AG: rt.aggs });
  const session = new BenchSession(rt, registry, dtrace, prog.clauses, warn, false);
  const fake = new FakeTracer([read, fork]);
  session.fake = fake;
  for (const c of prog.clauses) {
    for (const def of c.probes) registry.providerOf(def).enable([def], session);
  }
  if (fake.handler === null) throw new Error('no probe enabled');
  if (process.env.BENCH_SHOW === '1') for (const c of prog.clauses) process.stderr.write(`${c.source}\n`);
  return { handler: fake.handler, formats: [read, fork], rt };
}

/** Writes record i of a kind at `off` in `b`; returns its length. */
function writeRecord(b: Buffer, off: number, kind: 'read' | 'fork', f: EventFormat, i: number): number {
  const [tid, comm] = TASKS[i % TASKS.length];
  b.fill(0, off, off + 64);
  b.writeUInt16LE(f.id, off);
  b.writeInt32LE(tid, off + 4);
  if (kind === 'read') {
    b.writeInt32LE(0, off + 8);
    b.writeBigUInt64LE(BigInt(i % 5), off + 16); // fd
    b.writeBigUInt64LE(0x7ffd_1234_5000n + BigInt(i * 64), off + 24); // buf
    b.writeBigUInt64LE(BigInt([1, 8, 64, 4096, 65536, 131072][i % 6]), off + 32); // count
    return 40;
  }
  // __data_loc strings after the fixed part: (length << 16 | offset)
  const child = comm;
  b.writeUInt32LE((comm.length + 1) << 16 | 24, off + 8);
  b.writeInt32LE(tid, off + 12);
  b.writeUInt32LE((child.length + 1) << 16 | (24 + 16), off + 16);
  b.writeInt32LE(tid + 100, off + 20);
  b.write(comm, off + 24, 'latin1');
  b.write(child, off + 40, 'latin1');
  return 56;
}

/** CPU ns per event of `fn(n)` handling n events: one round. */
function round(n: number, fn: (n: number) => void): number {
  const c0 = process.cpuUsage();
  fn(n);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs one case in this process: prints its median CPU ns per event. */
function runCase(name: string, runs: number): void {
  const c = CASES[name];
  const { handler, formats, rt } = setUp(c.program);
  const f = c.event === 'read' ? formats[0] : formats[1];
  const N = 1_000_000;
  let feed: (n: number) => void;
  let cleanup = () => {};
  if (name === 'ring' || name === 'ring-busy') {
    ({ feed, cleanup } = ringFeed(handler, f, name === 'ring' ? 2 : 1));
  } else {
    // 64 records of one page, handed over as the ring reader hands them
    const page = Buffer.alloc(PAGE_SIZE);
    const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
    const offs: number[] = [];
    const lens: number[] = [];
    let off = 16;
    for (let i = 0; i < 64; i++) {
      const len = writeRecord(page, off, c.event, f, i);
      offs.push(off);
      lens.push(len);
      off += len;
    }
    feed = (n) => {
      let ts = 1e9;
      for (let i = 0; i < n; i++) {
        const k = i & 63;
        handler(i & 1, page, view, offs[k], lens[k], (ts += 250));
      }
    };
  }
  feed(300_000);
  rt.out.flush();
  const xs: number[] = [];
  for (let r = 0; r < runs; r++) {
    xs.push(round(N, feed));
    rt.out.flush();
  }
  cleanup();
  // BENCH_SHOW=1: what the program printed at exit, to check that the case does what it says
  if (process.env.BENCH_SHOW === '1') process.stderr.write(rt.finalAggregations().slice(0, 2000));
  process.stdout.write(JSON.stringify({ name, ns: median(xs), all: xs.map((x) => Math.round(x)) }) + '\n');
}

/**
 * Pages of records in files, one per CPU, read through RingReader as tracefs's trace_pipe_raw
 * files are (a fake instance opens the files), each event dispatched by its id as the kernel
 * tracer does.
 */
function ringFeed(handler: EventHandler, f: EventFormat, busy: number): { feed: (n: number) => void; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-per-event-'));
  const cpus = [0, 1];
  const files = cpus.map((c) => join(dir, `cpu${c}`));
  const instance = { openRaw: (cpu: number) => openSync(files[cpu], 'r') } as unknown as TraceInstance;
  const reader = new RingReader(LAYOUT);
  reader.readInstance(instance, cpus, PAGE_SIZE);
  reader.maxPagesPerDrain = 1 << 20;
  const PAGES = 256;
  for (const cpu of cpus) {
    if (cpu >= busy) {
      // an idle CPU: an empty ring
      writeFileSync(files[cpu], Buffer.alloc(0));
      continue;
    }
    const buf = Buffer.alloc(PAGES * PAGE_SIZE);
    let ts = reader.base + 1000n + BigInt(cpu * 100);
    let i = 0;
    for (let p = 0; p < PAGES; p++) {
      const page = p * PAGE_SIZE;
      buf.writeBigUInt64LE(ts, page);
      let off = page + 16;
      const rec = Buffer.alloc(64);
      for (;;) {
        const len = writeRecord(rec, 0, 'read', f, i);
        if (off + 4 + len > page + PAGE_SIZE) break;
        // type_len = words of data, time delta 200 ns
        buf.writeUInt32LE(((200 << 5) | (len / 4)) >>> 0, off);
        rec.copy(buf, off + 4, 0, len);
        off += 4 + len;
        ts += 200n;
        i++;
      }
      buf.writeBigUInt64LE(BigInt(off - page - 16), page + 8);
    }
    writeFileSync(files[cpu], buf);
  }
  const sink = {
    event(cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number): void {
      if (view.getUint16(off, true) === f.id) handler(cpu, page, view, off, len, ts);
    },
  };
  const feed = (n: number) => {
    for (let done = 0; done < n; ) {
      reader.open();
      done += reader.drain(sink, true);
      reader.close();
    }
  };
  return { feed, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function main(): void {
  const argv = process.argv.slice(2);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const procs = Number(process.env.BENCH_PROCS ?? 3);
  if (argv[0] === '--case') {
    runCase(argv[1], runs);
    return;
  }
  const names = argv.length > 0 ? argv : Object.keys(CASES);
  const self = fileURLToPath(import.meta.url);
  let load = '';
  try {
    load = spawnSync('cat', ['/proc/loadavg'], { encoding: 'latin1' }).stdout.split(' ').slice(0, 3).join(' ');
  } catch {
    // no load figure
  }
  process.stdout.write(`per-event consumer CPU, ns/event (median of ${procs} processes x ${runs} rounds of 1M events; load ${load})\n`);
  for (const name of names) {
    if (!(name in CASES)) {
      process.stdout.write(`  ${name}: no such case\n`);
      continue;
    }
    // rounds from several processes: one process's JIT decisions, or a busy neighbour, shift all of its rounds
    const all: number[] = [];
    let failure = '';
    for (let p = 0; p < procs; p++) {
      const r = spawnSync(process.execPath, [self, '--case', name], { encoding: 'latin1', env: process.env });
      const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
      if (r.status !== 0 || line === undefined) {
        failure = r.stderr.trim().split('\n').slice(-3).join(' | ');
        continue;
      }
      all.push(...(JSON.parse(line) as { all: number[] }).all);
    }
    if (all.length === 0) {
      process.stdout.write(`  ${name.padEnd(12)} failed: ${failure}\n`);
      continue;
    }
    const min = Math.min(...all);
    const c = CASES[name];
    process.stdout.write(`  ${name.padEnd(12)} ${median(all).toFixed(0).padStart(6)} ns (min ${min.toFixed(0).padStart(4)})   ${c.what} [STYLE ${c.rules}]\n`);
  }
}

main();
