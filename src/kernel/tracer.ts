// The kernel tracer: one tracefs instance per dtrace, the events providers enable in it, the
// per-CPU readers, and the dispatch of each event to its handler by event id. Polls the ring
// buffers every switchrate (default 10 ms) and reports lost events as DTrace does.

import { DFatalError, errnoMessage } from '../errors.js';
import { readEventFormat, readPageLayout, type EventFormat } from './event-format.js';
import { kernelOffset, kernelSymbols } from './ksyms.js';
import { ProcessTable } from './proctable.js';
import { UserMemory } from './user-memory.js';
import { ReadableWaiter, SysError } from './bpf/sys.js';
import { RingReader, type EventSink, type EventSource } from './ringbuf.js';
import type { CpuClockSampler } from './perf-sampler.js';
import { Liveness } from './identity.js';
import { KprobeSet, reapStaleKprobes } from './kprobes.js';
import { TraceInstance, reapStaleInstances, tracefsRoot, tracingCpus } from './tracefs.js';
import { UprobeSet, reapStaleUprobes } from './uprobes.js';
import { UserStackEvents } from './perf-ustack.js';
import { userMappings } from './umaps.js';
import { RawTracepoints } from './bpf/raw-tracepoints.js';

/**
 * Removes what dtraces that are gone left in tracefs: their instances, then their kprobe and
 * uprobe events (which the kernel removes only once no instance has them enabled).
 */
export function reapStale(root: string): void {
  const live = new Liveness();
  reapStaleInstances(root, live);
  reapStaleKprobes(root, live);
  reapStaleUprobes(root, live);
}

/**
 * Handles one event's record: `page` and `view` hold it at [off, off + len), common header
 * included; `ts` is ns after the tracer's `base`.
 */
export type EventHandler = (cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number) => void;

/** Records BPF programs write for dtrace (bpf/output.ts): their rings are opened as tracing starts. */
export interface ProgramRecords {
  /** Opens the rings on `cpus`, `ringBytes` each (times after `base`); returns the source to merge with the events. */
  open(cpus: readonly number[], base: bigint, ringBytes: number): EventSource;
  /** records each CPU's ring could not take so far, by CPU */
  lost(): number[];
}

/** Strings of records are interned up to this length (names, paths' tails)... */
const INTERN_MAX = 64;
/** ...in a direct-mapped cache of this many entries (a power of two), by a hash of their bytes */
const INTERN_SLOTS = 1024;
const internStrs: string[] = new Array<string>(INTERN_SLOTS).fill('');

/**
 * A NUL-terminated string of at most `max` bytes in a record, as latin1 (one char per byte), and
 * interned (STYLE rule 9): the bytes of a string seen before give back the same string, with no
 * decode and no allocation.
 */
export function cstring(page: Buffer, off: number, max: number): string {
  let end = off;
  const lim = Math.min(off + max, page.length);
  let h = 0;
  while (end < lim) {
    const c = page[end];
    if (c === 0) break;
    h = (Math.imul(h, 31) + c) | 0;
    end++;
  }
  const len = end - off;
  if (len > INTERN_MAX) return page.toString('latin1', off, end);
  const slot = (h ^ (h >>> 11) ^ (len << 5)) & (INTERN_SLOTS - 1);
  const s = internStrs[slot];
  if (s.length === len) {
    let i = 0;
    while (i < len && s.charCodeAt(i) === page[off + i]) i++;
    if (i === len) return s;
  }
  const t = page.toString('latin1', off, end);
  internStrs[slot] = t;
  return t;
}

/**
 * How long an idle dtrace sleeps in poll(2) before it looks again anyway (ms): with nothing to
 * read, it wakes only when a ring gets data (buffer_percent 0), or at this limit.
 */
const IDLE_WAIT_MS = 1000;

/** The shortest poll interval (ms), while rings fill fast. */
const MIN_POLL_MS = 1;

/**
 * The next poll interval (ms): doubled, up to `idle`, while no events come (an idle dtrace
 * wakes up less); back to `base` as soon as they do; halved, down to MIN_POLL_MS, while the
 * fullest ring gave more than a quarter of its size in one poll, so that it does not fill; and
 * doubled back towards `base` once it gives less than a tenth.
 */
export function nextPollMs(now: number, base: number, idle: number, events: number, fill: number): number {
  if (events === 0) return Math.min(idle, now * 2);
  if (now > base) return base;
  if (fill > 0.25) return Math.max(MIN_POLL_MS, now / 2);
  if (fill < 0.1) return Math.min(base, now * 2);
  return now;
}

/** Per-CPU buffer of the bookkeeping instance: its events (task creation, exec, exit) are few. */
const OWN_BUFFER_KB = 1024;

