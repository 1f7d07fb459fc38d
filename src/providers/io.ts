// The io provider: block I/O starting and completing, made from the kernel's block tracepoints
// (block_bio_queue for start, as the thread that submits the I/O; block_rq_complete and
// block_bio_complete for done). Arguments are DTrace's bufinfo_t, devinfo_t and fileinfo_t,
// built only when D code reads them.                                     [io.d, dt_prov_io.c]
//
// What the tracepoints do not carry reads as zero or "<none>": b_addr, b_iodone, b_resid,
// b_lblkno (= b_blkno), and args[2] (no file is known at the block layer: every member is
// "<none>", fi_offset 0). wait-start and wait-done are not provided: the kernel has no
// tracepoint where a thread waits for a buffer (Oracle's dtrace traces submit_bio_wait() with
// fbt); a description that names one is told so.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type DevNames, deviceNames } from '../kernel/blockdev.js';
import { noKprobeEvents } from '../kernel/platform.js';
import { tracefsRoot } from '../kernel/tracefs.js';
import type { EventHandler } from '../kernel/tracer.js';
import type { TypeScope } from '../lang/typescope.js';
import type { ArgBuilder } from '../runtime/context.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { ArgStruct } from './arg-struct.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';
import { type ProbeDesc, ProviderUnavailable } from './provider.js';
import { isGlob } from './registry.js';

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
        return this.file.bytes;
      default:
        return null;
    }
  }
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
      if (a.error !== 0) a.flags |= 0x4; // B_ERROR
      const args = h.ctx.args;
      args[0] = viewAddress(ViewKind.Arg, 0);
      args[1] = viewAddress(ViewKind.Arg, 1);
      args[2] = viewAddress(ViewKind.Arg, 2);
      h.ctx.argBuild = a;
      h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
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
    { name: 'start', args: IO_ARGS, sources: [{ system: 'block', event: 'block_bio_queue', handler: ioHandler(a, false) }] },
  ];
}

/**
 * Why wait-start and wait-done are not here: a thread's wait for its I/O (submit_bio_wait(), as
 * Oracle's dtrace traces it with fbt) has no tracepoint, so it needs kprobes or fentry.
 */
export function noWaitProbes(name: string, root = tracefsRoot()): string {
  const kernel = existsSync(join(root, 'kprobe_events')) ? 'dtrace-ts does not trace it with kprobes yet' : noKprobeEvents(root);
  return `io:::${name} is not available: it fires as a thread waits for its block I/O (submit_bio_wait(), which no tracepoint marks) and ${kernel}; io:::start and io:::done trace block I/O from tracepoints`;
}

export class IoProvider extends DerivedProvider {
  readonly name = 'io';
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    this.table = probes(types);
  }

  /** A description that names wait-start or wait-done (not a pattern) is told why there are none. */
  provide(desc: ProbeDesc): null {
    if (desc.provider !== this.name || (desc.name !== 'wait-start' && desc.name !== 'wait-done')) return null;
    if (isGlob(desc.module) || isGlob(desc.func)) return null;
    throw new ProviderUnavailable(noWaitProbes(desc.name));
  }
}
