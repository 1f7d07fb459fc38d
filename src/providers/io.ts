// The io provider: block I/O starting and completing, made from the kernel's block tracepoints
// (block_bio_queue for start, as the thread that submits the I/O; block_rq_complete and
// block_bio_complete for done). Arguments are DTrace's bufinfo_t, devinfo_t and fileinfo_t,
// built only when D code reads them.                                     [io.d, dt_prov_io.c]
//
// What the tracepoints do not carry reads as zero: b_addr, b_iodone, b_resid, b_lblkno
// (= b_blkno). args[2], fileinfo_t: where BPF and BTF can be used and a clause reads it,
// io:::start comes from a program on block_bio_queue's raw tracepoint that reads the bio and
// the file it is for as it fires (io-file.ts: a page cache page's inode, or a direct I/O's
// kiocb through iomap); I/O for no file (a block device's own, a file system's metadata) and
// io:::done have every member "<none>", fi_offset 0, as DTrace's translator gives for no file.
// wait-start and wait-done: the kernel has no tracepoint where a thread waits for a buffer, so
// where it has kprobe events they are kprobes on submit_bio_wait() (as Oracle's dtrace traces
// it with fbt): its entry (wait-start), with the bio's device, sector, size and operation read
// by the kprobe through BTF's offsets, and its return (wait-done), with what its entry was
// given and its error; a wait under way as the session began does not fire wait-done. I/O a
// thread waits for otherwise (a direct I/O's, a page's) does not fire them, as in Oracle's
// dtrace. Where there are no kprobe events, a description that names one is told why.

import { DFatalError } from '../errors.js';
import { argumentAt } from '../kernel/kprobes.js';
import { type DevNames, deviceNames } from '../kernel/blockdev.js';
import { noKprobeEvents } from '../kernel/platform.js';
import { RAW_TID, rawValuesAt } from '../kernel/bpf/raw-tracepoints.js';
import { bpfUnavailable } from '../kernel/bpf/sys.js';
import { kernelTypes, memberOffset } from '../kernel/btf.js';
import { mountOfDevice } from '../kernel/procfs.js';
import { tracefsRoot } from '../kernel/tracefs.js';
import type { EventHandler } from '../kernel/tracer.js';
import type { TypeScope } from '../lang/typescope.js';
import type { ArgBuilder } from '../runtime/context.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { ArgStruct } from './arg-struct.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook, kprobeEventsPossible } from './derived.js';
import type { ProbeDesc } from './provider.js';
import { FILE_NAME_BYTES, IOF_DEV, IOF_NAME, IOF_NAMES, IOF_OFFSET, IOF_OFLAGS, IOF_OPF, IOF_ROOT, IOF_SDEV, IOF_SECTOR, IOF_SIZE, ioFileKnowable, ioFileValues } from './io-file.js';
import { cstr } from './kernel-files.js';

const B_ASYNC = 0x400;
const B_PHYS = 0x20;
const B_READ = 0x40;
const B_WRITE = 0x100;
/** the kernel's dev_t: 12 bits of major, 20 of minor */
const MINORBITS = 20;

export const IO_ARGS = ['bufinfo_t *', 'devinfo_t *', 'fileinfo_t *'];

/** The arguments of one firing. */
export class IoArgs implements ArgBuilder {
  flags = 0;
  bytes = 0;
  /** the block number (sector), as two halves */
  blkHi = 0;
  blkLo = 0;
  dev = 0;
  error = 0;
  /** the file, as io:::start's program read it (io-file.ts): its area in `fileView`, -1: none */
  fileView: DataView = new DataView(new ArrayBuffer(8));
  fileAt = -1;
  private readonly buf: ArgStruct;
  private readonly devi: ArgStruct;
  private readonly file: ArgStruct;
  private readonly devs = new Map<number, DevNames>();

  constructor(types: TypeScope) {
    this.buf = new ArgStruct(types, 'bufinfo_t');
    this.devi = new ArgStruct(types, 'devinfo_t');
    this.file = new ArgStruct(types, 'fileinfo_t');
    const f = this.file;
    for (const m of ['fi_name', 'fi_dirname', 'fi_pathname', 'fi_fs', 'fi_mount']) f.str(m, '<none>');
  }

