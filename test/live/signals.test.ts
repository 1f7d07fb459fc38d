// Every signal that ends dtrace leaves nothing behind, and none opens Node's inspector: not
// SIGUSR1, not --inspect in NODE_OPTIONS or node's flags.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { procStat } from '../../src/kernel/identity.js';
import { Tracing, cli, instancesOf, liveUnavailable, root } from './harness.js';

const skip = liveUnavailable() ?? false;

/** The TCP ports a process listens on (its sockets' inodes, found in /proc/net/tcp and tcp6). */
function listening(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(file, 'latin1').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address, state (0A: LISTEN), inode
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9])) ports.push(parseInt(f[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** No core files from the signals whose default action dumps one. */
function noCore(pid: number): void {
  spawnSync('prlimit', ['--pid', String(pid), '--core=0:0']);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits for a condition, polling; fails after 10 s. */
async function until<T>(what: string, f: () => T | null | false): Promise<T> {
  const end = Date.now() + 10_000;
  for (;;) {
    const v = f();
    if (v !== null && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

for (const sig of ['SIGUSR1', 'SIGUSR2', 'SIGQUIT', 'SIGALRM', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGTRAP'] as const) {
  test(`${sig} removes the instance, then ends dtrace by ${sig}, as its default action ends DTrace`, { skip }, async () => {
    // a clause-local string keeps the clause in dtrace: its events come through tracefs instances
    const d = new Tracing(['-n', 'syscall::chdir:entry { this->x = execname; @ = count(); }']);
    noCore(d.child.pid!);
    await d.ready();
    assert.equal(instancesOf(d.child.pid!).length, 2);
    const r = await d.stop(sig, 0);
    assert.equal(r.signal, sig, r.stderr);
    assert.deepEqual(instancesOf(r.pid), []);
    // Node's own SIGUSR1 action would have opened the inspector, said so, and gone on
    assert.doesNotMatch(r.stderr, /Debugger listening|inspector/);
  });
}

test('a signal that ends dtrace ends its -c command too, as DTrace kills the processes it created', { skip }, async () => {
  const d = new Tracing(['-c', 'sleep 1000', '-n', 'syscall::chdir:entry']);
  noCore(d.child.pid!);
  await d.ready();
  const sleeper = await until('the -c command', () => childrenOf(d.child.pid!).find((p) => comm(p) === 'sleep') ?? null);
  const start = procStat(sleeper)!.start;
  try {
    // 'exit', not the streams' 'close': a -c command left running would hold dtrace's stdout open
    const exited = new Promise<NodeJS.Signals | null>((resolve) => d.child.on('exit', (_code, sig) => resolve(sig)));
    d.child.kill('SIGUSR2');
    assert.equal(await exited, 'SIGUSR2');
    assert.deepEqual(instancesOf(d.child.pid!), []);
    await until('the -c command to end', () => {
      const s = procStat(sleeper);
      return s === null || s.start !== start || s.state === 'Z';
    });
  } finally {
    if (procStat(sleeper)?.start === start) process.kill(sleeper, 'SIGKILL');
  }
});

test('with --inspect in NODE_OPTIONS or in node\'s flags, the inspector is closed before tracing starts', { skip }, async () => {
  for (const how of ['NODE_OPTIONS', 'flag'] as const) {
    const d =
      how === 'NODE_OPTIONS'
        ? new Tracing(['-n', 'syscall::chdir:entry'], { NODE_OPTIONS: '--inspect=127.0.0.1:0' })
        : new Tracing(['-n', 'syscall::chdir:entry'], {}, ['--inspect=127.0.0.1:0']);
    await d.ready();
    assert.deepEqual(listening(d.child.pid!), [], how);
    const r = await d.stop('SIGINT');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^dtrace: closed the Node\.js inspector on 127\.0\.0\.1:\d+: through it, any local user could run code in dtrace$/m, how);
  }
});

test('run as a command, dtrace starts without NODE_OPTIONS: --inspect-brk neither waits nor opens a port', { skip }, async () => {
  // (a clause-local string keeps the clause in dtrace, whose events come through an instance)
  const child = spawn(cli, ['-n', 'syscall::chdir:entry { this->x = execname; }'], { cwd: root, env: { ...process.env, NODE_OPTIONS: '--inspect-brk=127.0.0.1:0' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const pid = child.pid!;
  // tracing: an instance with events enabled and tracing on (a new one has it on before setup)
  const tracing = (name: string) => {
    const dir = join('/sys/kernel/tracing/instances', name);
    try {
      return readFileSync(join(dir, 'tracing_on'), 'latin1').trim() === '1' && readFileSync(join(dir, 'set_event'), 'latin1').trim() !== '';
    } catch {
      return false;
    }
  };
  await until('tracing', () => instancesOf(pid).some(tracing));
  assert.deepEqual(listening(pid), []);
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /Debugger listening/);
  assert.deepEqual(instancesOf(pid), []);
});

test('node --inspect-brk on dtrace waits before dtrace\'s code runs: nothing of dtrace\'s exists while the port is open', { skip }, async () => {
  const child = spawn(process.execPath, ['--inspect-brk=127.0.0.1:0', cli, '-n', 'syscall::chdir:entry'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await until('the inspector', () => /Debugger listening/.test(stderr));
    assert.equal(listening(child.pid!).length, 1);
    assert.deepEqual(instancesOf(child.pid!), []);
  } finally {
    child.kill('SIGKILL');
    await new Promise((resolve) => child.on('close', resolve));
  }
});

/** A process's children, by their parent pid in /proc/<pid>/stat. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = readFileSync(`/proc/${e}/stat`, 'latin1');
      if (Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
}

test('SIGTERM while cpp runs ends dtrace by SIGTERM and takes cpp and its cc1 with it', { skip: skip || (spawnSync('cpp', ['--version']).status !== 0 && 'no cpp') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  const fifo = join(dir, 'never-written.h');
  const script = join(dir, 'slow.d');
  spawnSync('mkfifo', [fifo]);
  // cc1 opens the FIFO and waits there for a writer that never comes: compilation is under way
  writeFileSync(script, `#include "${fifo}"\nBEGIN { exit(0); }\n`);
  const d = new Tracing(['-C', '-s', script]);
  const helpers: Array<[number, number]> = [];
  try {
    const pid = d.child.pid!;
    // cpp runs under timeout(1) and setpriv(1) where they exist: cc1 is a descendant, at some depth
    const descendants = (p: number): number[] => childrenOf(p).flatMap((c) => [c, ...descendants(c)]);
    const tree = await until('cc1', () => {
      const all = descendants(pid);
      return all.some((g) => comm(g) === 'cc1' && procStat(g)?.state === 'S') ? all : null;
    });
    for (const p of tree) helpers.push([p, procStat(p)!.start]);
    const r = await d.stop('SIGTERM', 0);
    assert.equal(r.signal, 'SIGTERM', r.stderr);
    // gone, or a zombie until whoever inherited it reaps it
    await until('cpp and cc1 to end', () => helpers.every(([p, start]) => {
      const s = procStat(p);
      return s === null || s.start !== start || s.state === 'Z';
    }));
  } finally {
    for (const [p, start] of helpers) {
      if (procStat(p)?.start === start) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
