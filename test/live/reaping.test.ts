// What a killed dtrace left in tracefs is removed by the next dtrace that starts, whatever it
// does (-l, a BEGIN-only program), and only that: an instance whose name carries a live pid is
// kept only if that pid's process started when the name says, in the PID namespace it says.
// The instances here are made by hand (mkdir), named as dtrace names them.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pidNamespace, procStat, self } from '../../src/kernel/identity.js';
import { TRACEFS, Tracing, cli, instancesOf, liveUnavailable, root, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;
const DEAD = 2 ** 22 + 1; // above pid_max's default: no such process

/** Makes instances named as a dtrace of that pid, namespace and start time would; returns their names. */
function plant(owners: Array<{ pid: number; ns: number; start: number }>): string[] {
  return owners.map((o, i) => {
    const name = `dtrace-ts-${o.pid}-${o.ns}-${o.start}-test${i}`;
    mkdirSync(join(TRACEFS, 'instances', name));
    return name;
  });
}

function exists(name: string): boolean {
  return existsSync(join(TRACEFS, 'instances', name));
}

function remove(names: string[]): void {
  for (const n of names) {
    try {
      rmdirSync(join(TRACEFS, 'instances', n));
    } catch {
      // reaped
    }
  }
}

test('-l removes an instance whose dtrace is gone', { skip }, () => {
  const me = self();
  const names = plant([{ ...me, pid: DEAD }]);
  try {
    const r = runDtrace(['-l', '-n', 'dtrace:::BEGIN']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(exists(names[0]), false);
  } finally {
    remove(names);
  }
});

test('a BEGIN-only run removes an instance of a live pid that started at another time, and keeps a live owner\'s', { skip }, () => {
  const me = self();
  // this test's process is alive: one name has its start time, the other a reused pid's
  const names = plant([{ ...me }, { ...me, start: me.start + 1 }]);
  try {
    const r = runDtrace(['-q', '-n', 'BEGIN { exit(0); }']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(exists(names[0]), true);
    assert.equal(exists(names[1]), false);
  } finally {
    remove(names);
  }
});

test('a live dtrace\'s instance is not removed by another dtrace starting', { skip }, async () => {
  // a clause-local string keeps the clause in dtrace: its events come through tracefs instances
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry { this->x = execname; @ = count(); }']);
  await d.ready();
  const mine = instancesOf(d.child.pid!);
  // one for the probes' events, one for the process table's
  assert.equal(mine.length, 2);
  const r = runDtrace(['-l', '-n', 'dtrace:::BEGIN']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(instancesOf(d.child.pid!), mine);
  const end = await d.stop();
  assert.equal(end.code, 0, end.stderr);
  assert.deepEqual(instancesOf(end.pid), []);
});

/** Starts `sleep` as pid 1 of a new PID namespace; resolves with its pid here. */
async function containerProcess(): Promise<{ unshare: ChildProcess; pid: number }> {
  const unshare = spawn('unshare', ['--pid', '--fork', 'sleep', '1000'], { stdio: 'ignore' });
  for (;;) {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const s = readFileSync(`/proc/${e}/stat`, 'latin1');
        if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === unshare.pid && pidNamespace(Number(e)) !== self().ns) return { unshare, pid: Number(e) };
      } catch {
        // gone meanwhile
      }
    }
    if (unshare.exitCode !== null) throw new Error('unshare --pid failed');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const noUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status !== 0 ? 'unshare --pid does not work here' : false;

test('from the host, a live dtrace in a PID namespace keeps its instance; one started at another time does not', { skip: skip || noUnshare }, async () => {
  const { unshare, pid } = await containerProcess();
  const inside = { pid: 1, ns: pidNamespace(pid), start: procStat(pid)!.start };
  const names = plant([inside, { ...inside, start: inside.start + 1 }, { ...inside, pid: 2 }]);
  try {
    const r = runDtrace(['-l', '-n', 'dtrace:::BEGIN']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(names.map(exists), [true, false, false]);
  } finally {
    remove(names);
    unshare.kill('SIGKILL');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone with unshare
    }
  }
});

/** Pids of the processes called dtrace whose parent is not `parent` (another dtrace may reap what a test planted). */
function otherDtraces(parent: number): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'dtrace' && ppid !== parent) found.push(Number(d));
    } catch {
      // gone
    }
  }
  return found;
}

test('a dtrace in a PID namespace leaves the host\'s instances alone, dead or alive: it cannot see them', { skip: skip || noUnshare }, async (t) => {
  const me = self();
  const names = plant([{ ...me }, { ...me, pid: DEAD }, { ...me, start: me.start + 1 }]);
  try {
    // pid 1 in its namespace, with its own /proc: the host's pids mean nothing there
    const ns = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, cli, '-l', '-n', 'dtrace:::BEGIN'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    ns.stderr!.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    // any other dtrace starting meanwhile (a test running beside this one) reaps the dead ones
    const others = new Set<number>();
    const watch = setInterval(() => otherDtraces(ns.pid!).forEach((p) => others.add(p)), 10);
    const status = await new Promise<number | null>((resolve) => ns.on('exit', resolve));
    clearInterval(watch);
    otherDtraces(ns.pid!).forEach((p) => others.add(p));
    assert.equal(status, 0, stderr);
    const kept = names.map(exists);
    if (others.size > 0 && !kept.every((k) => k)) {
      t.skip(`another dtrace (pid ${[...others].join(', ')}) ran meanwhile: it may have reaped the planted instances`);
      return;
    }
    assert.deepEqual(kept, [true, true, true]);
    // the host's own next dtrace can tell
    runDtrace(['-l', '-n', 'dtrace:::BEGIN']);
    assert.deepEqual(names.map(exists), [true, false, false]);
  } finally {
    remove(names);
  }
});
