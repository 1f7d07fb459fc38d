// The lockstat provider: kernel lock contention, made from the kernel's lock:contention_begin
// and contention_end tracepoints (Linux 5.19 and later). The probes fire when contention ends,
// as the thread that waited, with the lock's address and the time waited (ns). Only contention
// is traced: the kernel has no tracepoint for uncontended acquires and releases, so the
// *-acquire and *-release probes are not provided; on a kernel without the tracepoints the
// provider has no probes.                                       [lockstat.d, dt_prov_lockstat.c]

import { existsSync } from 'node:fs';
import type { EventHandler } from '../kernel/tracer.js';
import { tracefsIfMounted } from '../kernel/tracefs.js';
import type { TypeScope } from '../lang/typescope.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';
import type { NewProbe } from './provider.js';

/** contention_begin's flags (include/trace/events/lock.h) */
const LCB_F_SPIN = 1 << 0;
const LCB_F_READ = 1 << 1;
const LCB_F_WRITE = 1 << 2;
const LCB_F_MUTEX = 1 << 5;

/** Which probe a contention is: by its flags. */
export const enum LockKind {
  AdaptiveBlock,
  AdaptiveSpin,
  RwBlock,
  RwSpin,
  SpinSpin,
  Other,
}

export function lockKind(flags: number): LockKind {
  const spin = (flags & LCB_F_SPIN) !== 0;
  if (flags & LCB_F_MUTEX) return spin ? LockKind.AdaptiveSpin : LockKind.AdaptiveBlock;
  if (flags & (LCB_F_READ | LCB_F_WRITE)) return spin ? LockKind.RwSpin : LockKind.RwBlock;
  return spin ? LockKind.SpinSpin : LockKind.Other;
}

/** What each thread is waiting for: since when, on what, how. */
class Waits {
  readonly since = new Map<number, number>();
  readonly flags = new Map<number, number>();
}

function contention(kind: LockKind, waits: Waits): DerivedProbe['sources'] {
  return [
    {
      system: 'lock',
      event: 'contention_begin',
      handler: (f: Fields): EventHandler => {
        const pidAt = f.at('common_pid');
        const flagsAt = f.at('flags');
        return (_c, _p, v, o, _l, ts) => {
          const tid = v.getInt32(o + pidAt, true);
          waits.since.set(tid, ts);
          waits.flags.set(tid, v.getUint32(o + flagsAt, true));
        };
      },
    },
    {
      system: 'lock',
      event: 'contention_end',
      handler: (f: Fields, h: Hook): EventHandler => {
        const pidAt = f.at('common_pid');
        const lockAt = f.at('lock_addr');
        return (cpu, _p, v, o, _l, ts) => {
          const tid = v.getInt32(o + pidAt, true);
          const since = waits.since.get(tid);
          const flags = waits.flags.get(tid);
          if (since === undefined || flags === undefined || lockKind(flags) !== kind) return;
          const args = h.ctx.args;
          args[0] = v.getBigUint64(o + lockAt, true);
          args[1] = BigInt(Math.max(0, ts - since));
          args[2] = flags & LCB_F_WRITE ? 1n : 0n;
          h.fireAs(tid, cpu, ts);
        };
      },
    },
  ];
}

function probes(): DerivedProbe[] {
  const waits = new Waits();
  return [
    { name: 'adaptive-block', args: ['void *', 'uint64_t'], sources: contention(LockKind.AdaptiveBlock, waits) },
    { name: 'adaptive-spin', args: ['void *', 'uint64_t'], sources: contention(LockKind.AdaptiveSpin, waits) },
    { name: 'rw-block', args: ['void *', 'uint64_t', 'int'], sources: contention(LockKind.RwBlock, waits) },
    { name: 'rw-spin', args: ['void *', 'uint64_t', 'int'], sources: contention(LockKind.RwSpin, waits) },
    { name: 'spin-spin', args: ['void *', 'uint64_t'], sources: contention(LockKind.SpinSpin, waits) },
  ];
}

export class LockstatProvider extends DerivedProvider {
  readonly name = 'lockstat';
  protected readonly table = probes();

  constructor(types: TypeScope) {
    super(types);
  }

  override populate(newProbe: NewProbe): void {
    const root = tracefsIfMounted();
    // before 5.19 the kernel has no lock tracepoints: no probes (descriptions match nothing)
    if (root === null || !existsSync(`${root}/events/lock/contention_begin`)) return;
    super.populate(newProbe);
  }
}
