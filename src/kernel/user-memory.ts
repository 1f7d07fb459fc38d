// User memory as it was when a probe fired. Where BPF works, the events whose pointer fields
// D code may read come from a capture program on their tracepoint (bpf/capture.ts) rather than
// from tracefs: each record carries copies of the strings and buffers its fields point to,
// taken as the probe fired, and those are handed to D code with it. They are also kept per
// thread, so a later probe (a syscall's return) can copyinstr() the same address. Other
// addresses, and every address where BPF does not work, are read through /proc when the event
// is handled; lateReads counts those reads so the user can be told.

import { closeSync, openSync, readSync } from 'node:fs';
import { type CaptureLayout, type CaptureSpec, type CaptureValues, type RegisterField, type SyscallRoute, TracepointCapture, type UprobeSite, type UserCopy } from './bpf/capture.js';
import { type RecordTest, recordFilter } from './bpf/record-filter.js';
import { SYSCALL_DISPATCH_MIN } from './bpf/syscall-dispatch.js';
import { bpfUnavailable } from './bpf/sys.js';
import type { EventFormat } from './event-format.js';
import { compatSyscallFlag, syscallNumbers } from './syscall-numbers.js';
import type { EventSource } from './ringbuf.js';

/**
 * Bytes copied past a record's fixed fields when it has __data_loc ones (their text follows
 * them: a device's name, IFNAMSIZ); longer text is cut.
 */
const DATA_LOC_BYTES = 64;

/** Copies kept per thread for later probes. */
const PER_THREAD = 8;

/** A thread's last PER_THREAD copies, in a ring. */
class RecentCopies {
  private readonly addrs: bigint[] = new Array<bigint>(PER_THREAD).fill(-1n);
  private readonly texts: string[] = new Array<string>(PER_THREAD).fill('');
  private next = 0;

  add(addr: bigint, text: string): void {
    this.addrs[this.next] = addr;
    this.texts[this.next] = text;
    this.next = (this.next + 1) % PER_THREAD;
  }

  /** The newest copy of `addr`, if one is kept. */
  find(addr: bigint): string | undefined {
    for (let k = 1; k <= PER_THREAD; k++) {
      const i = (this.next - k + PER_THREAD) % PER_THREAD;
      if (this.addrs[i] === addr) return this.texts[i];
    }
    return undefined;
  }
}

/** The copies that came with one record, in the order want() gave (reused from record to record). */
export class RecordCopies {
  n = 0;
  /** the user address of each copy (-1: a command line, which no address finds) */
  readonly addrs: bigint[] = [];
  /** the bytes as a latin1 string (null: the memory could not be read when the probe fired) */
  readonly texts: Array<string | null> = [];
}

/** What is copied for one event. */
interface Wanted {
  format: EventFormat;
  copies: UserCopy[];
  /** its records carry the copies to D code */
  output: boolean;
  /** a system call's entry whose pointers its return copies again */
  keepForReturn: boolean;
  /** a probe wants its records (else only dtrace's own bookkeeping does) */
  probes: boolean;
  /** a return event: the entry whose pointers it copies */
  entry?: Wanted;
  /** values its program computes into each record */
  values: CaptureValues[];
  /** a kprobe or uprobe event: its record's fields from the registers (wantRegisters) */
  registers?: RegisterField[];
  /** a uprobe event's instruction, for events whose records are wanted from their registers (wantRecords) */
  uprobe?: UprobeSite;
  /** values worth capturing the event for only while few events are (wantOptionalValues) */
  optional: Array<{ values: CaptureValues; area: OptionalArea }>;
}

/** Where an optional value's area is from valuesAt()'s offset, once tracing starts (-1: not computed). */
export class OptionalArea {
  at = -1;
}

/**
 * The most events captured only for optional values that need a perf event each: each takes
 * an RCU grace period to close, one after another (~40 ms here), so 350 would make dtrace take
 * half a minute to exit; past this many, such events come from tracefs. System calls' events
 * are not counted: where many are captured, raw_syscalls' program runs their programs (none
 * needs a perf event of its own), and fewer than SYSCALL_DISPATCH_MIN a direction cost little.
 */
