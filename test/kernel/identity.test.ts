// Who owns a tracefs instance or a kprobe group: a pid, in a PID namespace, started at a time.
// A reused pid, or the same pid in another namespace, is someone else.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { INIT_PID_NS, Liveness, type Owner, ownerTag, pidNamespace, procStat, self } from '../../src/kernel/identity.js';
import { reapStaleKprobes } from '../../src/kernel/kprobes.js';
import { reapStaleInstances } from '../../src/kernel/tracefs.js';

const DEAD = 2 ** 22 + 1; // above pid_max's default: no such process

test('this process: its pid, its PID namespace, its start time from /proc/self/stat', () => {
  const me = self();
  assert.equal(me.pid, process.pid);
  assert.ok(me.ns > 0 && me.start > 0, JSON.stringify(me));
  assert.equal(me.start, procStat(process.pid)!.start);
  assert.equal(ownerTag('-'), `${me.pid}-${me.ns}-${me.start}`);
});

test('an owner is gone when its pid is, or when the pid now names a process started at another time', () => {
  const me = self();
  const live = new Liveness();
  assert.equal(live.gone(me), false);
  assert.equal(live.gone({ ...me, start: me.start + 1 }), true);
  assert.equal(live.gone({ ...me, pid: DEAD }), true);
  // names without an identity (an older dtrace-ts): the pid decides
  assert.equal(live.gone({ pid: me.pid, ns: 0, start: 0 }), false);
  assert.equal(live.gone({ pid: DEAD, ns: 0, start: 0 }), true);
});

test('an owner in a namespace no process is in: gone, seen from the initial namespace; unknown (kept) from a container', () => {
  const me = self();
  const nowhere: Owner = { pid: me.pid, ns: 1234567, start: me.start };
  assert.equal(new Liveness({ ...me, ns: INIT_PID_NS }).gone(nowhere), true);
  // a dtrace in a container cannot see the host's processes: it leaves their names alone
  assert.equal(new Liveness({ ...me, ns: 7654321 }).gone(nowhere), false);
  assert.equal(new Liveness({ ...me, ns: 7654321 }).gone({ ...me, ns: INIT_PID_NS }), false);
});

/** Starts `sleep` as pid 1 of a new PID namespace; resolves with it and its pid here. */
async function inNewNamespace(): Promise<{ unshare: ChildProcess; pid: number }> {
  const unshare = spawn('unshare', ['--pid', '--fork', 'sleep', '1000'], { stdio: 'ignore' });
  for (;;) {
    // the forked child, once it is the sleep (exec'd): a child of unshare in another namespace
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        if (pidNamespace(Number(e)) !== self().ns && Number(readStatField(Number(e), 4)) === unshare.pid) return { unshare, pid: Number(e) };
      } catch {
        // gone meanwhile
      }
    }
    if (unshare.exitCode !== null) throw new Error('unshare --pid failed');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function readStatField(pid: number, field: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[field - 3];
}

test('an owner in another PID namespace is told by its pid there and its start time', { skip: process.geteuid?.() !== 0 ? 'needs root (unshare --pid)' : false }, async () => {
  const { unshare, pid } = await inNewNamespace();
  try {
    const ns = pidNamespace(pid);
    const start = procStat(pid)!.start;
    const live = new Liveness();
    // pid 1 there is the sleep: alive; the same numbers with another start time, or pid 2, are not
    assert.equal(live.gone({ pid: 1, ns, start }), false);
    assert.equal(live.gone({ pid: 1, ns, start: start + 1 }), true);
    assert.equal(live.gone({ pid: 2, ns, start }), true);
    // and pid 1 here (init) is not mistaken for it
    assert.equal(live.gone({ pid: 1, ns: self().ns, start }), start !== procStat(1)!.start);
  } finally {
    unshare.kill('SIGKILL');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone with unshare
    }
  }
});

test('reaping removes the instances and kprobe groups of owners that are gone, and nothing else', () => {
  const root = mkdtempSync(join(tmpdir(), 'reap-'));
  try {
    const me = self();
    const names = [
      `dtrace-ts-${me.pid}-${me.ns}-${me.start}-abc123`, // this process: alive
      `dtrace-ts-${me.pid}-${me.ns}-${me.start + 1}-abc123`, // its pid, reused
      `dtrace-ts-${DEAD}-${me.ns}-${me.start}-abc123`,
      `dtrace-ts-${DEAD}-x1y2z3`, // an older dtrace-ts's, dead
      `dtrace-ts-${me.pid}-x1y2z3`, // an older dtrace-ts's, alive
      'someone-else',
    ];
    for (const n of names) mkdirSync(join(root, 'instances', n), { recursive: true });
    assert.deepEqual(reapStaleInstances(root).sort(), [names[1], names[2], names[3]].sort());
    assert.deepEqual(readdirSync(join(root, 'instances')).sort(), [names[0], names[4], names[5]].sort());

    writeFileSync(
      join(root, 'kprobe_events'),
      `p:dtrace_ts_${me.pid}_${me.ns}_${me.start}/a_entry a\n` +
        `p:dtrace_ts_${me.pid}_${me.ns}_${me.start + 1}/b_entry b\n` +
        `r:dtrace_ts_${DEAD}_${me.ns}_${me.start}/c_return c\n` +
        `p:dtrace_ts_${me.pid}/d_entry d\n`,
    );
    assert.deepEqual(reapStaleKprobes(root), [`dtrace_ts_${me.pid}_${me.ns}_${me.start + 1}/b_entry`, `dtrace_ts_${DEAD}_${me.ns}_${me.start}/c_return`]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
