// The lockstat provider. Contention (the *-block and *-spin probes) is made from the kernel's
// lock:contention_begin and contention_end tracepoints (Linux 5.19 and later): the probes fire
// when contention ends, as the thread that waited, with the lock's address and the time waited
// (ns). Acquires and releases have no tracepoint (lockdep's lock_acquire exists in debugging
// kernels only), so where the kernel has kprobe events they are kprobes on the lock functions
// Oracle's dtrace traces with fbt: an acquire fires as the function returns (a trylock only
// when it took the lock), a release as the unlock function is entered, with the lock's address.
// Elsewhere a description that names one is told why. A kernel without the tracepoints has no
// contention probes.                                               [lockstat.d, dt_prov_lockstat.c]

import { existsSync } from 'node:fs';
import { argumentAt } from '../kernel/kprobes.js';
import { noKprobeEvents } from '../kernel/platform.js';
import type { EventHandler } from '../kernel/tracer.js';
import { tracefsIfMounted, tracefsRoot } from '../kernel/tracefs.js';
import type { TypeScope } from '../lang/typescope.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook, kprobeEventsPossible } from './derived.js';
import type { ProbeDesc } from './provider.js';

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

/** Rows of the kernel's rw lock flavour: args[1] of rw-acquire and rw-release, as illumos's krw_t. */
const RW_WRITER = 0n;
const RW_READER = 1n;

/**
 * The lock addresses each thread is inside a lock function with, innermost last: an interrupt
 * taking a lock while its thread is inside another returns first. A return the kernel missed
 * (kretprobe instances run out) leaves an address behind: the depth is bounded.
 */
class Entered {
  private readonly byThread = new Map<number, bigint[]>();

  push(tid: number, lock: bigint): void {
    let s = this.byThread.get(tid);
    if (s === undefined) {
      // threads that are gone are never seen leaving
      if (this.byThread.size >= 4096) this.byThread.clear();
      this.byThread.set(tid, (s = []));
    }
    if (s.length >= 16) s.shift();
    s.push(lock);
  }

  pop(tid: number): bigint | undefined {
    return this.byThread.get(tid)?.pop();
  }
}

/** How an acquire's return is judged: every return, a trylock's 1, a killable/interruptible lock's error. */
const enum Taken {
  Always,
  IfOne,
  IfError,
}

/**
 * An acquire, from kprobes on `symbol`'s entry (the lock, args[0]) and return: fires as it
 * returns, as `taken` says, with args[1] = `arg1` (an rw lock's kind) or the error.
 */
function acquire(symbol: string, taken: Taken, arg1: bigint | null): NonNullable<DerivedProbe['kprobeSources']> {
  const entered = new Entered();
  return [
    {
      symbol,
      isReturn: false,
      fetch: () => [`lock=${argumentAt(0, false)}:x64`],
      handler: (f: Fields): EventHandler => {
        const pidAt = f.at('common_pid');
        const lockAt = f.at('lock');
        return (_c, _p, v, o) => entered.push(v.getInt32(o + pidAt, true), v.getBigUint64(o + lockAt, true));
      },
    },
    {
      symbol,
      isReturn: true,
      fetch: () => ['retval=$retval:s32'],
      handler: (f: Fields, h: Hook): EventHandler => {
        const pidAt = f.at('common_pid');
        const retAt = f.at('retval');
        return (cpu, _p, v, o, _l, ts) => {
          const tid = v.getInt32(o + pidAt, true);
          const lock = entered.pop(tid);
          if (lock === undefined) return;
          const ret = v.getInt32(o + retAt, true);
          if ((taken === Taken.IfOne && ret !== 1) || (taken === Taken.IfError && ret === 0)) return;
          const args = h.ctx.args;
          args[0] = lock;
          args[1] = taken === Taken.IfError ? BigInt(ret) : (arg1 ?? 0n);
          h.fireAs(tid, cpu, ts);
        };
      },
    },
  ];
}