export const MAX_OPTIONAL_CAPTURES = 16;

export class UserMemory {
  private capture: TracepointCapture | null = null;
  private readonly specs: Wanted[] = [];
  /** the captured events' specs, by event id */
  private readonly specById: Array<Wanted | undefined> = [];
  /** per thread: recent copies */
  private readonly recent = new Map<number, RecentCopies>();
  private readonly taken = new RecordCopies();
  /** why copies cannot be taken when probes fire (null: they can, or none were asked for) */
  unavailable: string | null = null;
  /** reads through /proc of memory no probe copied as it fired, while copies are taken */
  lateReads = 0;

  /**
   * Asks for copies of what an event's pointer fields point to, when it fires; returns where
   * each copy is in what take() gives (users of one event share its copies).
   */
  want(format: EventFormat, copies: UserCopy[], bookkeeping = false): number[] {
    const spec = this.wanted(format);
    spec.output = true;
    if (!bookkeeping) spec.probes = true;
    return this.add(spec, copies);
  }

  /**
   * Asks for a system call's return event to come with copies of what its entry's pointer
   * fields point to, taken when it returns (the memory is there then: the call has used it).
   */
  wantAtReturn(entry: EventFormat, exit: EventFormat, copies: UserCopy[]): void {
    const e = this.wanted(entry);
    e.keepForReturn = true;
    this.add(e, copies);
    const x = this.wanted(exit);
    x.output = true;
    x.probes = true;
    x.entry = e;
  }

  /**
   * Asks for an event's records to come with values its program computes as it fires; returns
   * where each one's area is, from valuesAt()'s offset.
   */
  wantValues(format: EventFormat, values: CaptureValues[]): number[] {
    const spec = this.wanted(format);
    spec.output = true;
    spec.probes = true;
    let at = spec.values.reduce((n, v) => n + ((v.bytes + 7) & ~7), 0);
    return values.map((v) => {
      spec.values.push(v);
      const here = at;
      at += (v.bytes + 7) & ~7;
      return here;
    });
  }

  /**
   * Says that an event is a kprobe's or uprobe's, whose program sees registers: if it is captured,
   * its program writes each of the record's fields from one.
   */
  wantRegisters(format: EventFormat, fields: RegisterField[]): void {
    this.wanted(format).registers = fields;
  }

  /**
   * Asks for a uprobe event's records to be written by a capture program from the registers,
   * even with nothing computed as it fires: such events of one object share one program on one
   * uprobe_multi link where the kernel has them (one perf event each takes a grace period to close).
   */
  wantRecords(format: EventFormat, fields: RegisterField[], uprobe: UprobeSite): void {
    const spec = this.wanted(format);
    spec.registers = fields;
    spec.uprobe = uprobe;
    spec.output = true;
    spec.probes = true;
  }

  /**
   * Asks for an event's records to come with values its program computes as it fires, if it is
   * captured anyway or few events are captured for such values alone (MAX_OPTIONAL_CAPTURES);
   * the area says where, once tracing starts.
   */
  wantOptionalValues(format: EventFormat, values: CaptureValues): OptionalArea {
    const area = new OptionalArea();
    this.wanted(format).optional.push({ values, area });
    return area;
  }

  /** Where a captured event's computed values are, from its record's start; -1: its records are not captured. */
  valuesAt(eventId: number): number {
    const layout = this.capture?.layoutById[eventId];
    return layout === undefined ? -1 : layout.valuesAt - layout.recordAt;
  }

  private wanted(format: EventFormat): Wanted {
    let spec = this.specs.find((s) => s.format.id === format.id);
    if (!spec) this.specs.push((spec = { format, copies: [], output: false, keepForReturn: false, probes: false, values: [], optional: [] }));
    return spec;
  }