  /** fileinfo_t: the file io:::start's program found, else every member "<none>" (fi_offset 0), as DTrace's translator for no file. */
  private fileBytes(): Uint8Array {
    const f = this.file;
    const v = this.fileView;
    const at = this.fileAt;
    const n = at < 0 ? 0 : v.getInt32(at + IOF_NAMES, true);
    // a file system mounted nowhere (the block device's own page cache: metadata, journal) has no file
    const where = n <= 0 ? null : mountOfDevice(v.getUint32(at + IOF_SDEV, true));
    if (where === null) {
      f.clear();
      for (const m of ['fi_name', 'fi_dirname', 'fi_pathname', 'fi_fs', 'fi_mount']) f.str(m, '<none>');
      return f.bytes;
    }
    f.clear();
    const names: string[] = [];
    for (let k = 0; k < n; k++) names.push(cstr(v, at + IOF_NAME + k * FILE_NAME_BYTES, FILE_NAME_BYTES));
    f.str('fi_name', names[0]);
    f.set('fi_offset', v.getUint32(at + IOF_OFFSET, true) + v.getUint32(at + IOF_OFFSET + 4, true) * 4294967296);
    // the open file's f_flags, as fds[] has them (direct I/O; buffered I/O's pages have no open file: 0)
    f.set('fi_oflags', v.getInt32(at + IOF_OFLAGS, true));
    f.str('fi_fs', where.fstype || '<unknown>');
    f.str('fi_mount', where.mount || '<unknown>');
    // the path from the file system's root (the last name, "/"), under its mount point; a name
    // as long as its slot may be cut
    const whole = v.getUint32(at + IOF_ROOT, true) === 1 && names.every((x) => x.length < FILE_NAME_BYTES - 1);
    if (!whole) {
      f.str('fi_pathname', '<unknown>');
      f.str('fi_dirname', '<unknown>');
      return f.bytes;
    }
    let rel = '';
    for (let k = 0; k < n - 1; k++) rel = `/${names[k]}${rel}`;
    const path = where.mount === '/' ? rel || '/' : `${where.mount}${rel}`;
    f.str('fi_pathname', path);
    const slash = path.lastIndexOf('/');
    f.str('fi_dirname', slash <= 0 ? '/' : path.slice(0, slash));
    return f.bytes;
  }

  build(slot: number): Uint8Array | null {
    switch (slot) {
      case 0: {
        const s = this.buf;
        s.clear();
        s.set('b_flags', this.flags);
        s.set('b_bcount', this.bytes);
        s.set('b_bufsize', this.bytes);
        const blk = (BigInt(this.blkHi >>> 0) << 32n) | BigInt(this.blkLo >>> 0);
        s.set('b_blkno', blk);
        s.set('b_lblkno', blk);
        s.set('b_error', this.error);
        s.set('b_edev', this.dev);
        return s.bytes;
      }
      case 1: {
        const major = this.dev >>> MINORBITS;
        const minor = this.dev & ((1 << MINORBITS) - 1);
        let d = this.devs.get(this.dev);
        if (d === undefined) {
          d = deviceNames(major, minor);
          this.devs.set(this.dev, d);
        }
        const s = this.devi;
        s.clear();
        s.set('dev_major', major);
        s.set('dev_minor', minor);
        s.set('dev_instance', d.instance);
        s.str('dev_name', d.name);
        s.str('dev_statname', d.statname);
        s.str('dev_pathname', d.pathname);
        return s.bytes;
      }
      case 2:
        return this.fileBytes();
      default:
        return null;
    }
  }
}

/** The kernel's REQ_SYNC (1 << __REQ_SYNC, from BTF's enum req_flag_bits), 0 if not known. */
let reqSync: number | undefined;

function reqSyncBit(): number {
  if (reqSync === undefined) {
    const e = kernelTypes.lookup('enum req_flag_bits')?.enumerators.find(([n]) => n === '__REQ_SYNC');
    reqSync = e === undefined ? 0 : 2 ** e[1];
  }
  return reqSync;
}

/** b_flags from a bio's bi_opf, as rwbsFlags() from the letters the kernel makes of it (blk_fill_rwbs). */
function opfFlags(opf: number): number {
  // REQ_OP_MASK: the low 8 bits; the ops that write are odd (op_is_write)
  const read = (opf & 1) === 0;
  const bit = reqSyncBit();
  const sync = bit !== 0 && Math.floor(opf / bit) % 2 === 1;
  return (read ? B_READ : B_WRITE) | (sync ? 0 : B_ASYNC) | B_PHYS;
}

/** b_flags from the kernel's rwbs letters (R read, W write, D discard, S sync, F flush...). */
export function rwbsFlags(v: DataView, at: number): number {
  let read = true;
  let sync = false;
  for (let i = 0; i < 10; i++) {
    const c = v.getUint8(at + i);
    if (c === 0) break;
    if (c === 0x57 /* W */ || c === 0x44 /* D */) read = false;
    else if (c === 0x53 /* S */) sync = true;
  }
  return (read ? B_READ : B_WRITE) | (sync ? 0 : B_ASYNC) | B_PHYS;
}

