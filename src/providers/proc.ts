// The proc provider: process and thread life cycle, exec, and signals, made from the kernel's
// task, sched, signal and syscall tracepoints. Arguments are DTrace's: psinfo_t and lwpsinfo_t
// views of the task concerned, built only when D code reads them.             [dt_prov_proc.c]

import type { EventHandler } from '../kernel/tracer.js';
import { ViewKind, viewAddress } from '../runtime/memory.js';
import { type DerivedProbe, DerivedProvider, type Fields, type Hook } from './derived.js';

const CLONE_THREAD = 0x10000n;
/** signal_generate's result: the signal was delivered, or queued without its info */
const SIGNAL_DELIVERED = 0;
const SIGNAL_IGNORED = 1;
const SIGNAL_LOSE_INFO = 4;
/** proc:::exit's argument: how the process ended (wait(2)'s si_code) */
const CLD_EXITED = 1n;
const CLD_KILLED = 2n;

type Make = (f: Fields, h: Hook) => EventHandler;

/** task_newtask, for new processes (`thread` false) or new threads; `asChild`: fire as the new task. */
function newTask(thread: boolean, asChild: boolean, args: (h: Hook, child: number) => void): Make {
  return (f, h) => {
    const pidAt = f.at('pid');
    const flagsAt = f.at('clone_flags');
    const parentAt = f.at('common_pid');
    return (cpu, _page, v, o, _len, ts) => {
      const isThread = (v.getBigUint64(o + flagsAt, true) & CLONE_THREAD) !== 0n;
      if (isThread !== thread) return;
      const child = v.getInt32(o + pidAt, true);
      args(h, child);
      h.fireAs(asChild ? child : v.getInt32(o + parentAt, true), cpu, ts);
    };
  };
}

/** The thread that wrote the record fires the probe, after `args` fills the arguments (false: do not fire). */
function asWriter(args: (h: Hook, v: DataView, o: number, f: Fields) => boolean): Make {
  return (f, h) => {
    const pidAt = f.at('common_pid');
    return (cpu, _page, v, o, _len, ts) => {
      if (args(h, v, o, f)) h.fireAs(v.getInt32(o + pidAt, true), cpu, ts);
    };
  };
}

function views(h: Hook, tid: number): void {
  h.ctx.args[0] = viewAddress(ViewKind.Lwpsinfo, tid);
  h.ctx.args[1] = viewAddress(ViewKind.Psinfo, tid);
}

/** `exiting`: processes that called exit_group() (their end is CLD_EXITED, not a signal's). */
function exitProbe(groupDead: boolean, exiting: Set<number>): DerivedProbe['sources'] {
  return [
    {
      system: 'syscalls',
      event: 'sys_enter_exit_group',
      handler: (f, h) => {
        const pidAt = f.at('common_pid');
        return (_c, _p, v, o) => {
          exiting.add(h.tracer.procs.lookup(v.getInt32(o + pidAt, true)).tgid);
        };
      },
    },
    {
      system: 'sched',
      event: 'sched_process_exit',
      handler: (f, h) => {
        const pidAt = f.at('pid');
        const deadAt = f.has('group_dead') ? f.at('group_dead') : -1;
        return (cpu, _p, v, o, _l, ts) => {
          const tid = v.getInt32(o + pidAt, true);
          const task = h.tracer.procs.lookup(tid);
          // without group_dead (old kernels), the leader's exit stands for the process's
          const dead = deadAt >= 0 ? v.getUint8(o + deadAt) !== 0 : task.tgid === tid;
          if (dead !== groupDead) return;
          if (groupDead) {
            h.ctx.args[0] = exiting.delete(task.tgid) ? CLD_EXITED : CLD_KILLED;
          }
          h.fireAs(tid, cpu, ts);
        };
      },
    },
  ];
}

function signalGenerate(results: number[]): DerivedProbe['sources'] {
  return [
    {
      system: 'signal',
      event: 'signal_generate',
      handler: asWriter((h, v, o, f) => {
        if (!results.includes(v.getInt32(o + f.at('result'), true))) return false;
        views(h, v.getInt32(o + f.at('pid'), true));
        h.ctx.args[2] = BigInt(v.getInt32(o + f.at('sig'), true));
        return true;
      }),
    },
  ];
}