  private add(spec: Wanted, copies: UserCopy[]): number[] {
    const all = spec.copies;
    return copies.map((c) => {
      const i = all.findIndex((x) => x.ptrOffset === c.ptrOffset && x.argvSlots === c.argvSlots && x.countOffset === c.countOffset && sameKernel(x, c) && (x.kernel === undefined || x.maxLen === c.maxLen));
      if (i >= 0) return i;
      all.push(c);
      return all.length - 1;
    });
  }

  /** Whether this event's records come from the capture, with their copies (not from tracefs). */
  captures(eventId: number): boolean {
    return this.capture !== null && this.capture.layoutById[eventId] !== undefined;
  }

  /** dtrace -S: shown each capture program on raw_syscalls (TracepointCapture.showProgram) */
  showProgram: ((event: string, calls: number, programs: number, listing: string) => void) | null = null;

  /**
   * Loads the capture programs, with `ringBytes` of ring per CPU; returns the source of the
   * captured events, or null where BPF cannot do it (`unavailable` says why). `rawSyscalls`
   * gives raw_syscalls' sys_enter and sys_exit, if the kernel has them.
   */
  start(
    cpus: number[],
    base: bigint,
    ringBytes: number,
    capturable: (eventId: number) => boolean,
    filterOf: (eventId: number) => string | null = () => null,
    processOf: (eventId: number) => number = () => 0,
    refused: (eventId: number) => void = () => undefined,
    rawSyscalls: (event: string) => EventFormat | null = () => null,
  ): EventSource | null {
    const optionalOnly = this.specs.filter((s) => !s.output && s.optional.length > 0 && capturable(s.format.id));
    const ownEvents = optionalOnly.filter((s) => syscallOf(s.format) === null).length;
    for (const s of optionalOnly) {
      if (ownEvents <= MAX_OPTIONAL_CAPTURES || syscallOf(s.format) !== null) s.output = s.probes = true;
    }
    for (const s of this.specs) {
      if (!s.output) continue;
      // after the others': their areas are fixed already
      let at = s.values.reduce((n, v) => n + ((v.bytes + 7) & ~7), 0);
      for (const o of s.optional) {
        s.values.push(o.values);
        o.area.at = at;
        at += (o.values.bytes + 7) & ~7;
      }
      s.optional = [];
    }
    for (const s of this.specs) {
      s.output &&= capturable(s.format.id);
      // a return copies what its entry's pointers point to
      if (s.entry !== undefined) s.copies = s.entry.copies;
    }
    const specs = this.specs.filter((s) => s.output || s.keepForReturn);
    if (!specs.some((s) => s.output)) return null;
    const why = bpfUnavailable();
    if (why !== null) {
      this.unavailable = why;
      return null;
    }
    const routes = syscallRoutes(specs, rawSyscalls);
    const cap = new TracepointCapture(cpus, ringBytes);
    cap.onRefused = refused;
    cap.setBase(base);
    cap.showProgram = this.showProgram;
    const made = new Map<Wanted, CaptureSpec>();
    const specOf = (s: Wanted): CaptureSpec => {
      let spec = made.get(s);
      if (spec === undefined) {
        const route = routes.get(s);
        spec = {
          tracepointId: s.format.id,
          recordSize: route?.recordSize ?? recordEnd(s.format) + (s.format.fields.some((x) => x.dataLoc) ? DATA_LOC_BYTES : 0),
          copies: s.copies,
          output: s.output,
          keepForReturn: s.keepForReturn,
          bookkeeping: !s.probes,
          entry: s.entry !== undefined ? specOf(s.entry) : undefined,
          values: s.values,
          registers: s.registers,
          process: processOf(s.format.id),
          uprobe: s.uprobe,
          // the event's tracefs filter, which its records bypass (not dtrace's own bookkeeping's)
          filter: s.probes ? filterTests(filterOf(s.format.id), s.format) : undefined,
          syscall: route,
        };
        made.set(s, spec);
      }
      return spec;
    };
    for (const s of specs) {
      if (s.output) this.specById[s.format.id] = s;
      cap.add(specOf(s));
    }
    try {
      cap.start();
      this.capture = cap;
      return cap;
    } catch (e) {
      this.unavailable = (e as Error).message.split('\n')[0];
      return null;
    }
  }

