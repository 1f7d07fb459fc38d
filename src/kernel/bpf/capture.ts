// Tracepoint events with copies of user memory taken as they fire: a small BPF program per
// tracepoint copies the event's record and the strings or buffers some of its fields point to,
// and hands them to user space through a per-CPU perf buffer. Such a record is the event: its
// copies travel with it, so copyinstr() sees what the memory held at that moment (read
// afterwards through /proc it has often changed, or the process is gone), and a record the
// ring could not hold is lost whole and counted, never handed over without its copies. Where
// many system calls' events are captured, their programs run from one program on raw_syscalls'
// sys_enter or sys_exit instead of a perf event each (SyscallRoute).

import type { EventQueue, EventSink, EventSource } from '../ringbuf.js';
import { PERF_RECORD_SAMPLE, type PerfRecordSink, type PerfRing, PerfRings, copyBytes } from '../perf-ring.js';
import type { RecordTest } from './record-filter.js';
import { Alu, CURRENT_CPU, Helper, Jmp, Program, R0, R1, R10, R2, R3, R4, R5, R6, R7, R8, R9 } from './asm.js';
import { SYSCALL_NR_OFFSET, loadSyscallNumber, skipCompatCall } from './syscall-dispatch.js';
import type { TaskFlag } from '../syscall-numbers.js';
import {
  BPF_MAP_TYPE_ARRAY,
  BPF_MAP_TYPE_HASH,
  BPF_MAP_TYPE_PERCPU_ARRAY,
  BPF_MAP_TYPE_PERF_EVENT_ARRAY,
  BPF_MAP_TYPE_PROG_ARRAY,
  BPF_PROG_TYPE_KPROBE,
  BPF_PROG_TYPE_RAW_TRACEPOINT,
  BPF_TRACE_UPROBE_MULTI,
  BpfObjects,
  ProgramRejected,
  mapLookup,
  mapUpdate,
  possibleCpus,
  uprobeMultiSupported,
} from './objects.js';
import { PERF_ATTR_SIZE, PERF_TYPE_SOFTWARE } from './sys.js';

/** One piece of user memory a field points to. */
export interface UserCopy {
  /** offset in the record of the 8-byte user pointer */
  ptrOffset: number;
  /** at most this many bytes (a string's NUL included) */
  maxLen: number;
  /** a buffer whose length is this field (4 or 8 bytes), rather than a NUL-terminated string */
  countOffset?: number;
  countSize?: 4 | 8;
  /**
   * The pointer is to an array of string pointers ending in NULL (execve's argv): copy the
   * first argvSlots strings, maxLen bytes each. The length slot holds how many were copied.
   */
  argvSlots?: number;
  /**
   * Kernel memory rather than user memory (bpf_probe_read_kernel): from the field's pointer,
   * or (`deref`) from the pointer read at that pointer + deref, plus (`plusU16`) the u16 read at
   * the field's pointer + plusU16 (an sk_buff's head + network_header), plus `at`; with `deref0`,
   * from the pointer read at the field's pointer + deref0 instead of the field's pointer. The copy is
   * maxLen bytes, or none (length -1) if any read faults.
   */
  kernel?: KernelCopy;
  /**
   * The open file of the current process whose descriptor is the record's field at ptrOffset
   * (an int of countSize bytes; fds[fd] at firing time): FILE_COPY's bytes. Its length: maxLen,
   * 0 if no file is open there, -1 if a read faulted.
   */
  file?: FileCopy;
}

/** Where the kernel's structures place what a file copy reads (from BTF). */
export interface FileCopy {
  /** task_struct.files, files_struct.fdt, fdtable.max_fds and .fd */
  files: number;
  fdt: number;
  maxFds: number;
  fd: number;
  /** file.f_pos, .f_flags, .f_path.dentry, .f_path.mnt */
  pos: number;
  flags: number;
  dentry: number;
  mnt: number;
  /** dentry.d_name.name; vfsmount.mnt_sb; super_block.s_type; file_system_type.name */
  dname: number;
  sb: number;
  stype: number;
  fsname: number;
  /**
   * The path, walked up from f_path.dentry by d_parent and across mounts (struct mount: its
   * vfsmount `mnt`, `mntParent`, `mntMountpoint`; vfsmount.mnt_root) to the namespace's root,
   * at most FILE_PATH_SLOTS steps, each name at most FILE_COMPONENT_BYTES (absent: not walked).
   */
  walk?: { dparent: number; mountMnt: number; mntParent: number; mntMountpoint: number; mntRoot: number };
}

/** A file copy's bytes: [u64 f_pos][u32 f_flags][u32 0][name: FILE_NAME_BYTES][fs type: FILE_FS_BYTES]. */
export const FILE_POS = 0;
export const FILE_FLAGS = 8;
export const FILE_NAME = 16;
export const FILE_NAME_BYTES = 256;
export const FILE_FS = FILE_NAME + FILE_NAME_BYTES;
export const FILE_FS_BYTES = 32;
/** i32: how many of the path's slots were walked to the root (-1: the walk did not reach it) */
export const FILE_DEPTH = FILE_FS + FILE_FS_BYTES;
/** the path's names from the file up, a slot each (an empty one: a mount crossed) */
export const FILE_PATH = FILE_DEPTH + 8;
export const FILE_PATH_SLOTS = 16;
export const FILE_COMPONENT_BYTES = 64;
export const FILE_COPY_BYTES = FILE_PATH + FILE_PATH_SLOTS * FILE_COMPONENT_BYTES;

/** Where a kernel copy starts (UserCopy.kernel). */
export interface KernelCopy {
  /** first, the pointer read at the field's pointer + deref0 (a socket's last queued sk_buff) */
  deref0?: number;
  deref?: number;
  plusU16?: number;
  at: number;
}

/**
 * Code that computes values into the record as the probe fires (D's firing values): `bytes` of
 * area, filled by `emit`, which finds the record's base pointer saved on the stack at `baseAt`
 * and its area `areaAt` bytes past that base; R6 holds the context, and it may use any other
 * register and the stack above baseAt.
 */
export interface CaptureValues {
  bytes: number;
  emit(p: Program, baseAt: number, areaAt: number): void;
}

/** where a program that computes values keeps the record's base pointer (the stack's last word) */
const VALUES_BASE_AT = -512;

