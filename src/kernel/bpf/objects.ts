// BPF maps and programs, and the perf events that attach programs to tracepoints: created
// through one owner that closes them all. They are file descriptors of this process, so the
// kernel frees them when it exits, however it exits (a SIGKILLed dtrace leaves nothing behind);
// close() frees them sooner, on every path that ends tracing.

import { readFileSync } from 'node:fs';
import {
  ATTR_DISABLED,
  BPF_MAP_CREATE,
  BPF_MAP_LOOKUP_ELEM,
  BPF_LINK_CREATE,
  BPF_MAP_UPDATE_ELEM,
  BPF_PROG_LOAD,
  BPF_RAW_TRACEPOINT_OPEN,
  PERF_ATTR_SIZE,
  PERF_EVENT_IOC_ENABLE,
  PERF_FLAG_FD_CLOEXEC,
  PERF_TYPE_TRACEPOINT,
  SysError,
  addressOf,
  bpf,
  bpfUnavailable,
  closeFd,
  ioctlInt,
  perfEventOpen,
} from './sys.js';

export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
/** programs a program passes its context on to (bpf_tail_call), by index */
export const BPF_MAP_TYPE_PROG_ARRAY = 3;
export const BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_PERCPU_ARRAY = 6;
export const BPF_PROG_TYPE_KPROBE = 2;
export const BPF_PROG_TYPE_TRACEPOINT = 5;
/** a program on a perf event's overflow (a cpu-clock sample): its context is struct bpf_perf_event_data, pt_regs first */
export const BPF_PROG_TYPE_PERF_EVENT = 7;
/** a program on a raw tracepoint: its context is the tracepoint's arguments, a u64 each */
export const BPF_PROG_TYPE_RAW_TRACEPOINT = 17;

/** a kprobe-type program attached to many uprobes through one link (Linux 6.6+) */
export const BPF_TRACE_UPROBE_MULTI = 48;
const BPF_F_UPROBE_MULTI_RETURN = 1;

const BPF_MAP_GET_NEXT_KEY = 4;
const ENOENT = 2;
const EBADF = 9;
const EINVAL = 22;
const EOPNOTSUPP = 95;
/** the kernel's ENOTSUPP: an instruction a uprobe cannot be put on (x86's lock prefix) */
const ENOTSUPP = 524;
/** errors of one uprobe of a uprobe_multi link, not of the link: the others can go without it */
const UPROBE_REFUSALS = new Set([EINVAL, EOPNOTSUPP, ENOTSUPP]);
const PERF_EVENT_IOC_SET_BPF = 0x40042408;

/** The CPUs the kernel may run (per-CPU maps hold a value for each, by CPU number). */
export function possibleCpus(): number {
  try {
    const text = readFileSync('/sys/devices/system/cpu/possible', 'latin1').trim();
    let max = 0;
    for (const part of text.split(',')) max = Math.max(max, Number(part.split('-').at(-1)));
    return max + 1;
  } catch {
    return 1;
  }
}

/** The verifier refused a program: its log says why. */
export class ProgramRejected extends Error {
  constructor(
    message: string,
    readonly log: string,
    /** the bpf() call's errno (EPERM, ENOMEM: limits rather than the program) */
    readonly errno = 0,
  ) {
    super(message);
  }
}

/** EAGAIN: the verifier was interrupted by a signal */
const EAGAIN = 11;
/** loads of one program a signal may interrupt before dtrace gives up (libbpf's count) */
const LOAD_ATTEMPTS = 5;

export class BpfObjects {
  private readonly fds: number[] = [];
  /** the perf events that run programs on tracepoints (closing one detaches its program) */
  private readonly attached: number[] = [];

  createMap(type: number, keySize: number, valueSize: number, maxEntries: number): number {
    const a = Buffer.alloc(128);
    a.writeUInt32LE(type, 0);
    a.writeUInt32LE(keySize, 4);
    a.writeUInt32LE(valueSize, 8);
    a.writeUInt32LE(maxEntries, 12);
    const fd = bpf(BPF_MAP_CREATE, a);
    this.fds.push(fd);
    return fd;
  }