  /**
   * The copies that came with a captured record (the tracepoint's record at `off` in `page`,
   * which `view` views; thread `tid`), also remembered per thread; valid until the next call.
   */
  take(tid: number, eventId: number, page: Buffer, view: DataView, off: number): RecordCopies {
    const out = this.taken;
    out.n = 0;
    const layout = this.capture?.layoutById[eventId];
    const spec = this.specById[eventId];
    if (layout === undefined || spec === undefined) return out;
    const at = off - layout.recordAt;
    let mine = this.recent.get(tid);
    for (let j = 0; j < spec.copies.length; j++) {
      const c = spec.copies[j];
      if (c.kernel !== undefined || c.file !== undefined) {
        // kernel memory: for the provider that asked (kernelCopyAt), no user address
        out.addrs[j] = -1n;
        out.texts[j] = null;
        continue;
      }
      const len = view.getInt32(at + layout.lenAt[j], true);
      let text: string | null = null;
      if (c.argvSlots) {
        out.addrs[j] = -1n;
        if (len >= 0) text = argvOf(page, at + layout.dataAt[j], Math.min(len, c.argvSlots), c.maxLen);
      } else {
        const addr = view.getBigUint64(at + layout.addrAt[j], true);
        out.addrs[j] = addr;
        // len < 0: unreadable when the probe fired (reading it later faults, or is a late read)
        if (len >= 0) {
          // as a string: a copy of its own (the page is reused) that copyinstr() uses as it is,
          // kept for later probes
          const from = at + layout.dataAt[j];
          text = page.toString('latin1', from, from + Math.min(len, c.maxLen));
          if (!mine) this.recent.set(tid, (mine = new RecentCopies()));
          mine.add(addr, text);
        }
      }
      out.texts[j] = text;
    }
    out.n = spec.copies.length;
    return out;
  }

  /**
   * Where the bytes of copy `j` (a kernel copy want() placed there) of a captured record are
   * in `view` (the tracepoint's record at `off`), or -1: the record came from tracefs (no BPF),
   * or the memory could not be read when the probe fired.
   */
  kernelCopyAt(eventId: number, view: DataView, off: number, j: number): number {
    const layout = this.capture?.layoutById[eventId];
    if (layout === undefined || j < 0 || j >= layout.lenAt.length) return -1;
    const at = off - layout.recordAt;
    return view.getInt32(at + layout.lenAt[j], true) < 0 ? -1 : at + layout.dataAt[j];
  }

  /**
   * Where a file copy (UserCopy.file) of a captured record is in `view`: -1, none (the record
   * came from tracefs, or a read faulted when the probe fired); -2, no file was open on the
   * descriptor; else the offset of its bytes (FILE_POS...).
   */
  fileCopyAt(eventId: number, view: DataView, off: number, j: number): number {
    const layout = this.capture?.layoutById[eventId];
    if (layout === undefined || j < 0 || j >= layout.lenAt.length) return -1;
    const at = off - layout.recordAt;
    const len = view.getInt32(at + layout.lenAt[j], true);
    return len < 0 ? -1 : len === 0 ? -2 : at + layout.dataAt[j];
  }

  /** Where a captured record's copies are, around the record (its layout), for tests. */
  layoutOf(eventId: number): CaptureLayout | undefined {
    return this.capture?.layoutById[eventId];
  }

  /**
   * Up to `size` bytes of a thread's memory at addr, as a latin1 string: a copy taken when a
   * probe fired on it, or else what /proc shows now; fewer if the memory ends; null if none can
   * be read.
   */
  read(tid: number, addr: bigint, size: number): string | null {
    const found = this.recent.get(tid)?.find(addr);
    if (found !== undefined) return found.length > size ? found.slice(0, size) : found;
    const b = readProcMem(tid, addr, size);
    if (b === null) return null;
    if (this.capture !== null) this.lateReads++;
    return b.toString('latin1');
  }

  forget(tid: number): void {
    this.recent.delete(tid);
  }

