// The sched provider: threads going on and off CPU, waking and being queued, and clock ticks,
// made from the kernel's sched and timer tracepoints. Arguments are lwpsinfo_t, psinfo_t and
// cpuinfo_t views, built only when D code reads them.                        [dt_prov_sched.c]

import { readFileSync } from 'node:fs';
import type { EventHandler } from '../kernel/tracer.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';

/** prev_state of a thread switched out while still runnable (preempted, not blocking) */
const TASK_RUNNING = 0n;

function views(h: Hook, tid: number): void {
  h.ctx.args[0] = viewAddress(ViewKind.Lwpsinfo, tid);
  h.ctx.args[1] = viewAddress(ViewKind.Psinfo, tid);
}

/** sched_switch, firing as the thread leaving (or, `asNext`, the one arriving). */
function onSwitch(fire: (h: Hook, prev: number, next: number, prevState: bigint, cpu: number) => number | null): (f: Fields, h: Hook) => EventHandler {
  return (f, h) => {
    const prevAt = f.at('prev_pid');
    const nextAt = f.at('next_pid');
    const stateAt = f.at('prev_state');
    return (cpu, _p, v, o, _l, ts) => {
      const who = fire(h, v.getInt32(o + prevAt, true), v.getInt32(o + nextAt, true), v.getBigInt64(o + stateAt, true), cpu);
      if (who !== null) h.fireAs(who, cpu, ts);
    };
  };
}

/** sched_wakeup(_new): the waker fires; the arguments are the woken thread (and its CPU). */
function onWakeup(withCpu: boolean): (f: Fields, h: Hook) => EventHandler {
  return (f, h) => {
    const pidAt = f.at('pid');
    const cpuAt = f.has('target_cpu') ? f.at('target_cpu') : -1;
    const writerAt = f.at('common_pid');
    return (cpu, _p, v, o, _l, ts) => {
      views(h, v.getInt32(o + pidAt, true));
      if (withCpu) h.ctx.args[2] = viewAddress(ViewKind.Cpuinfo, cpuAt >= 0 ? v.getInt32(o + cpuAt, true) : cpu);
      h.fireAs(v.getInt32(o + writerAt, true), cpu, ts);
    };
  };
}

/** The kernel's tick handler, whose hrtimer expiries are clock ticks. */
function tickHandler(): bigint {
  try {
    const syms = readFileSync('/proc/kallsyms', 'latin1');
    for (const name of ['tick_nohz_handler', 'tick_sched_timer']) {
      const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, 'm').exec(syms);
      if (m && BigInt('0x' + m[1]) !== 0n) return BigInt('0x' + m[1]);
    }
  } catch {
    // no symbols: no ticks
  }
  return 0n;
}

function probes(): DerivedProbe[] {
  const sw = (fire: Parameters<typeof onSwitch>[0]) => [{ system: 'sched', event: 'sched_switch', handler: onSwitch(fire) }];
  const wake = (withCpu: boolean) =>
    ['sched_wakeup', 'sched_wakeup_new'].map((event) => ({ system: 'sched', event, handler: onWakeup(withCpu) }));
  let tick = -1n;
  return [
    {
      name: 'dequeue',
      args: ['lwpsinfo_t *', 'psinfo_t *', 'cpuinfo_t *'],
      // a thread switched out while not runnable leaves the run queue
      sources: sw((h, prev, _n, state, cpu) => {
        if (state === TASK_RUNNING) return null;
        views(h, prev);
        h.ctx.args[2] = viewAddress(ViewKind.Cpuinfo, cpu);
        return prev;
      }),
    },
    { name: 'enqueue', args: ['lwpsinfo_t *', 'psinfo_t *', 'cpuinfo_t *'], sources: wake(true) },
    {
      name: 'off-cpu',
      args: ['lwpsinfo_t *', 'psinfo_t *'],
      sources: sw((h, prev, next) => {
        views(h, next);
        return prev;
      }),
    },
    { name: 'on-cpu', args: [], sources: sw((_h, _p, next) => next) },
    {
      name: 'surrender',
      args: ['lwpsinfo_t *', 'psinfo_t *'],
      // preempted: switched out while still runnable
      sources: sw((h, prev, _n, state) => {
        if (state !== TASK_RUNNING || prev === 0) return null;
        views(h, prev);
        return prev;
      }),
    },
    {
      name: 'tick',
      args: ['lwpsinfo_t *', 'psinfo_t *'],
      sources: [
        {
          system: 'timer',
          event: 'hrtimer_expire_entry',
          handler: (f, h) => {
            const fnAt = f.at('function');
            const pidAt = f.at('common_pid');
            if (tick < 0n) tick = tickHandler();
            return (cpu, _p, v, o, _l, ts) => {
              if (v.getBigUint64(o + fnAt, true) !== tick) return;
              const tid = v.getInt32(o + pidAt, true);
              views(h, tid);
              h.fireAs(tid, cpu, ts);
            };
          },
        },
      ],
    },
    { name: 'wakeup', args: ['lwpsinfo_t *', 'psinfo_t *'], sources: wake(false) },
  ];
}

export class SchedProvider extends DerivedProvider {
  readonly name = 'sched';
  protected readonly table = probes();
}
