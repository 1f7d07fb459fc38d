// The system calls BPF needs (bpf, perf_event_open, ioctl, mmap), made through koffi, an FFI
// whose prebuilt binaries ship in its npm package: no compiler at install or run time. koffi
// is loaded on first use, so dtrace runs where it is missing; bpfUnavailable() says why.

import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';

type Koffi = {
  load(name: string): { func(decl: string): (...args: unknown[]) => unknown };
  errno(): number;
  address(v: unknown): bigint;
  view(ptr: unknown, len: number): ArrayBuffer;
};

interface Libc {
  koffi: Koffi;
  syscall: (...args: unknown[]) => unknown;
  ioctl: (...args: unknown[]) => unknown;
  mmap: (...args: unknown[]) => unknown;
  munmap: (...args: unknown[]) => unknown;
  close: (fd: number) => number;
  read: (fd: number, buf: Uint8Array, count: number) => number;
  write: (fd: number, buf: Uint8Array, count: number) => number;
  eventfd: (initval: number, flags: number) => number;
  poll: { async(fds: Buffer, nfds: number, timeout: number, done: (err: unknown, n: number) => void): void };
  strerror: (errno: number) => string;
}

const NR: Record<string, { bpf: number; perfEventOpen: number; pidfdOpen: number; setAffinity: number; getAffinity: number }> = {
  x64: { bpf: 321, perfEventOpen: 298, pidfdOpen: 434, setAffinity: 203, getAffinity: 204 },
  arm64: { bpf: 280, perfEventOpen: 241, pidfdOpen: 434, setAffinity: 122, getAffinity: 123 },
};

let libc: Libc | null = null;
let loadError: string | null = null;

function load(): Libc {
  if (libc) return libc;
  if (loadError) throw new Error(loadError);
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    const lib = koffi.load('libc.so.6');
    libc = {
      koffi,
      syscall: lib.func('long syscall(long number, ...)'),
      ioctl: lib.func('int ioctl(int fd, unsigned long request, ...)'),
      mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)'),
      munmap: lib.func('int munmap(void *addr, size_t length)'),
      close: lib.func('int close(int fd)') as (fd: number) => number,
      read: lib.func('long read(int fd, void *buf, size_t count)') as (fd: number, buf: Uint8Array, count: number) => number,
      write: lib.func('long write(int fd, void *buf, size_t count)') as (fd: number, buf: Uint8Array, count: number) => number,
      eventfd: lib.func('int eventfd(unsigned int initval, int flags)') as (initval: number, flags: number) => number,
      poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)') as unknown as Libc['poll'],
      strerror: lib.func('const char *strerror(int errnum)') as (errno: number) => string,
    };
    return libc;
  } catch (e) {
    loadError = `cannot load the koffi FFI: ${(e as Error).message.split('\n')[0]}`;
    throw new Error(loadError);
  }
}

/** A failed system call, with errno and the C library's words for it. */
export class SysError extends Error {
  constructor(
    what: string,
    readonly errno: number,
  ) {
    super(`${what}: ${load().strerror(errno)}`);
  }
}

function check(what: string, r: unknown): number {
  const n = Number(r);
  if (n < 0) throw new SysError(what, load().koffi.errno());
  return n;
}

export const BPF_MAP_CREATE = 0;
export const BPF_MAP_LOOKUP_ELEM = 1;
export const BPF_MAP_UPDATE_ELEM = 2;
export const BPF_PROG_LOAD = 5;
export const BPF_RAW_TRACEPOINT_OPEN = 17;
export const BPF_LINK_CREATE = 28;

const BPF_CMD_NAMES = ['BPF_MAP_CREATE', 'BPF_MAP_LOOKUP_ELEM', 'BPF_MAP_UPDATE_ELEM', 'BPF_MAP_DELETE_ELEM', 'BPF_MAP_GET_NEXT_KEY', 'BPF_PROG_LOAD'];

/** bpf(cmd, attr): the attr buffer holds union bpf_attr as the command wants it. */
export function bpf(cmd: number, attr: Buffer): number {
  const l = load();
  const nr = NR[process.arch]?.bpf;
  if (nr === undefined) throw new Error(`BPF is not supported on ${process.arch} yet`);
  return check(`bpf(${cmd === BPF_RAW_TRACEPOINT_OPEN ? 'BPF_RAW_TRACEPOINT_OPEN' : cmd === BPF_LINK_CREATE ? 'BPF_LINK_CREATE' : (BPF_CMD_NAMES[cmd] ?? cmd)})`, l.syscall(nr, 'int', cmd, 'void *', attr, 'uint', attr.length));
}