export interface CaptureSpec {
  /** events/<system>/<event>/id */
  tracepointId: number;
  /** bytes of the record to copy (its format's fields end there) */
  recordSize: number;
  copies: UserCopy[];
  /** its records are events (false: the program only keeps the record for a return's copies) */
  output: boolean;
  /** keep each thread's record for the return event's copies (a system call's entry) */
  keepForReturn: boolean;
  /** only dtrace's own bookkeeping wants its records: a loss is counted apart from the probes' */
  bookkeeping: boolean;
  /**
   * A return event (a system call's exit): `copies` point into this entry's record, kept by
   * the entry's program, and are taken again now, when the memory is surely there (the call
   * has touched it; a read() has filled its buffer).
   */
  entry?: CaptureSpec;
  /**
   * A raw tracepoint (its name, and how many u64 arguments it has) rather than a tracefs event:
   * the record is [u32 spec index, u32 thread, u32 process, u32 0, u64 args...] (RAW_*), and
   * tracepointId, copies and the return fields are unused.
   */
  raw?: { tracepoint: string; args: number; filter?: RawTest[][] };
  /** values computed as the probe fires, one area after another from the layout's valuesAt */
  values?: CaptureValues[];
  /** only records one of whose ANDs of tests holds are sent (the event's tracefs filter; not for one kept for a return) */
  filter?: RecordTest[][];
  /**
   * A kprobe or uprobe event: its program sees the registers (pt_regs), not the record, and
   * writes each of the record's fields from a register (copies and a return's entry unused)
   */
  registers?: RegisterField[];
  /** a uprobe event of one process: its program runs in that process only (0 or absent: every one) */
  process?: number;
  /**
   * A uprobe event's instruction: uprobe events of one process and object whose records are
   * written alike share one program on one uprobe_multi link (Linux 6.6+), which tells them
   * apart by their cookies, instead of a perf event each
   */
  uprobe?: UprobeSite;
  /**
   * A system call's event (syscalls:sys_enter_<name> or sys_exit_<name>) whose program runs
   * from the one on raw_syscalls' event rather than from a perf event of its own
   */
  syscall?: SyscallRoute;
}

/**
 * Where a system call's capture program runs from: the program on raw_syscalls' sys_enter or
 * sys_exit (`rawTracepointId`), whose records are laid out as the call's own, finds it by the
 * call's number `nr` in a table of programs and passes the record on to it (a tail call). Two
 * perf events then serve every system call: each perf event takes an RCU grace period to
 * close, one after another, so one per call made dtrace take half a minute to exit.
 */
export interface SyscallRoute {
  rawTracepointId: number;
  /** raw_syscalls' event: sys_enter or sys_exit */
  rawEvent: string;
  /**
   * bytes of its record (the call's number and the six arguments, or the return value): the
   * spec's recordSize, so that calls whose programs differ in nothing else share one
   */
  recordSize: number;
  nr: number;
  /** how a 32-bit call is told (its number is another table's; the calls' own events leave those out) */
  compat: TaskFlag;
}

/**
 * A uprobe event's instruction: the object's path, the offset in it, whether it is a return
 * probe, and a USDT probe's semaphore as a file offset (absent or 0: none), which the kernel
 * counts for the link as for the event (it refuses a second uprobe on the instruction with
 * another semaphore).
 */
export interface UprobeSite {
  path: string;
  offset: number;
  isReturn: boolean;
  refCtrOffset?: number;
}

/**
 * A field of a kprobe or uprobe event's record (`at`, `size` bytes) and the pt_regs offset of
 * the register it holds; with `memoryAt`, the field is the memory at the address the register
 * holds plus that many bytes: user memory (an argument the caller passed on the stack, a USDT
 * argument in memory), or with `kernelMemory` the kernel's (a system call wrapper's argument).
 */
export interface RegisterField {
  at: number;
  size: 1 | 2 | 4 | 8;
  reg: number;
  memoryAt?: number;
  kernelMemory?: true;
}

/**
 * A test a raw tracepoint's program makes before it sends a record: the thread's process, the
 * thread, the CPU or an argument (by index; as int64) compared with a constant. A filter is an
 * OR of ANDs of them (a record no AND holds for is not sent).
 */
export interface RawTest {
  what: 'pid' | 'tid' | 'cpu' | number;
  op: '==' | '!=' | '<' | '<=' | '>' | '>=';
  /** a 32-bit signed constant */
  value: number;
}

/** The jump taken when a test does not hold. */
const FAILS: Record<RawTest['op'], Jmp> = { '==': Jmp.Ne, '!=': Jmp.Eq, '<': Jmp.Sge, '<=': Jmp.Sgt, '>': Jmp.Sle, '>=': Jmp.Slt };

/** A raw tracepoint's record: where its spec's index, thread, process and arguments are. */
export const RAW_INDEX = 0;
export const RAW_TID = 4;
export const RAW_PID = 8;
export const RAW_ARGS = 16;

/**
 * Where things are in a captured record (offsets from the start of our data): a header of
 * [u64 ktime, u32 spec index, u32 thread id], the copies' lengths and addresses, the record,
 * the copies.
 */
export interface CaptureLayout {
  recordAt: number;
  /** the computed values' areas (CaptureSpec.values), after the record */
  valuesAt: number;
  /** for each copy: its length (i32: bytes copied, a string's NUL included; < 0: unreadable) */
  lenAt: number[];
  /** for each copy: the user address it was taken from (u64) */
  addrAt: number[];
  /** for each copy: its bytes */
  dataAt: number[];
  size: number;
}

/** threads that can be inside one traced system call at once, for the kept entry records */
const KEPT_THREADS = 4096;
const PERF_COUNT_SW_BPF_OUTPUT = 10;
const PERF_SAMPLE_RAW = 1 << 10;
const ATTR_FLAG_WATERMARK = 1n << 14n;
const HEADER = 16;
const PAGE = 4096;

function align8(n: number): number {
  return (n + 7) & ~7;
}

function layoutOf(spec: CaptureSpec): CaptureLayout {
  const lenAt = spec.copies.map((_, j) => HEADER + j * 4);
  const addrsAt = align8(HEADER + spec.copies.length * 4);
  const addrAt = spec.copies.map((_, j) => addrsAt + j * 8);
  const recordAt = addrsAt + spec.copies.length * 8;
  const valuesAt = recordAt + align8(spec.recordSize);
  let at = valuesAt;
  for (const v of spec.values ?? []) at += align8(v.bytes);
  const dataAt = spec.copies.map((c) => {
    const here = at;
    // an argv copy: the strings' slots, then the pointers read from the array
    at += c.argvSlots ? c.argvSlots * (align8(c.maxLen) + 8) : align8(c.maxLen);
    return here;
  });
  return { recordAt, valuesAt, lenAt, addrAt, dataAt, size: at };
}

/** The maps a capture program uses. */
interface ProgramMaps {
  scratch: number;
  perf: number;
  lost: number;
  /** each thread's entry record, kept for the return (the spec's, or its entry's) */
  kept: number;
  /**
   * A system call's program, run from raw_syscalls' (SyscallRoute): the table of each call's
   * spec index and event id by the call's number (CALL_*), where the program finds its own, so
   * that calls whose programs differ only in those share one
   */
  calls?: number;
}