function pointIoArgs(h: Hook, a: IoArgs): void {
  const args = h.ctx.args;
  args[0] = viewAddress(ViewKind.Arg, 0);
  args[1] = viewAddress(ViewKind.Arg, 1);
  args[2] = viewAddress(ViewKind.Arg, 2);
  h.ctx.argBuild = a;
}

function ioHandler(a: IoArgs, done: boolean) {
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const devAt = f.at('dev');
    const secAt = f.at('sector');
    const nrAt = f.at('nr_sector');
    const rwbsAt = f.at('rwbs');
    const errAt = f.has('error') ? f.at('error') : -1;
    return (cpu, _p, v, o, _l, ts) => {
      a.dev = v.getUint32(o + devAt, true);
      a.blkLo = v.getUint32(o + secAt, true);
      a.blkHi = v.getUint32(o + secAt + 4, true);
      a.bytes = v.getUint32(o + nrAt, true) * 512;
      a.flags = rwbsFlags(v, o + rwbsAt) | (done ? 0x2 /* B_DONE */ : 0x1 /* B_BUSY */);
      a.error = errAt >= 0 ? -v.getInt32(o + errAt, true) : 0;
      a.fileAt = -1;
      if (a.error !== 0) a.flags |= 0x4; // B_ERROR
      pointIoArgs(h, a);
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

/** block_bio_queue's raw tracepoint, with the bio's numbers and file read as it fired (io-file.ts). */
function ioFileHandler(a: IoArgs) {
  return (h: Hook): EventHandler => {
    const vals = rawValuesAt(1);
    return (cpu, _p, v, o, _l, ts) => {
      const at = o + vals;
      a.dev = v.getUint32(at + IOF_DEV, true);
      a.blkLo = v.getUint32(at + IOF_SECTOR, true);
      a.blkHi = v.getUint32(at + IOF_SECTOR + 4, true);
      a.bytes = v.getUint32(at + IOF_SIZE, true);
      a.flags = opfFlags(v.getUint32(at + IOF_OPF, true)) | 0x1; // B_BUSY
      a.error = 0;
      a.fileView = v;
      a.fileAt = at;
      pointIoArgs(h, a);
      h.fireAs(v.getInt32(o + RAW_TID, true), cpu, ts);
    };
  };
}

/** Whether io:::start reads its file as it fires (a clause reads args[2], and BPF and BTF can). */
function fileNeeded(h: Hook): boolean {
  return h.reads(2) && bpfUnavailable() === null && ioFileKnowable();
}

function probes(types: TypeScope): DerivedProbe[] {
  const a = new IoArgs(types);
  return [
    {
      name: 'done',
      args: IO_ARGS,
      sources: [
        { system: 'block', event: 'block_rq_complete', handler: ioHandler(a, true) },
        { system: 'block', event: 'block_bio_complete', handler: ioHandler(a, true) },
      ],
    },
    {
      name: 'start',
      args: IO_ARGS,
      sources: [{ system: 'block', event: 'block_bio_queue', handler: ioHandler(a, false) }],
      rawSources: [{ tracepoint: 'block_bio_queue', args: 1, values: () => [ioFileValues()!], handler: ioFileHandler(a), needed: fileNeeded }],
    },
  ];
}

/** Where submit_bio_wait()'s kprobe reads its bio (struct bio's bi_bdev, bi_opf, bi_iter; block_device's bd_dev), from BTF; null: not placed. */
function waitFetch(): string[] | null {
  const bio = kernelTypes.lookup('struct bio');
  const bdev = memberOffset(bio, ['bi_bdev']);
  const opf = memberOffset(bio, ['bi_opf']);
  const sector = memberOffset(bio, ['bi_iter', 'bi_sector']);
  const size = memberOffset(bio, ['bi_iter', 'bi_size']);
  const bdDev = memberOffset(kernelTypes.lookup('struct block_device'), ['bd_dev']);
  if (bdev === null || opf === null || sector === null || size === null || bdDev === null) return null;
  const at = argumentAt(0, false);
  return [`dev=+${bdDev}(+${bdev}(${at})):u32`, `sector=+${sector}(${at}):u64`, `size=+${size}(${at}):u32`, `opf=+${opf}(${at}):u32`];
}

/**
 * Why wait-start and wait-done are not here: a thread's wait for its I/O (submit_bio_wait(), as
 * Oracle's dtrace traces it with fbt) has no tracepoint, and the kernel has no kprobe events.
 */
export function noWaitProbes(name: string, root = tracefsRoot()): string {
  return `io:::${name} is not available: it fires as a thread waits for its block I/O (submit_bio_wait(), which no tracepoint marks) and ${noKprobeEvents(root)}; io:::start and io:::done trace block I/O from tracepoints`;
}

/** What a thread's submit_bio_wait() was given, kept from its entry for its return. */
class Waiting {
  live = false;
  dev = 0;
  blkLo = 0;
  blkHi = 0;
  bytes = 0;
  flags = 0;
}

/** submit_bio_wait()'s entry: fires wait-start, or (`waiting`) keeps the bio's numbers for wait-done. */
function waitEntry(a: IoArgs, waiting: Map<number, Waiting> | null) {
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const devAt = f.at('dev');
    const secAt = f.at('sector');
    const sizeAt = f.at('size');
    const opfAt = f.at('opf');
    return (cpu, _p, v, o, _l, ts) => {
      const tid = v.getInt32(o + pidAt, true);
      const flags = opfFlags(v.getUint32(o + opfAt, true));
      if (waiting !== null) {
        let w = waiting.get(tid);
        if (w === undefined) {
          // bounded: threads that never return here (gone) are not seen leaving
          if (waiting.size >= 4096) waiting.clear();
          w = new Waiting();
          waiting.set(tid, w);
        }
        w.live = true;
        w.dev = v.getUint32(o + devAt, true);
        w.blkLo = v.getUint32(o + secAt, true);
        w.blkHi = v.getUint32(o + secAt + 4, true);
        w.bytes = v.getUint32(o + sizeAt, true);
        w.flags = flags;
        return;
      }
      a.dev = v.getUint32(o + devAt, true);
      a.blkLo = v.getUint32(o + secAt, true);
      a.blkHi = v.getUint32(o + secAt + 4, true);
      a.bytes = v.getUint32(o + sizeAt, true);
      a.flags = flags | 0x1; // B_BUSY
      a.error = 0;
      a.fileAt = -1;
      pointIoArgs(h, a);
      h.fireAs(tid, cpu, ts);
    };
  };
}

/** submit_bio_wait()'s return: wait-done, with what its entry kept and its error. */
function waitReturn(a: IoArgs, waiting: Map<number, Waiting>) {
  return (f: Fields, h: Hook): EventHandler => {
    const pidAt = f.at('common_pid');
    const retAt = f.at('retval');
    return (cpu, _p, v, o, _l, ts) => {
      const tid = v.getInt32(o + pidAt, true);
      const w = waiting.get(tid);
      if (w === undefined || !w.live) return;
      w.live = false;
      a.dev = w.dev;
      a.blkLo = w.blkLo;
      a.blkHi = w.blkHi;
      a.bytes = w.bytes;
      a.error = -v.getInt32(o + retAt, true);
      a.flags = w.flags | 0x2 | (a.error !== 0 ? 0x4 : 0); // B_DONE, B_ERROR
      a.fileAt = -1;
      pointIoArgs(h, a);
      h.fireAs(tid, cpu, ts);
    };
  };
}

/** wait-start and wait-done, from kprobes on submit_bio_wait() (see kprobeEventsPossible). */
function waitProbes(a: IoArgs): DerivedProbe[] {
  const bioFetch = (): string[] => {
    const f = waitFetch();
    if (f === null) throw new DFatalError("could not enable tracing: io:::wait-start and wait-done read submit_bio_wait()'s bio, which the kernel's BTF does not place");
    return f;
  };
  const waiting = new Map<number, Waiting>();
  return [
    {
      name: 'wait-start',
      args: IO_ARGS,
      sources: [],
      kprobeSources: [{ symbol: 'submit_bio_wait', isReturn: false, fetch: bioFetch, handler: waitEntry(a, null) }],
    },
    {
      name: 'wait-done',
      args: IO_ARGS,
      sources: [],
      kprobeSources: [
        { symbol: 'submit_bio_wait', isReturn: false, fetch: bioFetch, handler: waitEntry(a, waiting) },
        { symbol: 'submit_bio_wait', isReturn: true, fetch: () => ['retval=$retval:s32'], handler: waitReturn(a, waiting) },
      ],
    },
  ];
}

export class IoProvider extends DerivedProvider {
  readonly name = 'io';
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    this.table = probes(types);
    if (kprobeEventsPossible()) this.table.push(...waitProbes(new IoArgs(types)));
  }

  /** Where the kernel has no kprobe events, a description that names wait-start or wait-done (not a pattern) is told why there are none. */
  provide(desc: ProbeDesc): null {
    return this.refuseAbsent(desc, ['wait-start', 'wait-done'], (name) => noWaitProbes(name));
  }
}
