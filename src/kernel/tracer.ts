// The kernel tracer: one tracefs instance per dtrace, the events providers enable in it, the
// per-CPU readers, and the dispatch of each event to its handler by event id. Polls the ring
// buffers every switchrate (default 10 ms) and reports lost events as DTrace does.

import { readEventFormat, type EventFormat } from './event-format.js';
import { ProcessTable } from './proctable.js';
import { RingReader, type EventSink } from './ringbuf.js';
import { TraceInstance, reapStaleInstances, tracefsRoot } from './tracefs.js';

/** Handles one event's record (`off`: the start of the record, common header included). */
export type EventHandler = (cpu: number, view: DataView, off: number, len: number, ts: number) => void;

function cstring(page: Uint8Array, off: number, max: number): string {
  let end = off;
  const lim = off + max;
  while (end < lim && page[end] !== 0) end++;
  return Buffer.from(page.buffer, page.byteOffset + off, end - off).toString('latin1');
}

export class KernelTracer implements EventSink {
  readonly root: string;
  readonly procs = new ProcessTable();
  private instance: TraceInstance | null = null;
  private reader: RingReader | null = null;
  private readonly handlers: Array<EventHandler | undefined> = [];
  private readonly enabled: Array<{ system: string; event: string; filter: string | null }> = [];
  private readonly formats = new Map<string, EventFormat>();
  private timer: NodeJS.Timeout | null = null;
  private pages: Uint8Array | null = null;
  private readonly droppedSeen = new Map<number, number>();
  /** called after each batch of events (to flush output) */
  onBatch: (() => void) | null = null;
  /** reports lost events: "N drops on CPU C" */
  onDrops: ((cpu: number, n: number) => void) | null = null;

  constructor() {
    this.root = tracefsRoot();
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

  /** Asks for an event, with a tracefs filter or none; `handler` gets each of its records. */
  subscribe(system: string, event: string, filter: string | null, handler: EventHandler): void {
    const f = this.format(system, event);
    const prev = this.handlers[f.id];
    if (prev) {
      // two users of one event (a provider and the process table): both see it
      this.handlers[f.id] = (c, v, o, l, t) => {
        prev(c, v, o, l, t);
        handler(c, v, o, l, t);
      };
      const e = this.enabled.find((x) => x.system === system && x.event === event);
      if (e && e.filter !== filter) e.filter = null;
      return;
    }
    this.handlers[f.id] = handler;
    this.enabled.push({ system, event, filter });
  }

  /** Creates the instance, enables the events, and starts reading. */
  start(bufferKb: number, pollMs: number): void {
    reapStaleInstances(this.root);
    this.trackProcesses();
    const inst = (this.instance = TraceInstance.create(this.root));
    inst.write('trace_options', 'nooverwrite');
    inst.setBufferSizeKb(bufferKb);
    for (const e of this.enabled) inst.enableEvent(e.system, e.event, e.filter);
    const cpus = inst.cpus();
    this.reader = new RingReader(inst, cpus, inst.subbufSize());
    this.reader.open();
    for (const c of cpus) this.droppedSeen.set(c, inst.droppedOn(c));
    inst.start();
    this.timer = setInterval(() => this.poll(), Math.max(1, pollMs));
  }

  /** Keeps the process table right: new tasks, renames, exits. */
  private trackProcesses(): void {
    const procs = this.procs;
    const nt = this.format('task', 'task_newtask');
    const ntPid = nt.fields.find((f) => f.name === 'pid')!.offset;
    const ntComm = nt.fields.find((f) => f.name === 'comm')!.offset;
    const ntFlags = nt.fields.find((f) => f.name === 'clone_flags')!.offset;
    this.subscribe('task', 'task_newtask', null, (_c, v, o) => {
      const page = new Uint8Array(v.buffer);
      procs.newTask(v.getInt32(o + 4, true), v.getInt32(o + ntPid, true), cstring(page, o + ntComm, 16), v.getBigUint64(o + ntFlags, true));
    });
    const rn = this.format('task', 'task_rename');
    const rnPid = rn.fields.find((f) => f.name === 'pid')?.offset;
    const rnComm = rn.fields.find((f) => f.name === 'newcomm')!.offset;
    this.subscribe('task', 'task_rename', null, (_c, v, o) => {
      const tid = rnPid !== undefined ? v.getInt32(o + rnPid, true) : v.getInt32(o + 4, true);
      procs.rename(tid, cstring(new Uint8Array(v.buffer), o + rnComm, 16));
    });
    this.subscribe('sched', 'sched_process_exit', null, (_c, v, o) => procs.exit(v.getInt32(o + 4, true)));
  }

  private poll(): void {
    if (!this.reader) return;
    const n = this.reader.drain(this);
    if (n > 0 && this.onBatch) this.onBatch();
    this.checkDrops();
  }

  /** Nanoseconds of the reader's time base (events' `ts` are relative to it). */
  get base(): bigint {
    return this.reader ? this.reader.base : 0n;
  }

  event(cpu: number, page: Uint8Array, view: DataView, off: number, len: number, ts: number): void {
    void page;
    const h = this.handlers[view.getUint16(off, true)];
    if (h !== undefined) h(cpu, view, off, len, ts);
  }

  private checkDrops(): void {
    const inst = this.instance;
    if (!inst || !this.onDrops) return;
    for (const [cpu, seen] of this.droppedSeen) {
      const now = inst.droppedOn(cpu);
      if (now > seen) {
        this.droppedSeen.set(cpu, now);
        this.onDrops(cpu, now - seen);
      }
    }
  }

  /** Reads what is left, then removes everything this tracer created. Safe to call twice. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.instance) this.instance.stop();
    if (this.reader) {
      try {
        while (this.reader.drain(this) > 0) {
          // keep draining until the buffers are empty
        }
        this.checkDrops();
      } finally {
        this.reader.close();
        this.reader = null;
      }
    }
    this.teardown();
  }

  /** Removes the instance without reading (error and signal paths). */
  teardown(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.reader) {
      this.reader.close();
      this.reader = null;
    }
    if (this.instance) {
      try {
        this.instance.remove();
      } catch {
        // the next dtrace reaps it
      }
      this.instance = null;
    }
    void this.pages;
  }
}