/** A system call's entry in ProgramMaps.calls: u32 spec index, u32 event id. */
const CALL_INDEX = 0;
const CALL_EVENT = 4;
const CALL_BYTES = 8;

/** where a uprobe_multi program keeps its cookie until the record's header is written */
const COOKIE_AT = -16;

/**
 * Every capture program's start: R6 the context, R7 this CPU's scratch record with [ktime,
 * index] (index null: not yet); `p`: code before it (that leaves R1 the context).
 */
function begin(index: number | null, maps: ProgramMaps, p = new Program()): Program {
  p
    .mov(R6, R1)
    .storeImm(4, R10, -4, 0)
    .loadMap(R1, maps.scratch)
    .mov(R2, R10)
    .addImm(R2, -4)
    .call(Helper.MapLookupElem)
    .jeqImm(R0, 0, 'out')
    .mov(R7, R0)
    .call(Helper.KtimeGetNs)
    .store(8, R7, 0, R0);
  return index === null ? p : p.storeImm(4, R7, 8, index);
}

/**
 * The program for one spec: [ktime, index][lengths][addresses][record][copies] into the perf
 * buffer, as long as the last copy needs; a record the buffer cannot take is counted in the
 * lost map (per CPU). A system call's entry may keep its record for the return's copies.
 */
function program(spec: CaptureSpec, index: number, layout: CaptureLayout, maps: ProgramMaps): Buffer {
  if (spec.raw !== undefined) return rawProgram(spec.raw.args, spec.raw.filter ?? [], spec.values ?? [], index, layout, maps);
  if (spec.registers !== undefined) return registersProgram(spec, index, layout, maps);
  const calls = maps.calls;
  const p = begin(calls === undefined ? index : null, maps);
  p.mov(R1, R7).addImm(R1, layout.recordAt).movImm(R2, spec.recordSize).mov(R3, R6).call(Helper.ProbeReadKernel);
  // the kernel keeps a pointer where the record's common fields were: put back its type and
  // the thread, so the copy reads like the tracefs record
  if (calls === undefined) p.storeImm(2, R7, layout.recordAt, spec.tracepointId);
  else {
    // the index and the type are the call's, by its number (raw_syscalls' record holds it as the call's does)
    p.load(4, R1, R6, SYSCALL_NR_OFFSET).store(4, R10, -8, R1).loadMap(R1, calls).mov(R2, R10).addImm(R2, -8).call(Helper.MapLookupElem).jeqImm(R0, 0, 'out');
    p.load(4, R1, R0, CALL_INDEX).store(4, R7, 8, R1).load(4, R1, R0, CALL_EVENT).store(2, R7, layout.recordAt, R1);
  }
  p.call(Helper.GetCurrentPidTgid)
    .store(4, R7, 12, R0)
    .store(4, R7, layout.recordAt + 4, R0)
    // the thread, as the key of the kept entry records
    .store(4, R10, -8, R0);
  if (spec.keepForReturn) {
    p.loadMap(R1, maps.kept)
      .mov(R2, R10)
      .addImm(R2, -8)
      .mov(R3, R7)
      .addImm(R3, layout.recordAt)
      .movImm(R4, 0)
      .call(Helper.MapUpdateElem);
    // only kept: no record of its own (the verifier refuses code that cannot be reached)
    if (!spec.output) return p.label('out').movImm(R0, 0).exit().encode();
  }
  if (spec.filter !== undefined && spec.filter.length > 0 && !spec.keepForReturn) recordTests(p, spec.filter, layout.recordAt);
  // the pointers are the record's, or (at a return) those of the entry record kept for it
  let base = R6;
  if (spec.entry !== undefined) {
    base = R9;
    p.loadMap(R1, maps.kept).mov(R2, R10).addImm(R2, -8).call(Helper.MapLookupElem).mov(R9, R0).jeqImm(R9, 0, 'noEntry');
    // kept with other calls' entries: this call's (its entry's program did not run if it began before tracing)
    if (spec.entry.syscall !== undefined) p.load(4, R1, R9, SYSCALL_NR_OFFSET).load(4, R2, R6, SYSCALL_NR_OFFSET).jmp(Jmp.Ne, R1, R2, 'noEntry');
  }
  spec.copies.forEach((c, j) => {
    // the address, for the consumer to find the copy by
    p.load(8, R3, base, c.ptrOffset).store(8, R7, layout.addrAt[j], R3);
    if (c.argvSlots) {
      argvCopy(p, c, j, layout, base);
      return;
    }
    if (c.kernel !== undefined) {
      kernelCopy(p, c, c.kernel, j, layout, base);
      return;
    }
    if (c.file !== undefined) {
      fileCopy(p, c, c.file, j, layout, base);
      return;
    }
    p.mov(R1, R7).addImm(R1, layout.dataAt[j]);
    if (c.countOffset === undefined) {
      // a string: as long as it is, its NUL included (a record sized to it, if it is the last)
      p.movImm(R2, c.maxLen).call(Helper.ProbeReadUserStr).store(4, R7, layout.lenAt[j], R0);
      return;
    }
    // a buffer: first all maxLen bytes (copyin() may ask for more than the count); where they
    // run into unmapped memory, the count's bytes alone
    p.movImm(R2, c.maxLen)
      .call(Helper.ProbeReadUser)
      .storeImm(4, R7, layout.lenAt[j], c.maxLen)
      .jeqImm(R0, 0, `done${j}`)
      .load(8, R3, base, c.ptrOffset)
      .mov(R1, R7)
      .addImm(R1, layout.dataAt[j])
      .load(c.countSize ?? 8, R2, base, c.countOffset)
      .jgtImm(R2, c.maxLen, `clamp${j}`)
      .ja(`copy${j}`)
      .label(`clamp${j}`)
      .movImm(R2, c.maxLen)
      .label(`copy${j}`)
      .mov(R8, R2)
      .call(Helper.ProbeReadUser)
      .store(4, R7, layout.lenAt[j], R8)
      .jsltImm(R0, 0, `bad${j}`)
      .ja(`done${j}`)
      .label(`bad${j}`)
      .storeImm(4, R7, layout.lenAt[j], -1)
      .label(`done${j}`);
  });
  if (spec.entry !== undefined) {
    // the entry record is used: forget it; without one (the call began before tracing did),
    // no copies
    p.loadMap(R1, maps.kept).mov(R2, R10).addImm(R2, -8).call(Helper.MapDeleteElem).ja('sized0').label('noEntry');
    spec.copies.forEach((_, j) => p.storeImm(4, R7, layout.lenAt[j], -1).storeImm(8, R7, layout.addrAt[j], 0));
    p.label('sized0');
  }
  emitValues(p, spec.values ?? [], layout);
  // the record's size: up to the end of the last copy's bytes (a string's, as copied)
  const last = spec.copies.length - 1;
  const lastString = last >= 0 && !spec.copies[last].argvSlots && spec.copies[last].countOffset === undefined && spec.copies[last].kernel === undefined && spec.copies[last].file === undefined;
  if (lastString) {
    p.load(4, R5, R7, layout.lenAt[last])
      // unreadable (negative) or past the window: none of its bytes
      .jgtImm(R5, spec.copies[last].maxLen, 'noBytes')
      .ja('sized')
      .label('noBytes')
      .movImm(R5, 0)
      .label('sized')
      .addImm(R5, layout.dataAt[last]);
  } else {
    p.movImm(R5, layout.size);
  }
  return output(p, maps, spec.bookkeeping);
}