/** Frames of the tracing machinery itself, at the top of a trigger's stack trace. */
const TRACING_FRAME = /`(trace_event_raw_event_|__traceiter_|perf_trace_|__bpf_trace_|ftrace_syscall_|trace_call_bpf|event_triggers_)/;

/** An event asked for: `user`, a probe uses it (else only dtrace's own bookkeeping does). */
interface EnabledEvent {
  system: string;
  event: string;
  filter: string | null;
  stack: boolean;
  user: boolean;
  process: number;
  /** what to call it if the kernel refuses to enable it, which then only costs that event; null: fatal */
  optional: string | null;
}


/**
 * Pages of each CPU's ring of user stacks: each record holds up to 16 KiB of stack, so at least
 * 8 MiB (the first stacks symbolised read symbol tables and CFI while the ring fills).
 */
function userStackRingPages(bufferKb: number): number {
  let pages = 2048;
  while (pages * 4 < bufferKb && pages < 8192) pages *= 2;
  return pages;
}

export class KernelTracer implements EventSink {
  readonly root: string;
  readonly procs: ProcessTable;
  readonly user = new UserMemory();
  private instance: TraceInstance | null = null;
  private kprobeSet: KprobeSet | null = null;
  private uprobeSet: UprobeSet | null = null;
  /**
   * The instance of the events that are one process's only (pid probes: a uprobe fires in every
   * process that maps its file), which records only the events of those processes' threads and
   * of the tasks they create (set_event_pid, event-fork); null: none, or `instance` is limited so.
   */
  private procInst: TraceInstance | null = null;
  /** the processes events subscribed with `process` belong to */
  private readonly processOnly = new Set<number>();
  private reader: RingReader | null = null;
  private readonly handlers: Array<EventHandler | undefined> = [];
  /** `user`: a probe uses the event (else only dtrace's own bookkeeping does) */
  private readonly enabled: EnabledEvent[] = [];
  /**
   * events the kernel refused to enable that were optional (pid probes of a glob on
   * instructions uprobes cannot take), and why
   */
  readonly refused: Array<{ what: string; why: string }> = [];
  /** what providers asked to close at teardown (BPF programs on probe events) */
  private readonly closers: Array<{ close(): void }> = [];
  /** the kernel_stack record a stacktrace trigger writes after its event, and its layout */
  private stackId = -1;
  private stackSizeAt = 0;
  private stackCallerAt = 0;
  private readonly formats = new Map<string, EventFormat>();
  /** events recorded with a kernel stack (tracefs's stacktrace trigger): not captured by BPF */
  private readonly stacked = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  /** poll intervals (ms): now, while events come, and at most while none do */
  private pollMs = 10;
  private basePollMs = 10;
  private idlePollMs = 10;
  /** bytes of each CPU's ring buffer */
  private ringBytes = 0;
  private readonly droppedSeen = new Map<number, number>();
  /**
   * The instance of the events only dtrace's bookkeeping uses (the process table's): apart, so
   * that what the kernel drops of them is not counted as drops of the user's probes, and a
   * flood of the user's events cannot crowd them out.
   */
  private own: TraceInstance | null = null;
  private readonly ownDroppedSeen = new Map<number, number>();
  /** called after each batch of events (to flush output) */
  onBatch: (() => void) | null = null;
  private stopped = false;
  /** sleeps until a ring has data while none has (null: polls on a timer only) */
  private waiter: ReadableWaiter | null = null;
  /** perf-event samplers (profile), merged with the events in time order */
  private readonly samplers: CpuClockSampler[] = [];
  /** events whose probes want user stacks: read from perf events with the stack (perf-ustack.ts) */
  private readonly ustacked = new Map<number, { pid: number; filter: string | null }>();
  /** the user stacks' perf events, with the mappings' side band (null: none wanted, or unavailable) */
  private ustackEvents: UserStackEvents | null = null;
  /** the side band of what processes map is wanted even with no event sampled (profile's user stacks) */
  private mappingsWanted = false;
  /** why user stacks could not be captured (null: they can, or none were wanted) */
  userStackUnavailable: string | null = null;
  /**
   * The events of one process only (pid and usdt probes' uprobes, the loader's), taken from perf
   * events bound to its threads: the kernel then puts the uprobe's breakpoint in that process
   * only, where an event enabled in tracefs traps in every process that maps the file (and only
   * filters afterwards). Null: none, or perf events cannot (they come from tracefs then).
   */
  private procEvents: UserStackEvents | null = null;
  /** why one process's events come from tracefs, not perf events bound to it (null: they do not) */
  processEventsUnavailable: string | null = null;
  /** records BPF programs write for dtrace (clauses that print in the kernel), read with the events */
  private readonly programRecords: ProgramRecords[] = [];
  /** the raw tracepoints' programs and rings (rawtp), created on first use */
  private raw: RawTracepoints | null = null;

  constructor() {
    this.root = tracefsRoot();
    this.procs = new ProcessTable(this.root);
    // first, so the table knows a new task before a provider's handler for the same event runs
    this.trackProcesses();
  }

  format(system: string, event: string): EventFormat {
    const key = `${system}/${event}`;
    let f = this.formats.get(key);
    if (f === undefined) {
      f = readEventFormat(this.root, system, event);
      this.formats.set(key, f);
    }
    return f;
  }

  /** An event's format, or null if the kernel has no such event. */
  private formatIfAny(system: string, event: string): EventFormat | null {
    try {
      return this.format(system, event);
    } catch {
      return null;
    }
  }

  /** Reads records BPF programs write, merged with the events in time order, from start() on (at once, once started). */
  addProgramRecords(records: ProgramRecords): void {
    this.programRecords.push(records);
    if (this.reader !== null && this.recordRings !== null && !this.stopped) this.openProgramRecords(records, this.reader, this.recordRings.cpus, this.recordRings.bytes);
  }

  /** the CPUs and bytes of the rings of program records (null: tracing has not started) */
  private recordRings: { cpus: number[]; bytes: number } | null = null;

  private openProgramRecords(records: ProgramRecords, reader: RingReader, cpus: number[], bytes: number): void {
    try {
      reader.addSource(records.open(cpus, reader.base, bytes));
    } catch (e) {
      // the system call's error, as for a tracefs buffer (mmap(2)'s for a ring too large)
      throw new DFatalError(`could not enable tracing: ${e instanceof SysError ? e.message.slice(e.message.indexOf(': ') + 2) : errnoMessage(e)}`);
    }
  }

  /**
   * Asks for an event, with a tracefs filter or none; `handler` gets each of its records.
   * `stack`: the kernel records a stack trace with each one (kernelStack() reads it).
   * `first`: runs before the handlers already there (bookkeeping probes rely on).
   */
  subscribe(system: string, event: string, filter: string | null, handler: EventHandler, stack = false, first = false, ustack = false): void {
    if (ustack) this.wantUserStack(this.format(system, event).id, 0, filter);
    this.add(system, event, filter, handler, stack, first, true);
  }

  /** An event to take with user stacks: one process's (pid > 0) or every process's, each with its filter. */
  private wantUserStack(id: number, pid: number, filter: string | null): void {
    const prev = this.ustacked.get(id);
    if (prev === undefined) this.ustacked.set(id, { pid, filter });
    else {
      // two users: the wider wins
      if (prev.pid !== pid) prev.pid = 0;
      if (prev.filter !== filter) prev.filter = null;
    }
  }

  /**
   * Records what processes map, exec and fork as it happens (user stacks of profile samples are
   * symbolised with it), even if no event is sampled with a user stack.
   */
  wantMappings(): void {
    this.mappingsWanted = true;
  }

  /**
   * Asks for an event of which only one process's are wanted (and those of the tasks it creates:
   * the handler still checks whose each one is): the kernel records no other process's.
   */
  subscribeProcess(system: string, event: string, filter: string | null, handler: EventHandler, pid: number, ustack = false, optional: string | null = null): void {
    if (ustack) this.wantUserStack(this.format(system, event).id, pid, filter);
    this.add(system, event, filter, handler, false, false, true, pid, optional);
  }

  /** dtrace's own use of an event (the process table's): no filter, no stack, not a probe's. */
  private subscribeOwn(system: string, event: string, handler: EventHandler, first = false): void {
    this.add(system, event, null, handler, false, first, false);
  }

  private add(system: string, event: string, filter: string | null, handler: EventHandler, stack: boolean, first: boolean, user: boolean, process = 0, optional: string | null = null): void {
    const f = this.format(system, event);
    if (stack) this.stacked.add(f.id);
    if (stack && this.stackId < 0) {
      const st = this.format('ftrace', 'kernel_stack');
      this.stackId = st.id;
      this.stackSizeAt = st.fields.find((x) => x.name === 'size')!.offset;
      this.stackCallerAt = st.fields.find((x) => x.name === 'caller')!.offset;
    }
    const prev = this.handlers[f.id];
    if (prev) {
      // two users of one event (a provider and the process table): both see it
      const [a, b] = first ? [handler, prev] : [prev, handler];
      this.handlers[f.id] = (c, p, v, o, l, t) => {
        a(c, p, v, o, l, t);
        b(c, p, v, o, l, t);
      };
      const e = this.enabled.find((x) => x.system === system && x.event === event);
      if (e && e.filter !== filter) e.filter = null;
      if (e && stack) e.stack = true;
      if (e && user) e.user = true;
      return;
    }
    this.handlers[f.id] = handler;
    const e = { system, event, filter, stack, user, process, optional };
    this.enabled.push(e);
    if (process > 0) this.processOnly.add(process);
    // tracing has started: the event is enabled now, in the instance it belongs to, while the
    // others' go on (pid probes of an object a process loaded since)
    if (this.reader !== null && !this.stopped) this.enableLive(e, f.id);
  }

  /** Enables an event asked for after start() in the instance start() would have put it in. */
  private enableLive(e: EnabledEvent, id: number): void {
    // an event taken with user stacks comes from a perf event of its own, into the rings of the
    // others (opened now if none was); where that fails, from tracefs without them
    const us = this.ustacked.get(id);
    if (us !== undefined) {
      if (this.liveUserStacks(id, us)) return;
      this.ustacked.delete(id);
    }
    if (e.process > 0 && !e.stack && this.liveProcessEvent(e)) return;
    const target = this.apart(e) ? this.procInst : e.user ? this.instance : this.own;
    if (target === null) {
      throw new DFatalError(`could not enable tracing: ${e.system}:${e.event}: no instance records ${e.process > 0 ? `process ${e.process}'s` : "dtrace's own"} events`);
    }
    this.enableIn(target, e);
  }

  /** Samples an event asked for after start() with user stacks; false: it cannot be. */
  private liveUserStacks(id: number, us: { pid: number; filter: string | null }): boolean {
    if (this.userStackUnavailable !== null || this.reader === null) return false;
    try {
      if (this.ustackEvents === null) {
        const cpus = this.instance!.cpus();
        const ev = new UserStackEvents([], cpus, userStackRingPages(this.ringBytes / 1024), (c, p, v, o, l, t) => this.event(c, p, v, o, l, t));
        ev.open();
        ev.setBase(this.reader.base);
        this.reader.addSource(ev);
        ev.enable();
        this.ustackEvents = ev;
        this.idlePollMs = this.basePollMs;
      }
      const pid = us.pid > 0 ? us.pid : this.onlyPid;
      this.ustackEvents.add({ id, pid, filter: us.filter });
      // what the process loaded before the side band was open (the object this probe is in)
      if (pid > 0) userMappings.refresh(pid);
      return true;
    } catch (e) {
      this.userStackUnavailable = (e as Error).message;
      return false;
    }
  }

  /** Takes an event of one process asked for after start() from perf events bound to it; false: tracefs takes it. */
  private liveProcessEvent(e: EnabledEvent): boolean {
    if (this.reader === null || this.processEventsUnavailable !== null) return false;
    if (this.procEvents === null) {
      const ev = this.openProcessRings(this.instance!.cpus(), this.ringBytes / 1024);
      if (ev === null) return false;
      ev.setBase(this.reader.base);
      this.reader.addSource(ev);
      ev.enable();
      this.procEvents = ev;
    }
    return this.addProcessEvent(this.procEvents, e);
  }

  /** The rings of one process's events (their own: no side band), open; null if perf events cannot be. */
  private openProcessRings(cpus: number[], bufferKb: number): UserStackEvents | null {
    // as many bytes per CPU as a tracefs ring (a power of two of pages)
    let pages = 16;
    while (pages * 4 < bufferKb && pages < 65536) pages *= 2;
    const ev = new UserStackEvents([], cpus, pages, (c, p, v, o, l, t) => this.event(c, p, v, o, l, t), false);
    try {
      ev.open();
      return ev;
    } catch (err) {
      this.processEventsUnavailable = (err as Error).message;
      return null;
    }
  }

  /**
   * Opens an event of one process in `ev`: true if it is taken there (or refused there, being
   * optional: then it costs that probe only); false: tracefs takes it.
   */
  private addProcessEvent(ev: UserStackEvents, e: EnabledEvent): boolean {
    try {
      ev.add({ id: this.format(e.system, e.event).id, pid: e.process, filter: e.filter, stack: false, threadsOnly: true });
      return true;
    } catch (err) {
      // ENOTSUPP (524, the kernel's own): an instruction uprobes cannot take (x86's lock prefix)
      if (err instanceof SysError && err.errno === 524) {
        if (e.optional === null) throw new DFatalError(`could not enable tracing: ${e.system}:${e.event}: uprobes cannot take its instruction`);
        this.refused.push({ what: e.optional, why: 'uprobes cannot take its instruction' });
        return true;
      }
      if (process.env.DTRACE_TS_DEBUG) process.stderr.write(`dtrace: ${e.system}:${e.event} comes from tracefs: ${(err as Error).message}\n`);
      return false;
    }
  }

  /** Whether an event of one process goes to the process instance (not the main one, limited to that process already). */
  private apart(e: { process: number }): boolean {
    return e.process > 0 && !(this.processOnly.size === 1 && this.onlyPid === e.process);
  }

  /** Enables an event in an instance, with its stack trigger and its filter (or none, if the kernel refuses it). */
  private enableIn(target: TraceInstance, e: EnabledEvent): void {
    if (e.optional !== null) {
      try {
        this.enableIn(target, { ...e, optional: null });
      } catch (err) {
        const msg = errnoMessage(err);
        const at = msg.indexOf(`${e.event}: `);
        // ENOTSUPP (524, the kernel's own): an instruction uprobes cannot take (x86's lock prefix)
        this.refused.push({ what: e.optional, why: /-524\b/.test(msg) ? 'uprobes cannot take its instruction' : at >= 0 ? msg.slice(at + e.event.length + 2) : msg });
      }
      return;
    }
    try {
      if (e.stack) target.write(`events/${e.system}/${e.event}/trigger`, `stacktrace${e.filter ? ` if ${e.filter}` : ''}`);
      target.enableEvent(e.system, e.event, e.filter);
    } catch (err) {
      // a filter the kernel refuses only costs speed: user space runs every predicate anyway
      if (e.filter === null) throw new DFatalError(`could not enable tracing: ${e.system}:${e.event}: ${(err as Error).message}`);
      target.write(`events/${e.system}/${e.event}/filter`, '0');
      target.enableEvent(e.system, e.event, null);
    }
  }

  /** Something to close when tracing ends (before the instances and probe events go). */
  closeAtEnd(closer: { close(): void }): void {
    this.closers.push(closer);
  }

  /**
   * Reads an opened sampler's rings with the events, in time order, from start() on (it is
   * enabled once tracing is); stop() disables it and teardown() closes it.
   */
  addSampler(s: CpuClockSampler): void {
    this.samplers.push(s);
  }

  /** The kprobe events of this dtrace (fbt), created on first use; teardown() removes them. */
  kprobes(): KprobeSet {
    if (this.kprobeSet === null) this.kprobeSet = new KprobeSet(this.root);
    return this.kprobeSet;
  }

  /** The uprobe events of this dtrace (pid), created on first use; teardown() removes them. */
  uprobes(): UprobeSet {
    if (this.uprobeSet === null) this.uprobeSet = new UprobeSet(this.root);
    return this.uprobeSet;
  }

  /**
   * The raw tracepoints of this dtrace (rawtp), created on first use: their programs are
   * attached when tracing starts, and detached and closed with it.
   */
  rawTracepoints(): RawTracepoints {
    if (this.raw === null) this.raw = new RawTracepoints();
    return this.raw;
  }

  private onlyPid = 0;

  /** Records only the events of one process's threads and of the tasks it creates. */
  limitToProcess(pid: number): void {
    this.onlyPid = pid;
  }

  /**
   * Creates the instance, enables the events, and starts reading; a failure says what failed.
   * The rings are read every `pollMs` while events come, less often while none do (up to
   * `idlePollMs`), and more often while they fill fast.
   */
  start(bufferKb: number, pollMs: number, idlePollMs = pollMs): void {
    this.basePollMs = this.pollMs = Math.max(MIN_POLL_MS, pollMs);
    this.idlePollMs = Math.max(this.basePollMs, idlePollMs);
    this.ringBytes = bufferKb * 1024;
    try {
      this.startTracing(bufferKb);
    } catch (e) {
      this.teardown();
      if (e instanceof DFatalError) throw e;
      throw new DFatalError(`could not enable tracing: ${errnoMessage(e)}`);
    }
  }

  private startTracing(bufferKb: number): void {
    reapStale(this.root);
    // no event reaches dtrace (every clause runs in the kernel): no instance, and no process
    // table to keep (making and removing an instance is most of such a program's start-up)
    const events =
      this.enabled.some((e) => e.user) || (this.raw !== null && this.raw.size > 0) || this.samplers.length > 0 || this.ustacked.size > 0 || this.mappingsWanted || this.kprobeSet !== null || this.uprobeSet !== null;
    if (events) this.procs.snapshot();
    const cpus = tracingCpus(this.root);
    const reader = (this.reader = new RingReader(readPageLayout(this.root)));
    // events whose user memory D code reads come from capture programs, with their copies
    // (each CPU's ring as large as its tracefs buffer), not from tracefs; before tracing
    // starts, so that every event has its copies
    this.openUserStacks(cpus, bufferKb);
    // a uprobe named exactly that the kernel will not take (one of a glob's is left out)
    let refusal: string | null = null;
    const captured = this.user.start(
      cpus,
      reader.base,
      bufferKb * 1024,
      (id) => !this.stacked.has(id) && !this.ustacked.has(id),
      (id) => this.enabled.find((e) => e.user && this.format(e.system, e.event).id === id)?.filter ?? null,
      (id) => this.enabled.find((e) => this.format(e.system, e.event).id === id)?.process ?? 0,
      (id) => {
        const e = this.enabled.find((x) => this.format(x.system, x.event).id === id)!;
        if (e.optional === null) refusal ??= `could not enable tracing: ${e.system}:${e.event}: uprobes cannot take its instruction`;
        else this.refused.push({ what: e.optional, why: 'uprobes cannot take its instruction' });
      },
      (event) => this.formatIfAny('raw_syscalls', event),
    );
    if (refusal !== null) throw new DFatalError(refusal);
    if (captured !== null) reader.addSource(captured);
    this.recordRings = { cpus, bytes: bufferKb * 1024 };
    for (const r of this.programRecords) this.openProgramRecords(r, reader, cpus, bufferKb * 1024);
    if (this.ustackEvents !== null) {
      this.ustackEvents.setBase(reader.base);
      reader.addSource(this.ustackEvents);
    }
    for (const s of this.samplers) {
      s.setBase(reader.base);
      reader.addSource(s);
    }
    const raw = this.raw !== null && this.raw.size > 0;
    if (raw) {
      try {
        reader.addSource(this.raw!.start(cpus, reader.base, bufferKb * 1024));
      } catch (e) {
        throw new DFatalError(`could not enable tracing: raw tracepoints: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    // a record with a copy of the user stack is up to 16 KiB: a ring holds a few hundred, which
    // an idle dtrace's long poll interval would let overflow at the first burst
    if (this.ustackEvents !== null || this.samplers.some((x) => x.options.userRegs === true)) this.idlePollMs = this.basePollMs;
    let traced = this.enabled.filter((e) => {
      const id = this.format(e.system, e.event).id;
      return !this.user.captures(id) && !(this.ustackEvents !== null && this.ustacked.has(id));
    });
    // one process's events from perf events bound to its threads, where they can be
    const perProcess = traced.filter((e) => e.process > 0 && !e.stack);
    if (perProcess.length > 0) {
      const ev = this.openProcessRings(cpus, bufferKb);
      if (ev !== null) {
        const taken = new Set(perProcess.filter((e) => this.addProcessEvent(ev, e)));
        if (taken.size > 0) {
          ev.setBase(reader.base);
          reader.addSource(ev);
          this.procEvents = ev;
          traced = traced.filter((e) => !taken.has(e));
        } else ev.close();
      }
    }
    if (!events) {
      for (const c of cpus) this.droppedSeen.set(c, 0);
      this.waiter = ReadableWaiter.create();
      this.timer = setTimeout(this.pollNow, this.pollMs);
      return;
    }
    const inst = (this.instance = this.newInstance(bufferKb));
    reader.readInstance(inst, inst.cpus(), inst.subbufSize());
    // an event a probe uses too stays with the probe's: it is the probe's event that is lost
    const own = traced.some((e) => !e.user) ? (this.own = this.newInstance(Math.min(bufferKb, OWN_BUFFER_KB))) : null;
    // one process's events: in the main instance if it is limited to that process already
    const procInst = traced.some((e) => this.apart(e)) ? (this.procInst = this.newInstance(bufferKb, [...this.processOnly])) : null;
    for (const e of traced) this.enableIn(this.apart(e) ? procInst! : e.user ? inst : own!, e);
    if (own) reader.addInstance(own, own.cpus());
    if (procInst) reader.addInstance(procInst, procInst.cpus());
    reader.open();
    for (const c of inst.cpus()) this.droppedSeen.set(c, this.userDropped(c));
    if (own) for (const c of own.cpus()) this.ownDroppedSeen.set(c, own.droppedOn(c));
    // the process table first, so that it knows the tasks the probes' first events come from
    if (own) own.start();
    if (procInst) procInst.start();
    inst.start();
    for (const s of this.samplers) s.enable();
    this.ustackEvents?.enable();
    this.procEvents?.enable();
    this.waiter = ReadableWaiter.create();
    this.timer = setTimeout(this.pollNow, this.pollMs);
  }

  /**
   * Opens the perf events of the events whose probes want user stacks (and the side band of
   * mappings); where perf events cannot, those events come from tracefs without user stacks,
   * and userStackUnavailable says why.
   */
  private openUserStacks(cpus: number[], bufferKb: number): void {
    if (this.ustacked.size === 0 && !this.mappingsWanted) return;
    const events = [...this.ustacked].map(([id, e]) => ({ id, pid: e.pid > 0 ? e.pid : this.onlyPid, filter: e.filter }));
    const ev = new UserStackEvents(events, cpus, userStackRingPages(bufferKb), (c, p, v, o, l, t) => this.event(c, p, v, o, l, t));
    try {
      ev.open();
      this.ustackEvents = ev;
    } catch (e) {
      this.userStackUnavailable = (e as Error).message;
      this.ustacked.clear();
    }
  }

  /** What the kernel dropped on a CPU of the probes' events: the main instance's and the process instance's. */
  private userDropped(cpu: number): number {
    return (this.instance?.droppedOn(cpu) ?? 0) + (this.procInst?.droppedOn(cpu) ?? 0);
  }

  /** A new instance (`pids`: limited to those processes, else to onlyPid if set). */
  private newInstance(bufferKb: number, pids?: number[]): TraceInstance {
    const inst = TraceInstance.create(this.root);
    try {
      inst.write('trace_options', 'nooverwrite');
      inst.setBufferSizeKb(bufferKb);
      // a reader waiting in poll(2) wakes at the first event, not when the ring is half full
      if (inst.has('buffer_percent')) inst.write('buffer_percent', '0');
      if (pids !== undefined) inst.limitToProcesses(pids);
      else if (this.onlyPid > 0) inst.limitToProcesses([this.onlyPid]);
    } catch (e) {
      try {
        inst.remove();
      } catch {
        // the next dtrace reaps it
      }
      throw e;
    }
    return inst;
  }

  /** Offset of common_pid (the thread id) in every event's record, from the published format. */
  pidOffset(f: EventFormat): number {
    return f.common.find((c) => c.name === 'common_pid')?.offset ?? 4;
  }

  /**
   * Records each exec's arguments when execve() is called (they are gone from the process's
   * memory by the time anything reads it), for psinfo_t's pr_psargs.
   */
  recordExecArgs(): void {
    const procs = this.procs;
    for (const event of ['sys_enter_execve', 'sys_enter_execveat']) {
      const f = this.format('syscalls', event);
      const argv = f.fields.find((x) => x.name === 'argv');
      if (!argv) continue;
      const pidAt = this.pidOffset(f);
      // psinfo_t's pr_psargs holds 80 bytes: 8 arguments of up to 80 fill it
      const [at] = this.user.want(f, [{ ptrOffset: argv.offset, maxLen: 80, argvSlots: 8 }], true);
      this.subscribeOwn('syscalls', event, (_c, page, v, o) => {
        if (!this.user.captures(f.id)) return;
        const tid = v.getInt32(o + pidAt, true);
        const got = this.user.take(tid, f.id, page, v, o);
        const argv = got.n > at ? got.texts[at] : null;
        if (argv !== null) procs.execCalled(tid, argv);
      }, true);
    }
    const ex = this.format('sched', 'sched_process_exec');
    const exPid = this.pidOffset(ex);
    this.subscribeOwn('sched', 'sched_process_exec', (_c, _p, v, o) => procs.execDone(v.getInt32(o + exPid, true)), true);
  }

  /** Keeps the process table right: new tasks, renames, exits. */
  private trackProcesses(): void {
    const procs = this.procs;
    const nt = this.format('task', 'task_newtask');
    const ntPid = nt.fields.find((f) => f.name === 'pid')!.offset;
    const ntComm = nt.fields.find((f) => f.name === 'comm')!.offset;
    const ntFlags = nt.fields.find((f) => f.name === 'clone_flags')!.offset;
    const ntParent = this.pidOffset(nt);
    this.subscribeOwn('task', 'task_newtask', (_c, page, v, o) => {
      procs.newTask(v.getInt32(o + ntParent, true), v.getInt32(o + ntPid, true), cstring(page, o + ntComm, 16), v.getBigUint64(o + ntFlags, true));
    });
    const rn = this.format('task', 'task_rename');
    const rnPid = rn.fields.find((f) => f.name === 'pid')?.offset;
    const rnComm = rn.fields.find((f) => f.name === 'newcomm')!.offset;
    const rnCommon = this.pidOffset(rn);
    this.subscribeOwn('task', 'task_rename', (_c, page, v, o) => {
      const tid = v.getInt32(o + (rnPid ?? rnCommon), true);
      procs.rename(tid, cstring(page, o + rnComm, 16));
    });
    const ex = this.format('sched', 'sched_process_exit');
    const exPid = ex.fields.find((f) => f.name === 'pid')?.offset ?? this.pidOffset(ex);
    const exComm = ex.fields.find((f) => f.name === 'comm')?.offset;
    this.subscribeOwn('sched', 'sched_process_exit', (_c, page, v, o) => {
      const tid = v.getInt32(o + exPid, true);
      if (exComm !== undefined) procs.noteComm(tid, cstring(page, o + exComm, 16));
      procs.exit(tid);
      this.user.forget(tid);
    });
  }

  private readonly pollNow = (): void => this.poll();

  private poll(): void {
    this.timer = null;
    const r = this.reader;
    if (!r) return;
    const n = r.drain(this);
    if (n > 0) {
      this.procs.sweep();
      if (this.onBatch) this.onBatch();
    }
    // stop() or teardown() from a handler (exit()) ends polling
    if (this.reader === null || this.stopped) return;
    const idle = this.pollMs >= this.idlePollMs;
    this.pollMs = nextPollMs(this.pollMs, this.basePollMs, this.idlePollMs, n, (r.fullestPages * r.pageSize) / this.ringBytes);
    // idle for a while, and nothing held back: sleep until a ring has data (the rings'
    // descriptors are never closed during a wait: stop and teardown wake it first)
    if (idle && n === 0 && this.waiter !== null && !r.holdsEvents()) {
      this.waiter.wait(r.descriptors(), IDLE_WAIT_MS, this.pollNow);
    } else {
      this.timer = setTimeout(this.pollNow, this.pollMs);
    }
  }

  /** Ends a wait for data; the rings may be closed once it returned (the instance then removed). */
  private endWait(): void {
    const w = this.waiter;
    if (w === null) return;
    w.wake();
    this.waiter = null;
    // the waiting thread holds the rings open until poll(2) returns, and an instance with open
    // files cannot be removed: a wake-up takes microseconds
    if (w.waiting) {
      const tick = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 200 && !w.returned(); i++) Atomics.wait(tick, 0, 0, 1);
    }
    w.close();
  }

  /**
   * The kernel stack recorded with the event being handled on `cpu`, into `frames` (as
   * kernelOffset()s, innermost first, the tracing machinery's own frames left out); returns
   * the number of frames.
   */
  kernelStack(cpu: number, frames: Float64Array): number {
    const r = this.reader;
    if (r === null || !r.peekNext(cpu)) return 0;
    const v = r.peekView!;
    const off = r.peekOff;
    if (v.getUint16(off, true) !== this.stackId) return 0;
    const count = Math.min(v.getInt32(off + this.stackSizeAt, true), (r.peekLen - this.stackCallerAt) >> 3);
    let n = 0;
    for (let i = 0; i < count && n < frames.length; i++) {
      const a = kernelOffset(v, off + this.stackCallerAt + i * 8);
      if (a < 0) continue;
      if (n === 0 && TRACING_FRAME.test(kernelSymbols.frame(a))) continue;
      frames[n++] = a;
    }
    return n;
  }

  /** A NUL-terminated string in a thread's memory (see UserMemory.read); empty if unreadable. */
  userString(tid: number, addr: bigint, max = 256): string {
    const t = this.user.read(tid, addr, max);
    if (t === null) return '';
    const end = t.indexOf('\0');
    return end >= 0 ? t.slice(0, end) : t;
  }

  /** Nanoseconds of the reader's time base (events' `ts` are relative to it). */
  get base(): bigint {
    return this.reader ? this.reader.base : 0n;
  }

  event(cpu: number, page: Buffer, view: DataView, off: number, len: number, ts: number): void {
    const h = this.handlers[view.getUint16(off, true)];
    if (h !== undefined) h(cpu, page, view, off, len, ts);
  }

  /**
   * Reports the probes' events the kernel dropped (its buffer was full) since the last call, per
   * CPU; `own` those of dtrace's bookkeeping, which are not the probes'.
   */
  checkDrops(report: (cpu: number, n: number) => void, own?: (cpu: number, n: number) => void): void {
    const inst = this.instance;
    if (!inst && this.programRecords.length === 0) return;
    const lost = inst ? this.user.lost() : [];
    for (const r of this.programRecords) r.lost().forEach((n, cpu) => (lost[cpu] = (lost[cpu] ?? 0) + n));
    for (const s of this.samplers) s.lost().forEach((n, cpu) => (lost[cpu] = (lost[cpu] ?? 0) + n));
    this.ustackEvents?.lost().forEach((n, cpu) => (lost[cpu] = (lost[cpu] ?? 0) + n));
    this.procEvents?.lost().forEach((n, cpu) => (lost[cpu] = (lost[cpu] ?? 0) + n));
    this.raw?.lost().forEach((n, cpu) => (lost[cpu] = (lost[cpu] ?? 0) + n));
    for (const [cpu, seen] of this.droppedSeen) {
      const now = this.userDropped(cpu) + (lost[cpu] ?? 0);
      if (now > seen) {
        this.droppedSeen.set(cpu, now);
        report(cpu, now - seen);
      }
    }
    const bookkeeping = this.own;
    if (bookkeeping === null || own === undefined) return;
    const ownLost = this.user.lost(true);
    for (const [cpu, seen] of this.ownDroppedSeen) {
      const now = bookkeeping.droppedOn(cpu) + (ownLost[cpu] ?? 0);
      if (now > seen) {
        this.ownDroppedSeen.set(cpu, now);
        own(cpu, now - seen);
      }
    }
  }

  /** Stops tracing and handles what the buffers still hold; teardown() removes the instance. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.endWait();
    if (this.instance) this.instance.stop();
    if (this.own) this.own.stop();
    if (this.procInst) this.procInst.stop();
    // the capture programs too: else dtrace's own reads while draining make more to drain
    this.user.stop();
    this.raw?.stop();
    for (const s of this.samplers) s.disable();
    this.ustackEvents?.disable();
    this.procEvents?.disable();
    if (this.reader) {
      while (this.reader.drain(this, true) > 0) {
        // keep draining until the buffers are empty
      }
      if (this.onBatch) this.onBatch();
    }
  }

  /** Removes the instance without reading (error and signal paths). */
  teardown(): void {
    this.stopped = true;
    for (const c of this.closers.splice(0)) {
      try {
        c.close();
      } catch {
        // its file descriptors go with this process anyway
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.endWait();
    this.user.close();
    this.raw?.close();
    for (const s of this.samplers) s.close();
    this.ustackEvents?.close();
    this.ustackEvents = null;
    this.procEvents?.close();
    this.procEvents = null;
    if (this.reader) {
      this.reader.close();
      this.reader = null;
    }
    for (const inst of [this.instance, this.own, this.procInst]) {
      try {
        inst?.remove();
      } catch {
        // the next dtrace reaps it
      }
    }
    this.instance = null;
    this.own = null;
    this.procInst = null;
    // only once no instance has them enabled can the kernel remove kprobe and uprobe events
    if (this.kprobeSet) this.kprobeSet.remove();
    if (this.uprobeSet) this.uprobeSet.remove();
  }
}