// perf_event_open(2)'s ABI, shared by every user of perf events
export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const PERF_TYPE_TRACEPOINT = 2;
export const PERF_TYPE_HW_CACHE = 3;
/** perf_event_attr as of Linux 4.1 (PERF_ATTR_SIZE_VER5): clockid is there; what old kernels accept */
export const PERF_ATTR_SIZE = 112;
export const PERF_FLAG_FD_CLOEXEC = 8;
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
/** perf_event_attr's flag bits */
export const ATTR_DISABLED = 1n << 0n;
export const ATTR_USE_CLOCKID = 1n << 25n;
export const CLOCK_MONOTONIC = 1;

export function perfEventOpen(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number {
  const l = load();
  const nr = NR[process.arch]!.perfEventOpen;
  return check('perf_event_open', l.syscall(nr, 'void *', attr, 'int', pid, 'int', cpu, 'int', groupFd, 'ulong', flags));
}

export function ioctlInt(fd: number, request: number, arg: number): number {
  return check('ioctl', load().ioctl(fd, request, 'long', arg));
}

export interface Mapping {
  ptr: unknown;
  length: number;
  bytes: Uint8Array;
  view: DataView;
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

/** mmap(fd) shared, read-write, with a view of the memory that reads it in place. */
export function mapShared(fd: number, length: number): Mapping {
  const l = load();
  const ptr = l.mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ptr === null || l.koffi.address(ptr) === 0xffff_ffff_ffff_ffffn) throw new SysError('mmap', l.koffi.errno());
  const ab = l.koffi.view(ptr, length);
  return { ptr, length, bytes: new Uint8Array(ab), view: new DataView(ab) };
}

export function unmap(m: Mapping): void {
  load().munmap(m.ptr, m.length);
}

export function closeFd(fd: number): void {
  if (fd >= 0) load().close(fd);
}

const EAGAIN = 11;
const EINTR = 4;

/**
 * One write(2) of `text` to a file (a tracefs control file), EINTR an error like any other:
 * fs.writeFileSync retries EINTR forever, and a probe event enabled for perf already (a BPF
 * program on it) answers every write to its tracefs enable file with EINTR. Null when koffi
 * cannot be loaded (the caller writes as usual).
 */
export function writeOnce(path: string, text: string): void | null {
  let l: Libc;
  try {
    l = load();
  } catch {
    return null;
  }
  const fd = openSync(path, 'w');
  try {
    const b = Buffer.from(text, 'latin1');
    const n = Number(l.write(fd, b, b.length));
    if (n < 0) throw new SysError(`write ${path}`, l.koffi.errno());
  } finally {
    closeSync(fd);
  }
}

/**
 * read(2) on a non-blocking descriptor without an exception when it has nothing: returns the
 * bytes read, or -1 for EAGAIN or EINTR. fs.readSync builds an Error with a stack trace for
 * every empty read, which is most of an idle dtrace's CPU. Null when koffi cannot be loaded.
 */
export function nonBlockingReader(): ((fd: number, buf: Uint8Array, count: number) => number) | null {
  let l: Libc;
  try {
    l = load();
  } catch {
    return null;
  }
  return (fd, buf, count) => {
    const n = l.read(fd, buf, count);
    if (n >= 0) return n;
    const errno = l.koffi.errno();
    if (errno === EAGAIN || errno === EINTR) return -1;
    throw new SysError('read', errno);
  };
}

const POLLIN = 1;
const EFD_CLOEXEC = 0o2000000;

/**
 * Waits, off the main thread, until one of some descriptors is readable: poll(2) runs on a
 * worker thread of koffi's, so a dtrace with nothing to read does not wake at all. wake()
 * ends a wait at once (an eventfd in the set), as stop and teardown need before closing.
 */
export class ReadableWaiter {
  private readonly l: Libc;
  private readonly wakeFd: number;
  private readonly one = Buffer.alloc(8);
  /** the current wait's pollfd array: the kernel writes revents into it when poll(2) returns */
  private set: Buffer | null = null;
  waiting = false;

  private constructor(l: Libc) {
    this.l = l;
    this.wakeFd = check('eventfd', l.eventfd(0, EFD_CLOEXEC));
    this.one.writeBigUInt64LE(1n);
  }

  /** A waiter, or null where koffi cannot be loaded (then dtrace polls on a timer only). */
  static create(): ReadableWaiter | null {
    try {
      return new ReadableWaiter(load());
    } catch {
      return null;
    }
  }

  /** Calls `done` once a descriptor is readable, `timeoutMs` passed, or wake() was called. */
  wait(fds: readonly number[], timeoutMs: number, done: () => void): void {
    const set = Buffer.alloc(8 * (fds.length + 1));
    [this.wakeFd, ...fds].forEach((fd, i) => {
      set.writeInt32LE(fd, 8 * i);
      set.writeInt16LE(POLLIN, 8 * i + 4);
    });
    this.waiting = true;
    this.set = set;
    this.l.poll.async(set, fds.length + 1, timeoutMs, () => {
      this.waiting = false;
      this.set = null;
      // a wake-up is consumed, so the next wait blocks again
      if (set.readInt16LE(6) !== 0) this.l.read(this.wakeFd, Buffer.alloc(8), 8);
      done();
    });
  }

  /** Whether the current wait's poll(2) has returned after wake(), seen from the main thread. */
  returned(): boolean {
    return this.set === null || this.set.readInt16LE(6) !== 0;
  }

  /** Ends the current wait, if any, without delay. */
  wake(): void {
    if (this.waiting) this.l.write(this.wakeFd, this.one, 8);
  }

  close(): void {
    this.l.close(this.wakeFd);
  }
}

/**
 * A descriptor that becomes readable when the process exits (pidfd_open(2), Linux 5.3+), or
 * null where there is none (an older kernel, no koffi, no such process).
 */
export function pidfdOpen(pid: number): number | null {
  try {
    const l = load();
    const nr = NR[process.arch]?.pidfdOpen;
    if (nr === undefined) return null;
    const fd = Number(l.syscall(nr, 'int', pid, 'uint', 0));
    return fd >= 0 ? fd : null;
  } catch {
    return null;
  }
}

/** bytes of a CPU mask: 1024 CPUs (glibc's cpu_set_t) */
const CPU_MASK_BYTES = 128;

/**
 * Binds the calling thread to one CPU (sched_setaffinity(2)): it runs there from the return
 * on. Returns what gives it back the CPUs it had, or null where it cannot be bound (no such
 * CPU online, a cpuset without it, no koffi).
 */
export function bindToCpu(cpu: number): (() => void) | null {
  try {
    const l = load();
    const nr = NR[process.arch];
    if (nr === undefined || cpu < 0 || cpu >= CPU_MASK_BYTES * 8) return null;
    const old = Buffer.alloc(CPU_MASK_BYTES);
    if (Number(l.syscall(nr.getAffinity, 'int', 0, 'ulong', CPU_MASK_BYTES, 'void *', old)) < 0) return null;
    const mask = Buffer.alloc(CPU_MASK_BYTES);
    mask[cpu >> 3] = 1 << (cpu & 7);
    if (Number(l.syscall(nr.setAffinity, 'int', 0, 'ulong', CPU_MASK_BYTES, 'void *', mask)) < 0) return null;
    return () => void l.syscall(nr.setAffinity, 'int', 0, 'ulong', CPU_MASK_BYTES, 'void *', old);
  } catch {
    return null;
  }
}

/** The address of a buffer's memory, for pointers inside bpf_attr. */
export function addressOf(b: Buffer): bigint {
  return load().koffi.address(b);
}

/** Why BPF cannot be used here (no koffi, not root, a kernel without bpf()), or null. */
export function bpfUnavailable(): string | null {
  // the tests' way to see the path taken where BPF is missing, on a machine that has it
  if (process.env.DTRACE_TS_NO_BPF === '1') return 'BPF use is turned off (DTRACE_TS_NO_BPF=1)';
  try {
    load();
  } catch (e) {
    return (e as Error).message;
  }
  if (NR[process.arch] === undefined) return `BPF is not supported on ${process.arch} yet`;
  // a tiny array map: the cheapest proof that bpf() works for us
  const attr = Buffer.alloc(128);
  attr.writeUInt32LE(2, 0); // BPF_MAP_TYPE_ARRAY
  attr.writeUInt32LE(4, 4);
  attr.writeUInt32LE(4, 8);
  attr.writeUInt32LE(1, 12);
  try {
    closeFd(bpf(BPF_MAP_CREATE, attr));
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