/** The code of the values computed as the probe fires (CaptureSpec.values), R7 kept. */
function emitValues(p: Program, values: CaptureValues[], layout: CaptureLayout): void {
  if (values.length === 0) return;
  p.store(8, R10, VALUES_BASE_AT, R7);
  let at = layout.valuesAt;
  for (const v of values) {
    v.emit(p, VALUES_BASE_AT, at);
    at += align8(v.bytes);
  }
  p.load(8, R7, R10, VALUES_BASE_AT);
}

/** a stack slot for the thread's name, for a filter's comm tests */
const COMM_AT = -32;

/** Little-endian 64-bit words of a NUL-padded 16-byte name. */
function nameWords(name: string): [bigint, bigint] {
  const b = Buffer.alloc(16);
  b.write(name, 'latin1');
  return [b.readBigUInt64LE(0), b.readBigUInt64LE(8)];
}

/**
 * Code that goes to 'out' (no record) unless one of the ANDs of tests holds for R7's record
 * (copied at `recordAt`); R7 is kept.
 */
function recordTests(p: Program, filter: RecordTest[][], recordAt: number): void {
  filter.forEach((ands, k) => {
    const fails = `rf_or${k + 1}`;
    ands.forEach((t, j) => {
      if (t.what === 'comm') {
        const [lo, hi] = nameWords(t.value as string);
        const differs = t.op === '==' ? fails : `rf_${k}_${j}_holds`;
        // zeroed first: Linux 6.1's helper copies the name with strscpy, up to its NUL, and
        // leaves what the stack held after it, which a word's compare would see
        p.storeImm(8, R10, COMM_AT, 0).storeImm(8, R10, COMM_AT + 8, 0);
        p.mov(R1, R10).addImm(R1, COMM_AT).movImm(R2, 16).call(Helper.GetCurrentComm);
        p.load(8, R1, R10, COMM_AT).movImm64(R2, lo).jmp(Jmp.Ne, R1, R2, differs);
        p.load(8, R1, R10, COMM_AT + 8).movImm64(R2, hi).jmp(Jmp.Ne, R1, R2, differs);
        // the same name: '!=' fails
        if (t.op === '!=') p.ja(fails).label(differs);
        return;
      }
      if (t.what === 'cpu') p.call(Helper.GetSmpProcessorId).mov(R1, R0);
      else {
        const f = t.what;
        p.load(f.size, R1, R7, recordAt + f.offset);
        if (f.signed && f.size < 8) p.aluImm(Alu.Lsh, R1, 64 - f.size * 8).aluImm(Alu.Arsh, R1, 64 - f.size * 8);
      }
      p.jmpImm(FAILS[t.op], R1, t.value as number, fails);
    });
    p.ja('rf_send').label(fails);
  });
  p.ja('out').label('rf_send');
}

/**
 * A kprobe or uprobe event's record made from the registers, as tracefs would have written it.
 * `shared`: the program of a uprobe_multi link, whose cookie for the firing uprobe holds the
 * spec's index (low 32 bits) and the event's id (high 32 bits).
 */
function registersProgram(spec: CaptureSpec, index: number, layout: CaptureLayout, maps: ProgramMaps, shared = false): Buffer {
  const at = layout.recordAt;
  let p: Program;
  if (shared) {
    p = new Program().mov(R6, R1).call(Helper.GetAttachCookie).store(8, R10, COOKIE_AT, R0).mov(R1, R6);
    p = begin(0, maps, p);
    p.load(8, R1, R10, COOKIE_AT).store(4, R7, 8, R1).aluImm(Alu.Rsh, R1, 32).store(2, R7, at, R1);
  } else {
    p = begin(index, maps);
    p.storeImm(2, R7, at, spec.tracepointId);
  }
  p.call(Helper.GetCurrentPidTgid).store(4, R7, 12, R0).store(4, R7, at + 4, R0);
  for (const f of spec.registers!) {
    if (f.memoryAt === undefined) p.load(8, R1, R6, f.reg).store(f.size, R7, at + f.at, R1);
    // a fault leaves it 0, as a uprobe's fetch does
    else {
      p.mov(R1, R7).addImm(R1, at + f.at).movImm(R2, f.size).load(8, R3, R6, f.reg).addImm(R3, f.memoryAt);
      p.call(f.kernelMemory === true ? Helper.ProbeReadKernel : Helper.ProbeReadUser);
    }
  }
  if (spec.filter !== undefined && spec.filter.length > 0) recordTests(p, spec.filter, at);
  emitValues(p, spec.values ?? [], layout);
  p.movImm(R5, layout.size);
  return output(p, maps, false);
}

/**
 * A raw tracepoint's program: [ktime, index, thread] and the record (index, thread, process,
 * the arguments the tracepoint passes, a u64 each) into the perf buffer.
 */
function rawProgram(args: number, filter: RawTest[][], values: CaptureValues[], index: number, layout: CaptureLayout, maps: ProgramMaps): Buffer {
  const at = layout.recordAt;
  const p = begin(index, maps);
  p.storeImm(4, R7, at + RAW_INDEX, index)
    .storeImm(4, R7, at + RAW_PID + 4, 0)
    .call(Helper.GetCurrentPidTgid)
    .store(4, R7, 12, R0)
    .store(4, R7, at + RAW_TID, R0)
    .aluImm(Alu.Rsh, R0, 32)
    .store(4, R7, at + RAW_PID, R0);
  // the context is the arguments (the verifier lets a program read only as many as there are)
  for (let i = 0; i < args; i++) p.load(8, R1, R6, 8 * i).store(8, R7, at + RAW_ARGS + 8 * i, R1);
  if (filter.length > 0) {
    filter.forEach((ands, k) => {
      for (const t of ands) {
        if (t.what === 'cpu') p.call(Helper.GetSmpProcessorId).mov(R1, R0);
        else if (t.what === 'pid' || t.what === 'tid') p.load(4, R1, R7, at + (t.what === 'pid' ? RAW_PID : RAW_TID));
        else p.load(8, R1, R7, at + RAW_ARGS + 8 * t.what);
        p.jmpImm(FAILS[t.op], R1, t.value, `or${k + 1}`);
      }
      p.ja('send').label(`or${k + 1}`);
    });
    p.ja('out').label('send');
  }
  emitValues(p, values, layout);
  p.movImm(R5, layout.size);
  return output(p, maps, false);
}