  /** Loads a tracepoint program; a refusal carries the verifier's log. */
  loadTracepointProgram(insns: Buffer, name: string): number {
    return this.loadProgram(BPF_PROG_TYPE_TRACEPOINT, insns, name);
  }

  /**
   * Loads a program of a type (a tracepoint's: its context is the record; a kprobe's, for
   * kprobe and uprobe events: the registers; a raw tracepoint's: its arguments); a refusal
   * carries the verifier's log.
   */
  loadProgram(type: number, insns: Buffer, name: string, expectedAttachType = 0): number {
    const license = Buffer.from('GPL\0', 'latin1');
    const a = Buffer.alloc(128);
    a.writeUInt32LE(type, 0);
    a.writeUInt32LE(insns.length / 8, 4);
    a.writeBigUInt64LE(addressOf(insns), 8);
    a.writeBigUInt64LE(addressOf(license), 16);
    // the kernel takes letters, digits, '_' and '.' in a program's name (profile-997: profile_997)
    a.write(name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_'), 48, 'latin1');
    a.writeUInt32LE(expectedAttachType, 68);
    // without the verifier's log first (writing it slows verification), as libbpf does; the
    // log is asked for only to say why a program was refused
    let log: Buffer | null = null;
    for (let attempt = 0; ; attempt++) {
      try {
        const fd = bpf(BPF_PROG_LOAD, a);
        this.fds.push(fd);
        return fd;
      } catch (e) {
        const errno = e instanceof SysError ? e.errno : 0;
        // the verifier gives up when a signal arrives (a child's SIGCHLD): load it again
        if (errno === EAGAIN && attempt < LOAD_ATTEMPTS) continue;
        if (log === null) {
          log = Buffer.alloc(256 * 1024);
          a.writeUInt32LE(1, 24);
          a.writeUInt32LE(log.length, 28);
          a.writeBigUInt64LE(addressOf(log), 32);
          continue;
        }
        const text = log.toString('latin1', 0, Math.max(0, log.indexOf(0)));
        throw new ProgramRejected((e as Error).message, text, errno);
      }
    }
  }

  /**
   * Runs a program on a tracepoint, or on a kprobe or uprobe event by its tracepoint id (on
   * every CPU: one perf event is enough), until close() or detach(). `pid` > 0: a uprobe
   * event's program runs in that process only (its perf event is the process's, on every CPU),
   * and the uprobe traps in no other process, even one mapping the same file (the kernel's
   * uprobe filter: it is installed only in the address spaces of its perf events' tasks).
   */
  attachTracepoint(tracepointId: number, prog: number, cpu: number, pid = -1): void {
    const attr = Buffer.alloc(PERF_ATTR_SIZE);
    attr.writeUInt32LE(PERF_TYPE_TRACEPOINT, 0);
    attr.writeUInt32LE(PERF_ATTR_SIZE, 4);
    attr.writeBigUInt64LE(BigInt(tracepointId), 8);
    attr.writeBigUInt64LE(1n, 16);
    attr.writeBigUInt64LE(ATTR_DISABLED, 40);
    const fd = pid > 0 ? perfEventOpen(attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC) : perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
    this.attached.push(fd);
    ioctlInt(fd, PERF_EVENT_IOC_SET_BPF, prog);
    ioctlInt(fd, PERF_EVENT_IOC_ENABLE, 0);
  }

  /**
   * Runs a program on each overflow of a sampling perf event (`attr`: a cpu-clock event every
   * period), one event on each CPU of `cpus`, from start() until close() or detach(). The
   * events have no ring: what the program does is all a sample does.
   */
  attachSampling(attr: Buffer, cpus: readonly number[], prog: number): void {
    const made: number[] = [];
    for (const cpu of cpus) {
      const fd = perfEventOpen(attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
      this.attached.push(fd);
      made.push(fd);
      ioctlInt(fd, PERF_EVENT_IOC_SET_BPF, prog);
    }
    // enabled together by start(), once all are made (a refusal on one CPU leaves none running)
    this.waiting.push(...made);
  }

  /** sampling events made, not started yet */
  private readonly waiting: number[] = [];

  /** Starts the sampling events attachSampling() made (tracing starts: a sample before is no firing). */
  start(): void {
    for (const fd of this.waiting) ioctlInt(fd, PERF_EVENT_IOC_ENABLE, 0);
    this.waiting.length = 0;
  }

  /**
   * Runs a raw tracepoint program on the kernel tracepoint of that name (sched_switch,
   * sys_enter), on every CPU, until close() or detach(): the link is a file descriptor.
   */
  attachRawTracepoint(tracepoint: string, prog: number): void {
    const name = Buffer.from(`${tracepoint}\0`, 'latin1');
    const a = Buffer.alloc(16);
    a.writeBigUInt64LE(addressOf(name), 0);
    a.writeUInt32LE(prog, 8);
    this.attached.push(bpf(BPF_RAW_TRACEPOINT_OPEN, a));
  }

  /**
   * Runs a program loaded for BPF_TRACE_UPROBE_MULTI on the instructions at `offsets` of one
   * file (uretprobes with `isReturn`), with the firing one's cookie at hand
   * (bpf_get_attach_cookie), in process `pid` only: the kernel puts the breakpoints in that
   * process alone. One link serves them all, so thousands attach in one call and detach after
   * one RCU grace period, where a perf event each waits for one each. Returns the indexes of
   * the offsets the kernel refused (an instruction a uprobe cannot be put on): the others are
   * attached without them.
   */
  attachUprobes(prog: number, path: string, offsets: readonly number[], cookies: readonly number[], isReturn: boolean, pid: number, refCtrOffsets?: readonly number[]): number[] {
    const refused: number[] = [];
    const made: number[] = [];
    const attach = (idx: number[]): void => {
      try {
        const pick = (xs: readonly number[] | undefined) => (xs === undefined ? undefined : idx.map((i) => xs[i]));
        made.push(uprobeMultiLink(prog, path, pick(offsets)!, pick(cookies)!, isReturn, pid, pick(refCtrOffsets)));
      } catch (e) {
        if (!(e instanceof SysError) || !UPROBE_REFUSALS.has(e.errno)) throw e;
        // which one: halves, until the refused ones are alone (a glob over libc has a few)
        if (idx.length === 1) {
          refused.push(idx[0]);
          return;
        }
        const half = idx.length >> 1;
        attach(idx.slice(0, half));
        attach(idx.slice(half));
      }
    };
    try {
      attach(offsets.map((_, i) => i));
    } catch (e) {
      for (const fd of made) closeFd(fd);
      throw e;
    }
    this.attached.push(...made);
    return refused.sort((a, b) => a - b);
  }

  /** Stops every attached program (the maps stay readable). */
  detach(): void {
    for (const fd of this.attached) closeFd(fd);
    this.attached.length = 0;
    this.waiting.length = 0;
  }

  /** Frees everything; safe more than once. */
  close(): void {
    this.detach();
    for (const fd of this.fds) closeFd(fd);
    this.fds.length = 0;
  }
}

/** A map's value for `key` into `out` (per-CPU maps: one 8-byte-aligned value per possible CPU); false if absent. */
export function mapLookup(fd: number, key: Buffer, out: Buffer): boolean {
  const a = Buffer.alloc(128);
  a.writeUInt32LE(fd, 0);
  a.writeBigUInt64LE(addressOf(key), 8);
  a.writeBigUInt64LE(addressOf(out), 16);
  try {
    bpf(BPF_MAP_LOOKUP_ELEM, a);
    return true;
  } catch (e) {
    if (e instanceof SysError && e.errno === ENOENT) return false;
    throw e;
  }
}

/** Sets a map's value for `key`. */
export function mapUpdate(fd: number, key: Buffer, value: Buffer): void {
  const a = Buffer.alloc(128);
  a.writeUInt32LE(fd, 0);
  a.writeBigUInt64LE(addressOf(key), 8);
  a.writeBigUInt64LE(addressOf(value), 16);
  bpf(BPF_MAP_UPDATE_ELEM, a);
}

/** Every key of a hash map, each as a Buffer of its own. */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const out: Buffer[] = [];
  let prev: Buffer | null = null;
  const a = Buffer.alloc(128);
  a.writeUInt32LE(fd, 0);
  for (;;) {
    const next = Buffer.alloc(Math.max(1, keySize));
    a.writeBigUInt64LE(prev === null ? 0n : addressOf(prev), 8);
    a.writeBigUInt64LE(addressOf(next), 16);
    try {
      bpf(BPF_MAP_GET_NEXT_KEY, a);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return out;
      throw e;
    }
    out.push(next);
    prev = next;
  }
}

/** BPF_LINK_CREATE of a uprobe_multi link: one program on uprobes at `offsets` of `path`. */
function uprobeMultiLink(prog: number, path: string, offsets: readonly number[], cookies: readonly number[], isReturn: boolean, pid: number, refCtrOffsets?: readonly number[]): number {
  const name = Buffer.from(`${path}\0`, 'latin1');
  const words = (xs: readonly number[]) => {
    const b = Buffer.alloc(8 * xs.length);
    xs.forEach((x, i) => b.writeBigUInt64LE(BigInt(x), 8 * i));
    return b;
  };
  const offs = words(offsets);
  const cooks = words(cookies);
  const refs = refCtrOffsets === undefined ? null : words(refCtrOffsets);
  const a = Buffer.alloc(128);
  a.writeUInt32LE(prog, 0);
  a.writeUInt32LE(BPF_TRACE_UPROBE_MULTI, 8);
  a.writeBigUInt64LE(addressOf(name), 16);
  a.writeBigUInt64LE(addressOf(offs), 24);
  if (refs !== null) a.writeBigUInt64LE(addressOf(refs), 32);
  a.writeBigUInt64LE(addressOf(cooks), 40);
  a.writeUInt32LE(offsets.length, 48);
  a.writeUInt32LE(isReturn ? BPF_F_UPROBE_MULTI_RETURN : 0, 52);
  a.writeUInt32LE(pid, 56);
  return bpf(BPF_LINK_CREATE, a);
}

let uprobeMulti: boolean | null = null;

/**
 * Whether the kernel makes uprobe_multi links (Linux 6.6+) and BPF can be used, as libbpf tells: a link on a
 * directory is refused with EBADF by a kernel that knows them, EINVAL by one that does not.
 */
export function uprobeMultiSupported(): boolean {
  if (uprobeMulti !== null) return uprobeMulti;
  uprobeMulti = false;
  // the tests' way to take the path of kernels without them (before 6.6) on one that has them
  if (process.env.DTRACE_TS_NO_UPROBE_MULTI === '1' || bpfUnavailable() !== null) return false;
  const objects = new BpfObjects();
  try {
    // r0 = 0; exit
    const insns = Buffer.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const prog = objects.loadProgram(BPF_PROG_TYPE_KPROBE, insns, 'dt_umulti', BPF_TRACE_UPROBE_MULTI);
    try {
      closeFd(uprobeMultiLink(prog, '/', [0], [0], false, 0));
      uprobeMulti = true;
    } catch (e) {
      uprobeMulti = e instanceof SysError && e.errno === EBADF;
    }
  } catch {
    // no BPF at all
  } finally {
    objects.close();
  }
  return uprobeMulti;
}
