// Who fired a probe is who the task was as it fired: execname, pid, ppid, uid, gid and
// curpsinfo's ids on a tracepoint probe whose clause runs in dtrace come from the probe's
// record (the capture program writes them in), not from /proc or the process table when the
// event is handled. The target renames itself, changes its credentials and is reparented
// between two system calls, and exits at once.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, liveUnavailable, root } from './harness.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-task-'));
after(() => rmSync(work, { recursive: true, force: true }));
const prog = join(work, 'task-change');

function unavailable(): string | false {
  const live = liveUnavailable();
  if (live) return live;
  const cc = spawnSync('cc', ['-O2', '-o', prog, join(root, 'test', 'live', 'programs', 'task-change.c')], { encoding: 'latin1' });
  return cc.error || cc.status !== 0 ? `no C compiler: ${cc.error?.message ?? cc.stderr}` : false;
}
const skip = unavailable();

const PROGRAM =
  'syscall::getppid:entry /execname == "task-change" || execname == "renamed-task"/ { printf("%s pid=%d ppid=%d uid=%d gid=%d | %s %d %d %d %d %d\\n", execname, pid, ppid, uid, gid, curpsinfo->pr_fname, curpsinfo->pr_pid, curpsinfo->pr_ppid, curpsinfo->pr_euid, curpsinfo->pr_egid, curpsinfo->pr_uid); }';

function run(bpf: boolean) {
  return spawnSync(process.execPath, [cli, '-q', '-n', PROGRAM, '-c', prog], {
    cwd: root,
    env: { ...process.env, LANG: 'C', ...(bpf ? {} : { DTRACE_TS_NO_BPF: '1' }) },
    encoding: 'latin1',
    timeout: 60_000,
  });
}

test('execname, pid, ppid, uid, gid and curpsinfo are the task\'s as the probe fired', { skip: skip || bpfUnavailable() || false }, () => {
  const r = run(true);
  assert.equal(r.status, 0, r.stderr);
  const said = /task-change pid=(\d+) ppid=(\d+)/.exec(r.stderr);
  assert.ok(said, r.stderr);
  const [, pid, ppid] = said;
  const lines = r.stdout.trimEnd().split('\n');
  // the calls after: renamed, new credentials, the new parent (its getppid() for stderr, and the last)
  const after = lines.filter((l) => l.startsWith('renamed-task'));
  assert.equal(after.length, 2, r.stdout);
  for (const l of after) assert.equal(l, `renamed-task pid=${pid} ppid=${ppid} uid=1234 gid=4321 | renamed-task ${pid} ${ppid} 1234 4321 1234`, r.stdout);
  // the calls before: the old name and credentials
  const before = lines.filter((l) => !l.startsWith('renamed-task'));
  assert.ok(before.length >= 2, r.stdout);
  for (const l of before) assert.match(l, new RegExp(`^task-change pid=${pid} ppid=\\d+ uid=0 gid=0 \\| task-change ${pid} \\d+ 0 0 0$`), r.stdout);
});

test('without BPF, the same program runs (who fired it is what the process table knows)', { skip: skip || false }, () => {
  const r = run(false);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^renamed-task pid=\d+ /m, r.stdout);
});

test('who fired is written on every system call\'s event: a clause on all of them sees the ids after setuid()', { skip: skip || bpfUnavailable() || false }, () => {
  const r = spawnSync(process.execPath, [cli, '-q', '-n', 'syscall:::entry /execname == "renamed-task"/ { printf("%s uid=%d gid=%d ppid=%d\\n", probefunc, uid, gid, ppid); }', '-c', prog], {
    cwd: root,
    env: { ...process.env, LANG: 'C' },
    encoding: 'latin1',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const said = /task-change pid=\d+ ppid=(\d+)/.exec(r.stderr);
  assert.ok(said, r.stderr);
  const ppid = said[1];
  const lines = r.stdout.trimEnd().split('\n');
  // each call with the ids it was made with (the table, read when the event is handled, has the first ones)
  assert.deepEqual(lines.slice(0, 2), [`setgid uid=0 gid=0 ppid=${ppid}`, `setuid uid=0 gid=4321 ppid=${ppid}`], r.stdout);
  // the order of getpid() and getppid() in fprintf()'s arguments is the compiler's
  const after = ['getppid', 'getpid', 'write', 'getppid', 'exit_group'].map((f) => `${f} uid=1234 gid=4321 ppid=${ppid}`);
  assert.deepEqual(lines.slice(2).sort(), after.sort(), r.stdout);
});

/** Drops dtrace reported, while a process named syscall-mix floods getppid() past a 16 KiB buffer. */
function dropsWithFlood(predicate: string): { drops: number; stderr: string } {
  const mix = join(work, 'syscall-mix');
  const cc = spawnSync('cc', ['-O2', '-o', mix, join(root, 'test', 'live', 'programs', 'syscall-mix.c')], { encoding: 'latin1' });
  assert.equal(cc.status, 0, cc.stderr);
  const r = spawnSync(process.execPath, [cli, '-q', '-b', '16k', '-n', `syscall::getppid:entry /${predicate}/ { printf("%s %d\\n", execname, uid); }`, '-c', `${mix} 200000`], {
    cwd: root,
    env: { ...process.env, LANG: 'C' },
    encoding: 'latin1',
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  assert.equal(r.status, 0, r.stderr);
  const drops = [...r.stderr.matchAll(/^dtrace: (\d+) drops? on CPU/gm)].reduce((n, m) => n + Number(m[1]), 0);
  return { drops, stderr: r.stderr };
}

test('a predicate the tracefs filter held is tested by the capture program that writes who fired', { skip: skip || bpfUnavailable() || false }, () => {
  // the flood overflows the buffer when the records reach dtrace...
  const all = dropsWithFlood('execname == "syscall-mix"');
  assert.ok(all.drops > 0, `no drops: the flood did not overflow the buffer\n${all.stderr}`);
  // ...and none reach it when the kernel drops them first
  const none = dropsWithFlood('execname == "no-such-name"');
  assert.equal(none.drops, 0, none.stderr);
});

test('-S says which clauses read who fired the probe from its record', { skip: skip || false }, () => {
  const r = spawnSync(process.execPath, [cli, '-S', '-q', '-n', 'syscall::getppid:entry { this->s = "x"; printf("%s %d\\n", execname, uid); } syscall::getppid:return { this->s = "x"; printf("%d\\n", arg1); } BEGIN { exit(0); }'], { cwd: root, encoding: 'latin1', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /\nwith who fired the probe \(execname, uid\) as each probe's BPF program writes it, 40 bytes a record/);
  assert.doesNotMatch(blocks[1], /who fired/);
});