/**
 * The end of a capture program: R7's record, R5 bytes of it, into the perf buffer (R6: the
 * context); a record the buffer cannot take is counted.
 */
function output(p: Program, maps: ProgramMaps, bookkeeping: boolean): Buffer {
  p.mov(R1, R6)
    .loadMap(R2, maps.perf)
    .movImm32(R3, CURRENT_CPU)
    .mov(R4, R7)
    .call(Helper.PerfEventOutput)
    .jsltImm(R0, 0, 'lost')
    .ja('out')
    // the buffer is full: count the record this CPU lost (a per-CPU counter, so no atomics;
    // the probes' in slot 0, dtrace's bookkeeping's in slot 1)
    .label('lost')
    .storeImm(4, R10, -4, bookkeeping ? 1 : 0)
    .loadMap(R1, maps.lost)
    .mov(R2, R10)
    .addImm(R2, -4)
    .call(Helper.MapLookupElem)
    .jeqImm(R0, 0, 'out')
    .load(8, R1, R0, 0)
    .addImm(R1, 1)
    .store(8, R0, 0, R1)
    .label('out')
    .movImm(R0, 0)
    .exit();
  return p.encode();
}

/** R8 = the pointer at R8 + off; to `end` if it cannot be read or is NULL. */
function follow(p: Program, off: number, end: string): void {
  p.mov(R1, R10).addImm(R1, -16).movImm(R2, 8).mov(R3, R8).addImm(R3, off).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end).load(8, R8, R10, -16).jeqImm(R8, 0, end);
}

/** Copies kernel memory found from the field's pointer (UserCopy.kernel). */
function kernelCopy(p: Program, c: UserCopy, k: KernelCopy, j: number, layout: CaptureLayout, base: number): void {
  p.storeImm(4, R7, layout.lenAt[j], -1).load(8, R8, base, c.ptrOffset);
  if (k.deref0 !== undefined) follow(p, k.deref0, `kEnd${j}`);
  if (k.plusU16 !== undefined) {
    p.storeImm(8, R10, -24, 0)
      .mov(R1, R10)
      .addImm(R1, -24)
      .movImm(R2, 2)
      .mov(R3, R8)
      .addImm(R3, k.plusU16)
      .call(Helper.ProbeReadKernel)
      .jsltImm(R0, 0, `kEnd${j}`);
  }
  if (k.deref !== undefined) {
    p.mov(R1, R10)
      .addImm(R1, -16)
      .movImm(R2, 8)
      .mov(R3, R8)
      .addImm(R3, k.deref)
      .call(Helper.ProbeReadKernel)
      .jsltImm(R0, 0, `kEnd${j}`)
      .load(8, R8, R10, -16);
  }
  if (k.plusU16 !== undefined) p.load(8, R1, R10, -24).alu(Alu.Add, R8, R1);
  p.mov(R1, R7)
    .addImm(R1, layout.dataAt[j])
    .movImm(R2, c.maxLen)
    .mov(R3, R8)
    .addImm(R3, k.at)
    .call(Helper.ProbeReadKernel)
    .jsltImm(R0, 0, `kEnd${j}`)
    .storeImm(4, R7, layout.lenAt[j], c.maxLen)
    .label(`kEnd${j}`);
}

/**
 * Copies the file open on the descriptor in the record (FileCopy): the current task's
 * files->fdt->fd[fd], its position, flags, name and file system type.
 */
function fileCopy(p: Program, c: UserCopy, f: FileCopy, j: number, layout: CaptureLayout, base: number): void {
  const end = `fEnd${j}`;
  const dst = layout.dataAt[j];
  /** R8 = *(u64 *)(R8 + off), to `end` if it faults or is NULL */
  /** *(R7 + to) = `size` bytes at R8 + off, to `end` if it faults */
  const copy = (to: number, size: number, off: number): void => {
    p.mov(R1, R7).addImm(R1, to).movImm(R2, size).mov(R3, R8).addImm(R3, off).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
  };
  p.storeImm(4, R7, layout.lenAt[j], -1)
    .storeImm(8, R7, dst + FILE_FLAGS, 0)
    .call(Helper.GetCurrentTask)
    .mov(R8, R0);
  follow(p, f.files, end);
  follow(p, f.fdt, end);
  // the descriptor against max_fds (unsigned: a negative one is out of range too)
  p.storeImm(8, R10, -24, 0)
    .mov(R1, R10)
    .addImm(R1, -24)
    .movImm(R2, 4)
    .mov(R3, R8)
    .addImm(R3, f.maxFds)
    .call(Helper.ProbeReadKernel)
    .jsltImm(R0, 0, end)
    .load(8, R2, R10, -24)
    .load(c.countSize ?? 4, R1, base, c.ptrOffset)
    // no file there: length 0
    .storeImm(4, R7, layout.lenAt[j], 0)
    .jmp(Jmp.Ge, R1, R2, end)
    .aluImm(Alu.Lsh, R1, 3)
    .store(8, R10, -24, R1)
    .storeImm(4, R7, layout.lenAt[j], -1);
  follow(p, f.fd, end);
  p.load(8, R1, R10, -24)
    .alu(Alu.Add, R8, R1)
    .mov(R1, R10)
    .addImm(R1, -16)
    .movImm(R2, 8)
    .mov(R3, R8)
    .call(Helper.ProbeReadKernel)
    .jsltImm(R0, 0, end)
    .load(8, R8, R10, -16)
    // NULL: no file open on it
    .storeImm(4, R7, layout.lenAt[j], 0)
    .jeqImm(R8, 0, end)
    .storeImm(4, R7, layout.lenAt[j], -1);
  // R8: the struct file
  copy(dst + FILE_POS, 8, f.pos);
  copy(dst + FILE_FLAGS, 4, f.flags);
  // the name: f_path.dentry->d_name.name
  p.store(8, R10, -32, R8);
  follow(p, f.dentry, end);
  follow(p, f.dname, end);
  p.mov(R1, R7).addImm(R1, dst + FILE_NAME).movImm(R2, FILE_NAME_BYTES).mov(R3, R8).call(Helper.ProbeReadKernelStr).jsltImm(R0, 0, end);
  // the file system's type: f_path.mnt->mnt_sb->s_type->name
  p.load(8, R8, R10, -32);
  follow(p, f.mnt, end);
  follow(p, f.sb, end);
  follow(p, f.stype, end);
  follow(p, f.fsname, end);
  p.mov(R1, R7).addImm(R1, dst + FILE_FS).movImm(R2, FILE_FS_BYTES).mov(R3, R8).call(Helper.ProbeReadKernelStr).jsltImm(R0, 0, end);
  p.storeImm(4, R7, layout.lenAt[j], c.maxLen).storeImm(4, R7, dst + FILE_DEPTH, -1);
  if (f.walk !== undefined) pathWalk(p, f, f.walk, j, dst);
  p.label(end);
}