/** A release, from a kprobe on `symbol`'s entry: args[0] the lock, args[1] `arg1` (an rw lock's kind). */
function release(symbol: string, arg1: bigint | null): NonNullable<DerivedProbe['kprobeSources']> {
  return [
    {
      symbol,
      isReturn: false,
      fetch: () => [`lock=${argumentAt(0, false)}:x64`],
      handler: (f: Fields, h: Hook): EventHandler => {
        const pidAt = f.at('common_pid');
        const lockAt = f.at('lock');
        return (cpu, _p, v, o, _l, ts) => {
          const args = h.ctx.args;
          args[0] = v.getBigUint64(o + lockAt, true);
          args[1] = arg1 ?? 0n;
          h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
        };
      },
    },
  ];
}

/** The acquire and release probes, where the kernel has kprobe events (the functions Oracle's dtrace traces). */
function lockFunctionProbes(): DerivedProbe[] {
  return [
    { name: 'adaptive-acquire', args: ['void *'], sources: [], kprobeSources: acquire('mutex_lock', Taken.Always, null) },
    {
      name: 'adaptive-acquire-error',
      args: ['void *', 'int'],
      sources: [],
      kprobeSources: [...acquire('*mutex_lock_killable', Taken.IfError, null), ...acquire('*mutex_lock_interruptible', Taken.IfError, null)],
    },
    { name: 'adaptive-release', args: ['void *'], sources: [], kprobeSources: release('mutex_unlock', null) },
    {
      name: 'rw-acquire',
      args: ['void *', 'int'],
      sources: [],
      kprobeSources: [
        ...acquire('_raw_read_lock*', Taken.Always, RW_READER),
        ...acquire('_raw_read_trylock*', Taken.IfOne, RW_READER),
        ...acquire('_raw_write_lock*', Taken.Always, RW_WRITER),
        ...acquire('_raw_write_trylock*', Taken.IfOne, RW_WRITER),
        // PREEMPT_RT: rwlock_t is an rt_mutex-based lock of its own
        ...acquire('rt_read_lock*', Taken.Always, RW_READER),
        ...acquire('rt_read_trylock*', Taken.IfOne, RW_READER),
        ...acquire('rt_write_lock*', Taken.Always, RW_WRITER),
        ...acquire('rt_write_trylock*', Taken.IfOne, RW_WRITER),
      ],
    },
    {
      name: 'rw-release',
      args: ['void *', 'int'],
      sources: [],
      kprobeSources: [...release('_raw_read_unlock*', RW_READER), ...release('_raw_write_unlock*', RW_WRITER), ...release('rt_read_unlock*', RW_READER), ...release('rt_write_unlock*', RW_WRITER)],
    },
    // PREEMPT_RT: spinlock_t sleeps (rt_spin_lock ...); raw spinlocks stay _raw_spin_lock ...
    {
      name: 'spin-acquire',
      args: ['void *'],
      sources: [],
      kprobeSources: [...acquire('_raw_spin_lock*', Taken.Always, null), ...acquire('_raw_spin_trylock*', Taken.IfOne, null), ...acquire('rt_spin_lock*', Taken.Always, null), ...acquire('rt_spin_trylock*', Taken.IfOne, null)],
    },
    { name: 'spin-release', args: ['void *'], sources: [], kprobeSources: [...release('_raw_spin_unlock*', null), ...release('rt_spin_unlock*', null)] },
  ];
}

const LOCK_FUNCTION_PROBES = ['adaptive-acquire', 'adaptive-acquire-error', 'adaptive-release', 'rw-acquire', 'rw-release', 'spin-acquire', 'spin-release'];

/** Why an acquire or release probe is not here. */
export function noLockFunctionProbes(name: string, root = tracefsRoot()): string {
  return `lockstat:::${name} is not available: it fires as the kernel's lock functions take or drop a lock, which no tracepoint marks, and ${noKprobeEvents(root)}; lockstat's *-block and *-spin probes trace contention from tracepoints`;
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
  protected readonly table: DerivedProbe[];

  constructor(types: TypeScope) {
    super(types);
    const root = tracefsIfMounted();
    // before 5.19 the kernel has no lock tracepoints: no contention probes
    const contention = root !== null && existsSync(`${root}/events/lock/contention_begin`);
    this.table = [...(contention ? probes() : []), ...(kprobeEventsPossible() ? lockFunctionProbes() : [])];
  }

  /** Where the kernel has no kprobe events, a description that names an acquire or release probe (not a pattern) is told why. */
  provide(desc: ProbeDesc): null {
    return this.refuseAbsent(desc, LOCK_FUNCTION_PROBES, (name) => noLockFunctionProbes(name));
  }
}
