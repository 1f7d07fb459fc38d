// Every signal that ends dtrace leaves nothing behind, and none opens Node's inspector: not
// SIGUSR1, not --inspect in NODE_OPTIONS or node's flags.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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
    const d = new Tracing(['-n', 'syscall::chdir:entry { @ = count(); }']);
    noCore(d.child.pid!);
    await d.ready();
    assert.equal(instancesOf(d.child.pid!).length, 1);
    const r = await d.stop(sig, 0);
    assert.equal(r.signal, sig, r.stderr);
    assert.deepEqual(instancesOf(r.pid), []);
    // Node's own SIGUSR1 action would have opened the inspector, said so, and gone on
    assert.doesNotMatch(r.stderr, /Debugger listening|inspector/);
  });
}

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
  const child = spawn(cli, ['-n', 'syscall::chdir:entry'], { cwd: root, env: { ...process.env, NODE_OPTIONS: '--inspect-brk=127.0.0.1:0' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const pid = child.pid!;
  await until('tracing', () => instancesOf(pid).length === 1 && readFileSync(join('/sys/kernel/tracing/instances', instancesOf(pid)[0], 'tracing_on'), 'latin1').trim() === '1');
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