/**
 * The file's path (FileCopy.walk): from f_path.dentry up; at a mount's root, on from where it
 * is mounted in its parent; done at the root of the root mount (its parent is itself). A fault
 * or a path deeper than the slots leaves FILE_DEPTH -1. Stack: -40 the dentry, -48 the struct
 * mount, -16 and -24 what helpers read; R8 the dentry in hand.
 */
function pathWalk(p: Program, f: FileCopy, w: NonNullable<FileCopy['walk']>, j: number, dst: number): void {
  const out = `pathEnd${j}`;
  const slot = (k: number) => dst + FILE_PATH + k * FILE_COMPONENT_BYTES;
  /** *(R10 + to) = the u64 at (the stack's u64 at `from`) + off; to `out` if it faults */
  const readAt = (to: number, from: number, off: number): void => {
    p.mov(R1, R10).addImm(R1, to).movImm(R2, 8).load(8, R3, R10, from).addImm(R3, off).call(Helper.ProbeReadKernel).jsltImm(R0, 0, out);
  };
  // the dentry and the mount (the vfsmount within it)
  p.load(8, R8, R10, -32);
  p.mov(R1, R10).addImm(R1, -40).movImm(R2, 8).mov(R3, R8).addImm(R3, f.dentry).call(Helper.ProbeReadKernel).jsltImm(R0, 0, out);
  p.mov(R1, R10).addImm(R1, -48).movImm(R2, 8).mov(R3, R8).addImm(R3, f.mnt).call(Helper.ProbeReadKernel).jsltImm(R0, 0, out);
  p.load(8, R1, R10, -48).addImm(R1, -w.mountMnt).store(8, R10, -48, R1);
  for (let k = 0; k < FILE_PATH_SLOTS; k++) {
    p.storeImm(1, R7, slot(k), 0);
    // at its mount's root?
    readAt(-16, -48, w.mountMnt + w.mntRoot);
    p.load(8, R8, R10, -40).load(8, R1, R10, -16).jmp(Jmp.Ne, R8, R1, `name${j}_${k}`);
    // yes: the root mount's ends the path, another's goes on where it is mounted
    readAt(-16, -48, w.mntParent);
    readAt(-24, -48, w.mntMountpoint);
    p.load(8, R1, R10, -16)
      .load(8, R2, R10, -48)
      .jmp(Jmp.Eq, R1, R2, `depth${j}_${k}`)
      .store(8, R10, -48, R1)
      .load(8, R1, R10, -24)
      .store(8, R10, -40, R1)
      .ja(`next${j}_${k}`)
      .label(`name${j}_${k}`);
    // a name, and up to the parent (a dentry that is its own parent: a root no mount shows)
    readAt(-16, -40, w.dparent);
    readAt(-24, -40, f.dname);
    p.mov(R1, R7)
      .addImm(R1, slot(k))
      .movImm(R2, FILE_COMPONENT_BYTES)
      .load(8, R3, R10, -24)
      .call(Helper.ProbeReadKernelStr)
      .jsltImm(R0, 0, out)
      .load(8, R8, R10, -40)
      .load(8, R1, R10, -16)
      .jmp(Jmp.Eq, R1, R8, `depth${j}_${k + 1}`)
      .store(8, R10, -40, R1)
      .label(`next${j}_${k}`);
  }
  p.ja(out);
  for (let d = 0; d <= FILE_PATH_SLOTS; d++) p.label(`depth${j}_${d}`).storeImm(4, R7, dst + FILE_DEPTH, d).ja(out);
  p.label(out);
}

/** Copies argv[0..slots-1] (stopping at NULL or an unreadable pointer) into fixed slots. */
function argvCopy(p: Program, c: UserCopy, j: number, layout: CaptureLayout, base: number): void {
  const slots = c.argvSlots!;
  const slot = align8(c.maxLen);
  const ptrsAt = layout.dataAt[j] + slots * slot;
  p.storeImm(4, R7, layout.lenAt[j], 0).load(8, R8, base, c.ptrOffset);
  for (let k = 0; k < slots; k++) {
    p.mov(R1, R7)
      .addImm(R1, ptrsAt + k * 8)
      .movImm(R2, 8)
      .mov(R3, R8)
      .addImm(R3, k * 8)
      .call(Helper.ProbeReadUser)
      .jsltImm(R0, 0, `argvEnd${j}`)
      .load(8, R3, R7, ptrsAt + k * 8)
      .jeqImm(R3, 0, `argvEnd${j}`)
      .mov(R1, R7)
      .addImm(R1, layout.dataAt[j] + k * slot)
      .movImm(R2, c.maxLen)
      .call(Helper.ProbeReadUserStr)
      .jsltImm(R0, 0, `argvEnd${j}`)
      .storeImm(4, R7, layout.lenAt[j], k + 1);
  }
  p.label(`argvEnd${j}`);
}

/** A program `load` loads; a refusal's message carries the verifier's log. */
function withVerifierLog(load: () => number): number {
  try {
    return load();
  } catch (e) {
    const log = e instanceof ProgramRejected ? e.log : '';
    throw new Error(`${(e as Error).message}${log ? `\n${log}` : ''}`);
  }
}

/** Bytes of one queue page: many records each, and at least two of the largest. */
const QUEUE_PAGE = 64 * 1024;

/**
 * Opens a ring of `ringBytes` (rounded up to a power of two pages) on each of `cpus` for BPF
 * programs' records (bpf_perf_event_output into `perfMapFd`, a BPF_MAP_TYPE_PERF_EVENT_ARRAY
 * indexed by CPU), read through `sink`. Throws what the kernel said; the caller closes.
 */
export function openOutputRings(sink: PerfRecordSink, perfMapFd: number, cpus: readonly number[], ringBytes: number, queuePage: number, queueSink: EventSink | null): PerfRings {
  const pages = 2 ** Math.max(0, Math.ceil(Math.log2(Math.max(1, ringBytes / PAGE))));
  const perf = new PerfRings(sink, queuePage, queueSink);
  const key = Buffer.alloc(4);
  const val = Buffer.alloc(4);
  for (const cpu of cpus) {
    const attr = Buffer.alloc(PERF_ATTR_SIZE);
    attr.writeUInt32LE(PERF_TYPE_SOFTWARE, 0);
    attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
    attr.writeBigUInt64LE(BigInt(PERF_COUNT_SW_BPF_OUTPUT), 8);
    attr.writeBigUInt64LE(1n, 16);
    attr.writeBigUInt64LE(BigInt(PERF_SAMPLE_RAW), 24);
    // nobody sleeps on these buffers (they are polled): wake no one until half full
    attr.writeBigUInt64LE(ATTR_FLAG_WATERMARK, 40);
    attr.writeUInt32LE(Math.min((pages * PAGE) / 2, 0xffff_ffff), 48);
    const fd = perf.open(attr, -1, cpu, pages);
    key.writeUInt32LE(cpu, 0);
    val.writeUInt32LE(fd, 0);
    mapUpdate(perfMapFd, key, val);
  }
  return perf;
}