function execReturn(success: boolean): DerivedProbe['sources'] {
  return ['sys_exit_execve', 'sys_exit_execveat'].map((event) => ({
    system: 'syscalls',
    event,
    handler: asWriter((h, v, o, f) => {
      const ret = v.getBigInt64(o + f.at('ret'), true);
      if (success || ret >= 0n) return false;
      h.ctx.args[0] = -ret;
      return true;
    }),
  }));
}

function probes(): DerivedProbe[] {
  const exiting = new Set<number>();
  return [
  {
    name: 'create',
    args: ['psinfo_t *'],
    sources: [{ system: 'task', event: 'task_newtask', handler: newTask(false, false, (h, c) => (h.ctx.args[0] = viewAddress(ViewKind.Psinfo, c))) }],
  },
  {
    name: 'exec',
    args: ['string'],
    // the path is copied in the kernel when execve() is called: afterwards it is gone
    sources: ['sys_enter_execve', 'sys_enter_execveat'].map((event) => ({
      system: 'syscalls',
      event,
      handler: (f: Fields, h: Hook): EventHandler => {
        const pidAt = f.at('common_pid');
        const nameAt = f.at('filename');
        h.tracer.user.want(f.format, [{ ptrOffset: nameAt, maxLen: 256 }]);
        return (cpu, page, v, o, _len, ts) => {
          const tid = v.getInt32(o + pidAt, true);
          h.tracer.user.take(tid, f.format.id, page, v, o);
          h.ctx.argStrs[0] = h.tracer.userString(tid, v.getBigUint64(o + nameAt, true));
          h.fireAs(tid, cpu, ts);
        };
      },
    })),
  },
  { name: 'exec-failure', args: ['int'], sources: execReturn(false) },
  { name: 'exec-success', args: [], sources: [{ system: 'sched', event: 'sched_process_exec', handler: asWriter(() => true) }] },
  { name: 'exit', args: ['int'], sources: exitProbe(true, exiting) },
  {
    name: 'lwp-create',
    args: ['lwpsinfo_t *', 'psinfo_t *'],
    sources: [{ system: 'task', event: 'task_newtask', handler: newTask(true, false, views) }],
  },
  { name: 'lwp-exit', args: [], sources: exitProbe(false, exiting) },
  { name: 'lwp-start', args: [], sources: [{ system: 'task', event: 'task_newtask', handler: newTask(true, true, () => {}) }] },
  {
    name: 'signal-clear',
    args: ['int'],
    sources: [
      {
        system: 'syscalls',
        event: 'sys_exit_rt_sigtimedwait',
        handler: asWriter((h, v, o, f) => {
          const ret = v.getBigInt64(o + f.at('ret'), true);
          h.ctx.args[0] = ret;
          return ret > 0n;
        }),
      },
    ],
  },
  { name: 'signal-discard', args: ['lwpsinfo_t *', 'psinfo_t *', 'int'], sources: signalGenerate([SIGNAL_IGNORED]) },
  {
    name: 'signal-handle',
    args: ['int', 'uintptr_t', 'uintptr_t'],
    sources: [
      {
        system: 'signal',
        event: 'signal_deliver',
        handler: asWriter((h, v, o, f) => {
          h.ctx.args[0] = BigInt(v.getInt32(o + f.at('sig'), true));
          // the kernel does not publish the siginfo's address
          h.ctx.args[1] = 0n;
          h.ctx.args[2] = v.getBigInt64(o + f.at('sa_handler'), true);
          return true;
        }),
      },
    ],
  },
  { name: 'signal-send', args: ['lwpsinfo_t *', 'psinfo_t *', 'int'], sources: signalGenerate([SIGNAL_DELIVERED, SIGNAL_LOSE_INFO]) },
  { name: 'start', args: [], sources: [{ system: 'task', event: 'task_newtask', handler: newTask(false, true, () => {}) }] },
  ];
}

export class ProcProvider extends DerivedProvider {
  readonly name = 'proc';
  protected readonly table = probes();
}