  /**
   * Captured records the kernel could not write, by CPU (their rings were full), since the
   * start: the probes' or (`bookkeeping`) those only dtrace's own bookkeeping wanted.
   */
  lost(bookkeeping = false): number[] {
    return this.capture ? this.capture.lost(bookkeeping) : [];
  }

  /** Stops taking copies (and captured events); what was taken can still be read. */
  stop(): void {
    this.capture?.stop();
  }

  close(): void {
    this.capture?.close();
    this.capture = null;
  }
}

function sameKernel(a: UserCopy, b: UserCopy): boolean {
  const x = a.kernel;
  const y = b.kernel;
  if ((a.file === undefined) !== (b.file === undefined)) return false;
  if (x === undefined || y === undefined) return x === y;
  return x.at === y.at && x.deref === y.deref && x.plusU16 === y.plusU16 && x.deref0 === y.deref0;
}

/** The copied arguments, joined by spaces as a command line (psargs) shows them. */
function argvOf(page: Buffer, at: number, count: number, maxLen: number): string {
  const slot = (maxLen + 7) & ~7;
  const args: string[] = [];
  for (let k = 0; k < count; k++) {
    const from = at + k * slot;
    const nul = page.indexOf(0, from);
    args.push(page.toString('latin1', from, nul >= 0 && nul < from + maxLen ? nul : from + maxLen));
  }
  return args.join(' ');
}

function readProcMem(tid: number, addr: bigint, size: number): Buffer | null {
  if (addr === 0n || size <= 0) return null;
  let fd = -1;
  try {
    fd = openSync(`/proc/${tid}/mem`, 'r');
    const buf = Buffer.allocUnsafe(size);
    const n = readSync(fd, buf, 0, size, addr);
    return n > 0 ? buf.subarray(0, n) : null;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** The system call an event is the entry or return of (syscalls:sys_enter_<name>, sys_exit_<name>), with its number; null if none, or its number is not known. */
function syscallOf(format: EventFormat): { event: string; nr: number } | null {
  const m = format.system === 'syscalls' ? /^sys_(enter|exit)_(\w+)$/.exec(format.name) : null;
  const nr = m === null ? undefined : syscallNumbers().get(m[2]);
  return nr === undefined ? null : { event: `sys_${m![1]}`, nr };
}

/** Where an event's record ends (its last field's end). */
function recordEnd(format: EventFormat): number {
  const last = format.fields.at(-1);
  return last ? last.offset + last.size : 8;
}

/**
 * The system calls' events whose programs run from raw_syscalls' (SyscallRoute): where enough
 * of one direction are captured for that to pay, those whose records raw_syscalls' event's
 * holds as they are (no __data_loc text, no more arguments), where 32-bit calls can be told.
 */
function syscallRoutes(specs: readonly Wanted[], rawSyscalls: (event: string) => EventFormat | null): Map<Wanted, SyscallRoute> {
  const routes = new Map<Wanted, SyscallRoute>();
  const compat = compatSyscallFlag();
  if (compat === null) return routes;
  for (const event of ['sys_enter', 'sys_exit']) {
    const raw = rawSyscalls(event);
    if (raw === null) continue;
    const members: Array<[Wanted, SyscallRoute]> = [];
    for (const s of specs) {
      const call = syscallOf(s.format);
      if (call === null || call.event !== event || s.format.fields.some((f) => f.dataLoc) || recordEnd(s.format) > recordEnd(raw)) continue;
      members.push([s, { rawTracepointId: raw.id, rawEvent: event, recordSize: recordEnd(raw), nr: call.nr, compat }]);
    }
    if (members.length >= SYSCALL_DISPATCH_MIN) for (const [s, r] of members) routes.set(s, r);
  }
  return routes;
}

/** A tracefs filter as a capture program's tests (undefined: none, or one it cannot make). */
function filterTests(filter: string | null, format: EventFormat): RecordTest[][] | undefined {
  if (filter === null) return undefined;
  return recordFilter(filter, format) ?? undefined;
}