export class TracepointCapture implements EventSource, PerfRecordSink {
  private readonly specs: CaptureSpec[] = [];
  readonly layouts: CaptureLayout[] = [];
  /** the layout of each captured tracepoint's records, by event id */
  readonly layoutById: Array<CaptureLayout | undefined> = [];
  /** maps, programs and the perf events that run them */
  private readonly objects = new BpfObjects();
  /** one ring per CPU, written by the programs (perf_event_output) */
  private perf: PerfRings | null = null;
  private scratchFd = -1;
  private perfMapFd = -1;
  /** per-CPU u64: records a CPU could not write because its ring was full */
  private lostMapFd = -1;
  /** per system call entry kept for its return: thread -> entry record */
  private readonly keptFds = new Map<CaptureSpec, number>();
  /** times are ns after this (the reader's base) */
  private base = 0n;

  constructor(
    private readonly cpus: number[],
    /** bytes of each CPU's ring (rounded up to a power of two pages) */
    private readonly ringBytes: number,
  ) {}

  /** Times of the records are ns after `base` (CLOCK_MONOTONIC, as BPF's ktime). */
  setBase(base: bigint): void {
    this.base = base;
    this.perf?.setBase(base);
  }

  get queues(): EventQueue[] {
    return this.perf === null ? [] : this.perf.queues;
  }

  add(spec: CaptureSpec): number {
    const layout = layoutOf(spec);
    this.specs.push(spec);
    this.layouts.push(layout);
    if (spec.output && spec.raw === undefined) this.layoutById[spec.tracepointId] = layout;
    return this.specs.length - 1;
  }

  /** A uprobe event the kernel would not put on its instruction (its uprobe_multi link went on without it). */
  onRefused: ((eventId: number) => void) | null = null;

