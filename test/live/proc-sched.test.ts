// The proc and sched providers, and -c/-p, against the live kernel.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { Tracing, instancesOf, liveUnavailable, runDtrace, workload } from './harness.js';

const skip = liveUnavailable() ?? false;

test('proc: create, start, exec-success, exit, in order, as the right processes', { skip }, async () => {
  // $1 must be the workload shell's pid, known only once it runs: use a shell that waits
  const sh = spawn('/bin/sh', ['-c', 'read -r _; /bin/true; /bin/true'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const e = new Tracing([
    '-q',
    '-n',
    `proc:::create /pid == $1/ { printf("create %d\\n", args[0]->pr_pid); }
     proc:::start /ppid == $1/ { printf("start %d\\n", pid); }
     proc:::exec-success /ppid == $1/ { printf("exec %d %s\\n", pid, execname); }
     proc:::exit /ppid == $1/ { printf("exit %d %s %d\\n", pid, execname, args[0]); }`,
    String(sh.pid),
  ]);
  await e.ready();
  sh.stdin!.end('\n');
  await new Promise((r) => sh.on('exit', r));
  const r = await e.stop();
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 8, r.stdout);
  for (let i = 0; i < 2; i++) {
    const child = Number(/^create (\d+)$/.exec(lines[i * 4])![1]);
    assert.deepEqual(lines.slice(i * 4, i * 4 + 4), [`create ${child}`, `start ${child}`, `exec ${child} true`, `exit ${child} true 1`]);
  }
  assert.deepEqual(instancesOf(r.pid), []);
});

test('proc:::exit reports a process killed by a signal', { skip }, async () => {
  const d = new Tracing(['-q', '-n', 'proc:::exit /execname == "sleep"/ { printf("%s %d\\n", execname, args[0]); }']);
  await d.ready();
  workload('sleep 5 & sleep 0.2; kill -KILL $!; wait');
  const r = await d.stop();
  assert.match(r.stdout, /^sleep 2$/m);
});

test('sched: on-cpu and off-cpu fire as the thread switched in and out', { skip }, async () => {
  const d = new Tracing([
    '-q',
    '-n',
    'sched:::on-cpu /execname == "dd"/ { @on = count(); } sched:::off-cpu /execname == "dd"/ { @off = count(); } END { printa("on %@d\\n", @on); printa("off %@d\\n", @off); }',
  ]);
  await d.ready();
  // dd blocks on each read from the pipe: it leaves the CPU and comes back at least 5 times (a
  // CPU-bound dd on an idle machine may never be switched out until it exits). Some kernels
  // never emit the switches a CPU's idle task makes (this 6.18 guest's CPU 1), so a busy loop
  // per CPU keeps the CPUs from idling: dd comes back from a task switch the kernel traces.
  workload(
    'spin=; n=$(nproc); while [ $n -gt 0 ]; do (while :; do :; done) >/dev/null & spin="$spin $!"; n=$((n-1)); done; ' +
      '(for i in 1 2 3 4 5; do sleep 0.05; echo x; done) | dd of=/dev/null bs=1 2>/dev/null; kill $spin',
  );
  const r = await d.stop();
  const on = Number(/^on (\d+)$/m.exec(r.stdout)?.[1]);
  const off = Number(/^off (\d+)$/m.exec(r.stdout)?.[1]);
  // dd may become dd (exec) while on a CPU, and leave one for good when it exits
  assert.ok(on >= 5 && off >= 5 && Math.abs(on - off) <= 2, r.stdout);
});

test('-c runs the command, traces it from its start, and exits when it does', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'syscall::write:entry /pid == $target/ { @ = count(); } END { printa("writes %@d\\n", @); }', '-c', '/bin/echo hello']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^hello$/m);
  assert.match(r.stdout, /^writes 1$/m);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('-c traces only the command: its first system call is its own execve', { skip }, () => {
  // the command found by PATH (no launcher shell reads, dup2s or tries each PATH entry)
  const r = runDtrace(['-q', '-n', 'syscall:::entry /pid == $target/ { printf("%s\\n", probefunc); }', '-c', 'true  one two']);
  assert.equal(r.code, 0, r.stderr);
  const calls = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(calls[0], 'execve', r.stdout);
  assert.equal(calls.filter((c) => c === 'execve').length, 1, r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('-c with a command that does not exist', { skip }, () => {
  const r = runDtrace(['-n', 'BEGIN', '-c', 'no-such-command-dtrace-ts']);
  assert.equal(r.stderr, 'dtrace: failed to execute no-such-command-dtrace-ts: No such file or directory\n');
  assert.equal(r.code, 1);
});

test('-p attaches to a running process and exits when it does', { skip }, async () => {
  // the victim changes directory once dtrace traces it (a fixed delay loses the race on a busy machine)
  const victim = spawn('/bin/sh', ['-c', 'read -r _; cd /; cd /'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const d = new Tracing(['-q', '-n', 'syscall::chdir:entry /pid == $target/ { @ = count(); } END { printa("chdirs %@d\\n", @); }', '-p', String(victim.pid)]);
  await d.ready();
  victim.stdin!.end('\n');
  const r = await d.finished();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^chdirs 2$/m);
  const bad = runDtrace(['-n', 'BEGIN', '-p', '999999999']);
  assert.equal(bad.stderr, 'dtrace: failed to grab pid 999999999: No such process\n');
});

test('proc:::exec and exec-success: the path, and the command line of a process already gone', { skip }, async () => {
  const d = new Tracing([
    '-q',
    '-n',
    'proc:::exec /execname == "sh"/ { printf("exec %s\\n", args[0]); } proc:::exec-success /execname == "ls"/ { printf("args [%s]\\n", curpsinfo->pr_psargs); }',
  ]);
  await d.ready();
  workload('/bin/ls -d / > /dev/null');
  const r = await d.stop();
  assert.match(r.stdout, /^exec \/bin\/ls$/m);
  assert.match(r.stdout, /^args \[\/bin\/ls -d \/\]$/m);
});