  start(): void {
    try {
      this.openMaps();
      this.openRings();
      const together = this.attachShared();
      const routed = this.openCallTables();
      // system calls' programs made of the same instructions are loaded once
      const shared = new Map<string, number>();
      this.specs.forEach((spec, i) => {
        if (together.has(i)) return;
        const route = spec.syscall;
        if (route === undefined) {
          this.attach(spec, this.load(spec, i));
          return;
        }
        const r = routed.get(route.rawTracepointId)!;
        r.programs.set(route.nr, this.load(spec, i, r.calls, shared));
      });
      for (const r of routed.values()) this.attachDispatcher(r.route, r.programs);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private openMaps(): void {
    const size = Math.max(...this.layouts.map((l) => l.size), 8);
    const o = this.objects;
    this.scratchFd = o.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, size, 1);
    // indexed by CPU number
    this.perfMapFd = o.createMap(BPF_MAP_TYPE_PERF_EVENT_ARRAY, 4, 4, possibleCpus());
    this.lostMapFd = o.createMap(BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 2);
    // a thread is in one system call at a time: the calls run from raw_syscalls' programs keep
    // their entries in one map (which lets calls that copy alike share programs)
    let calls = -1;
    for (const spec of this.specs) {
      if (!spec.keepForReturn) continue;
      if (spec.syscall !== undefined && calls >= 0) {
        this.keptFds.set(spec, calls);
        continue;
      }
      // threads in the call at once; preallocated, as tracing programs need on old kernels
      const fd = o.createMap(BPF_MAP_TYPE_HASH, 4, align8(spec.recordSize), KEPT_THREADS);
      if (spec.syscall !== undefined) calls = fd;
      this.keptFds.set(spec, fd);
    }
  }

  private openRings(): void {
    const largest = Math.max(...this.layouts.map((l) => l.size), 8);
    this.perf = openOutputRings(this, this.perfMapFd, this.cpus, this.ringBytes, Math.max(QUEUE_PAGE, 2 * largest), null);
    this.perf.setBase(this.base);
  }

  /**
   * Uprobe events of one process and object whose records are written alike (from the same
   * registers, with no copies or computed values) share one program on one uprobe_multi link
   * (Linux 6.6+): attached and detached at once, where a perf event each takes an RCU grace
   * period to close, one after another. Returns the specs' indexes so attached.
   */
  private attachShared(): Set<number> {
    const done = new Set<number>();
    if (!uprobeMultiSupported()) return done;
    const groups = new Map<string, number[]>();
    this.specs.forEach((s, i) => {
      if (s.uprobe === undefined || !s.output || s.registers === undefined || (s.process ?? 0) <= 0) return;
      if (s.copies.length > 0 || (s.values?.length ?? 0) > 0 || s.keepForReturn || s.entry !== undefined) return;
      const key = JSON.stringify([s.process, s.uprobe.path, s.uprobe.isReturn, s.registers, s.filter ?? [], s.recordSize, s.bookkeeping, this.layouts[i].size]);
      const g = groups.get(key);
      if (g === undefined) groups.set(key, [i]);
      else g.push(i);
    });
    const maps = { scratch: this.scratchFd, perf: this.perfMapFd, lost: this.lostMapFd, kept: -1 };
    for (const members of groups.values()) {
      const first = this.specs[members[0]];
      const insns = registersProgram(first, members[0], this.layouts[members[0]], maps, true);
      const prog = withVerifierLog(() => this.objects.loadProgram(BPF_PROG_TYPE_KPROBE, insns, 'dtrace_ts_uregs', BPF_TRACE_UPROBE_MULTI));
      const offsets = members.map((i) => this.specs[i].uprobe!.offset);
      // the spec's index and the event's id, for the record's header and type
      const cookies = members.map((i) => i + this.specs[i].tracepointId * 2 ** 32);
      const semaphores = members.map((i) => this.specs[i].uprobe!.refCtrOffset ?? 0);
      const refused = this.objects.attachUprobes(prog, first.uprobe!.path, offsets, cookies, first.uprobe!.isReturn, first.process!, semaphores.some((o) => o > 0) ? semaphores : undefined);
      for (const k of refused) this.onRefused?.(this.specs[members[k]].tracepointId);
      for (const i of members) done.add(i);
    }
    return done;
  }

  /**
   * The system calls' programs by the raw_syscalls event they run from (its tracepoint id):
   * for each, the table of the calls' spec indexes and event ids by number (ProgramMaps.calls),
   * filled, and the programs by number, to be loaded.
   */
  private openCallTables(): Map<number, { route: SyscallRoute; calls: number; programs: Map<number, number> }> {
    const byEvent = new Map<number, number[]>();
    this.specs.forEach((spec, index) => {
      const id = spec.syscall?.rawTracepointId;
      if (id === undefined) return;
      let list = byEvent.get(id);
      if (list === undefined) byEvent.set(id, (list = []));
      list.push(index);
    });
    const out = new Map<number, { route: SyscallRoute; calls: number; programs: Map<number, number> }>();
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(CALL_BYTES);
    for (const [id, indexes] of byEvent) {
      const routes = indexes.map((i) => this.specs[i].syscall!);
      const calls = this.objects.createMap(BPF_MAP_TYPE_ARRAY, 4, CALL_BYTES, Math.max(...routes.map((r) => r.nr)) + 1);
      for (const i of indexes) {
        key.writeUInt32LE(this.specs[i].syscall!.nr, 0);
        value.writeUInt32LE(i, CALL_INDEX);
        value.writeUInt32LE(this.specs[i].tracepointId, CALL_EVENT);
        mapUpdate(calls, key, value);
      }
      out.set(id, { route: routes[0], calls, programs: new Map() });
    }
    return out;
  }

  /**
   * Loads the program of a spec (a system call's, with its table of calls: one already loaded
   * for another call, if `shared` has one of the same instructions); a refusal's message carries
   * the verifier's log.
   */
  private load(spec: CaptureSpec, index: number, calls?: number, shared?: Map<string, number>): number {
    const kept = this.keptFds.get(spec.entry ?? spec) ?? -1;
    const insns = program(spec, index, this.layouts[index], { scratch: this.scratchFd, perf: this.perfMapFd, lost: this.lostMapFd, kept, calls });
    const same = shared?.get(insns.toString('latin1'));
    if (same !== undefined) return same;
    const prog = withVerifierLog(() => {
      if (spec.raw !== undefined) return this.objects.loadProgram(BPF_PROG_TYPE_RAW_TRACEPOINT, insns, 'dtrace_ts_rawtp');
      if (spec.registers !== undefined) return this.objects.loadProgram(BPF_PROG_TYPE_KPROBE, insns, 'dtrace_ts_regs');
      return this.objects.loadTracepointProgram(insns, 'dtrace_ts_copy');
    });
    shared?.set(insns.toString('latin1'), prog);
    return prog;
  }

  /**
   * Runs the system calls' programs (by number) from one program on the route's raw_syscalls
   * event, which passes each call's record on to the call's program, if it has one. The table
   * is filled first: every call's program starts at once.
   */
  private attachDispatcher(route: SyscallRoute, programs: ReadonlyMap<number, number>): void {
    const size = Math.max(...programs.keys()) + 1;
    const table = this.objects.createMap(BPF_MAP_TYPE_PROG_ARRAY, 4, 4, size);
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(4);
    for (const [nr, prog] of programs) {
      key.writeUInt32LE(nr, 0);
      value.writeUInt32LE(prog, 0);
      mapUpdate(table, key, value);
    }
    const p = new Program().mov(R6, R1);
    loadSyscallNumber(p, R7, size, 'none');
    skipCompatCall(p, route.compat, 'none');
    // returns only where the table has no program for the call: nothing to capture
    p.mov(R1, R6).loadMap(R2, table).mov(R3, R7).call(Helper.TailCall);
    p.label('none').movImm(R0, 0).exit();
    this.showProgram?.(`raw_syscalls:${route.rawEvent}`, programs.size, new Set(programs.values()).size, p.listing());
    const prog = withVerifierLog(() => this.objects.loadTracepointProgram(p.encode(), 'dtrace_ts_sys'));
    this.objects.attachTracepoint(route.rawTracepointId, prog, this.cpus[0] ?? 0);
  }

  /** dtrace -S: shown each program on raw_syscalls as it is loaded (its event, how many calls' programs it runs and how many differ, its instructions) */
  showProgram: ((event: string, calls: number, programs: number, listing: string) => void) | null = null;

  private attach(spec: CaptureSpec, prog: number): void {
    if (spec.raw !== undefined) {
      this.objects.attachRawTracepoint(spec.raw.tracepoint, prog);
      return;
    }
    // one perf event attaches the program to the tracepoint, which then runs it on every CPU
    this.objects.attachTracepoint(spec.tracepointId, prog, this.cpus[0] ?? 0, spec.process ?? -1);
  }

  /**
   * Stops the programs (what the rings hold can still be read). A program attached to a
   * tracepoint runs whether or not its perf event is enabled: only closing the event detaches it.
   */
  stop(): void {
    this.objects.detach();
  }

  /** Moves the records the CPU's ring holds into its queue, and frees the ring's space. */
  fill(q: EventQueue): void {
    this.perf?.fill(q);
  }

  /**
   * A record of a ring: the event is the tracepoint's record within ours (our header, the
   * copies' lengths and the copies are around it). PERF_RECORD_LOST says the same as our
   * counter, but only once the ring has room again.
   */
  perfRecord(r: PerfRing, type: number, v: DataView, at: number, size: number): void {
    if (type !== PERF_RECORD_SAMPLE) return;
    // header (8), u32 raw size, then our data
    const dataLen = Math.min(v.getUint32(at + 8, true), size - 12);
    const d = r.room(dataLen);
    const to = r.used;
    copyBytes(v, at + 12, d, to, dataLen);
    const index = d.getUint32(to + 8, true);
    const layout = this.layouts[index];
    if (layout === undefined) {
      r.used += align8(dataLen);
      return;
    }
    r.push(layout.recordAt, this.specs[index].recordSize, this.perf!.time(d, to), align8(dataLen));
  }

  /**
   * Records the kernel could not write on each CPU (its ring was full), since the start, by
   * CPU: the probes' or (`bookkeeping`) those only dtrace's bookkeeping wanted.
   */
  lost(bookkeeping = false): number[] {
    const n = possibleCpus();
    const values = Buffer.alloc(8 * n);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(bookkeeping ? 1 : 0, 0);
    if (!mapLookup(this.lostMapFd, key, values)) return new Array<number>(n).fill(0);
    const out: number[] = [];
    for (let cpu = 0; cpu < n; cpu++) out.push(Number(values.readBigUInt64LE(cpu * 8)));
    return out;
  }

  /** Detaches and frees everything; safe to call more than once, and after a failed start(). */
  close(): void {
    this.perf?.close();
    this.objects.close();
    this.keptFds.clear();
    this.scratchFd = this.perfMapFd = this.lostMapFd = -1;
  }
}
