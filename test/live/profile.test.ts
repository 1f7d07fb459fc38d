// profile-N against the live kernel: perf cpu-clock samples of every CPU, in the context of
// what was running there. Loads are pinned with taskset; every count is asserted within a wide
// range, since the machine these run on is shared and loaded.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { load as spin, rows, stopLoads } from './cpu-loads.js';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';
import { samplingUnavailable } from '../../src/kernel/perf-sampler.js';

const live = liveUnavailable();
const noPerf = live === null ? samplingUnavailable() : null;
const skip = live ?? (noPerf !== null ? `no perf sampling here: ${noPerf}` : false);
const twoCpus = spawnSync('nproc', { encoding: 'latin1' }).stdout.trim() !== '1';


test('profile-997 samples a spinning process ~997 times a second, on the CPU it is pinned to', { skip }, () => {
  const pid = spin(twoCpus ? 1 : 0);
  try {
    const r = runDtrace(['-q', '-n', `profile-997 /pid == ${pid}/ { @[cpu] = count(); } tick-1s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const m = rows(r.stdout);
    assert.deepEqual([...m.keys()], [twoCpus ? '1' : '0'], r.stdout);
    const n = [...m.values()][0];
    // the spinner shares its CPU with whatever else runs there: a wide range
    assert.ok(n >= 150 && n <= 1300, `${n} samples`);
    assert.deepEqual(instancesOf(r.pid), []);
  } finally {
    stopLoads();
  }
});

test('samples come from every CPU', { skip: skip || (!twoCpus && 'one CPU') }, () => {
  const a = spin(0);
  const b = spin(1);
  try {
    const r = runDtrace(['-q', '-n', `profile-997 /pid == ${a} || pid == ${b}/ { @[cpu] = count(); } tick-1s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    const m = rows(r.stdout);
    assert.ok((m.get('0') ?? 0) >= 100 && (m.get('1') ?? 0) >= 100, r.stdout);
  } finally {
    stopLoads();
  }
});

test('a user-space spinner: arg0 (kernel PC) 0, arg1 (user PC) set; pid, tid and execname its own', { skip }, () => {
  const pid = spin(0);
  try {
    const r = runDtrace(['-q', '-n', `profile-997 /pid == ${pid}/ { @[arg0 == 0, arg1 != 0, tid == pid, execname] = count(); } tick-1s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    const m = rows(r.stdout);
    let total = 0;
    for (const n of m.values()) total += n;
    // the timer interrupt can find it in the kernel now and then (page faults, preemption)
    assert.ok((m.get('1 1 1 sh') ?? 0) >= total * 0.9 && total >= 100, r.stdout);
  } finally {
    stopLoads();
  }
});

test('profile-997 /arg0/ { @[stack()] } gives symbolised kernel stacks, and func(arg0) the function', { skip }, () => {
  // a syscall-heavy load: dd moving one byte at a time
  const pid = spin(0, 'exec dd if=/dev/zero of=/dev/null bs=1');
  try {
    const r = runDtrace(['-q', '-n', `profile-997 /arg0 && pid == ${pid}/ { @[stack()] = count(); @f[func(arg0)] = count(); @m[arg1] = count(); } tick-1s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {14}vmlinux`\w+\+0x[0-9a-f]+$/m);
    // the system call entry is at the bottom of these stacks
    assert.match(r.stdout, /vmlinux`(do_syscall_64|entry_SYSCALL_64\w*)/);
    // func(): vmlinux`name, no offset, in 50 columns
    assert.match(r.stdout, /^ {2}vmlinux`[\w.]+ +\d+$/m);
    // in the kernel, arg1 is 0
    assert.match(r.stdout, /^ +0 +\d+$/m);
  } finally {
    stopLoads();
  }
});

test('an idle machine or not, each sample fires in a process: pid, cpu and execname are never dtrace\'s own only', { skip }, () => {
  spin(0);
  try {
    const r = runDtrace(['-q', '-n', 'profile-199 { @[pid == $pid ? "dtrace" : "other"] = count(); } tick-500ms { exit(0); }']);
    assert.equal(r.code, 0, r.stderr);
    const m = rows(r.stdout);
    assert.ok((m.get('other') ?? 0) > 20, r.stdout);
  } finally {
    stopLoads();
  }
});

test('without perf events (not root: perf_event_paranoid), profile-N falls back to a timer and says so', { skip: live !== null && live }, () => {
  const r = runDtrace(['-q', '-n', 'profile-97 { @ = count(); } tick-1s { exit(0); }'], { uid: 65534, gid: 65534 });
  const paranoid = Number(spawnSync('cat', ['/proc/sys/kernel/perf_event_paranoid'], { encoding: 'latin1' }).stdout);
  if (paranoid <= 0) return; // an unprivileged user may sample CPUs here
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^dtrace: profile probes fire from a timer in dtrace itself, on one CPU, with arg0 = arg1 = 0 and no stack \(no samples of the CPUs\): perf_event_open: /);
  const n = Number(r.stdout.trim());
  assert.ok(n >= 30 && n <= 110, r.stdout);
});

test('tick-N fires on one CPU at its rate, in the context of what that CPU runs (a perf sample of it)', { skip }, () => {
  spin(0);
  if (twoCpus) spin(1);
  try {
    const r = runDtrace([
      '-q',
      '-n',
      'BEGIN { first = timestamp; } tick-50ms { @[cpu, pid == $pid ? "dtrace" : execname] = count(); n++; first = n == 1 ? timestamp : first; last = timestamp; } ' +
        'tick-2s { printf("%d ticks in %d ms\\n", n, (last - first) / 1000000); exit(0); }',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const m = rows(r.stdout);
    // one CPU
    const keys = [...m.keys()].filter((k) => !k.includes('ticks'));
    assert.equal(new Set(keys.map((k) => k.split(' ')[0])).size, 1, r.stdout);
    // every period once: n ticks span n - 1 periods (the events start a little after the tick-2s
    // timer does, later on a loaded machine: the rate, not the count)
    const [, n, ms] = /(\d+) ticks in (\d+) ms/.exec(r.stdout)!.map(Number);
    assert.ok(n >= 10, r.stdout);
    assert.ok(Math.abs(ms - (n - 1) * 50) <= 0.05 * (n - 1) * 50, r.stdout);
    // the spinner or whatever else ran there; dtrace itself now and then
    const who = new Map(keys.map((k) => [k.split(' ')[1], m.get(k)!]));
    assert.ok((who.get('dtrace') ?? 0) < n / 2, r.stdout);
  } finally {
    stopLoads();
  }
});

test('tick-N arguments are profile-N\'s: arg0 the kernel PC, arg1 the user PC, stack() the kernel stack', { skip }, () => {
  spin(0);
  if (twoCpus) spin(1);
  try {
    const r = runDtrace(['-q', '-n', 'tick-20ms { @[arg0 != 0 && arg1 == 0 ? "kernel" : arg0 == 0 && arg1 != 0 ? "user" : "none"] = count(); } tick-20ms /arg0/ { @s[stack()] = count(); } tick-2s { exit(0); }']);
    assert.equal(r.code, 0, r.stderr);
    const m = rows(r.stdout);
    // a sample is in the kernel (arg0) or in user space (arg1); "none" only where the timer fired
    // for a sample that did not come
    const sampled = (m.get('kernel') ?? 0) + (m.get('user') ?? 0);
    assert.ok(sampled >= 10 && sampled >= 4 * (m.get('none') ?? 0), r.stdout);
    // kernel-mode samples' stacks
    if ((m.get('kernel') ?? 0) > 0) assert.match(r.stdout, /vmlinux`/);
  } finally {
    stopLoads();
  }
});

test('without perf events (not root), a tick that reads its context fires from a timer and says so', { skip: live !== null && live }, () => {
  const paranoid = Number(spawnSync('cat', ['/proc/sys/kernel/perf_event_paranoid'], { encoding: 'latin1' }).stdout);
  if (paranoid <= 0) return; // an unprivileged user may sample CPUs here
  const r = runDtrace(['-q', '-n', 'tick-100ms { @[pid == $pid] = count(); } tick-1s { exit(0); }'], { uid: 65534, gid: 65534 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^dtrace: tick probes fire from a timer in dtrace itself, with arg0 = arg1 = 0 and no stack \(no samples of a CPU\): perf_event_open: /);
  const n = Number(r.stdout.trim().split(/\s+/)[1]);
  assert.ok(n >= 5 && n <= 11, r.stdout);
  // one that reads nothing of it: no word
  const q = runDtrace(['-q', '-n', 'tick-100ms { n++; } tick-1s { printf("%d\\n", n); exit(0); }'], { uid: 65534, gid: 65534 });
  assert.equal(q.stderr, '');
  assert.ok(Number(q.stdout) >= 8 && Number(q.stdout) <= 11, q.stdout);
});

test('-x cpu=N: profile, tick and every kernel event only on CPU N', { skip: skip || (!twoCpus && 'one CPU') }, () => {
  spin(0);
  spin(1);
  try {
    const r = runDtrace(['-x', 'cpu=1', '-q', '-n', 'profile-199 { @[cpu, "profile"] = count(); } tick-50ms /pid != $pid/ { @[cpu, "tick"] = count(); } syscall:::entry { @[cpu, "syscall"] = count(); } tick-1s { exit(0); }']);
    assert.equal(r.code, 0, r.stderr);
    const m = rows(r.stdout);
    assert.ok(m.size >= 2, r.stdout);
    for (const k of m.keys()) assert.equal(k.split(' ')[0], '1', r.stdout);
    assert.ok((m.get('1 profile') ?? 0) > 20, r.stdout);
  } finally {
    stopLoads();
  }
});

test('-x cpu=N: BEGIN and END fire on CPU N (dtrace binds itself there to fire them, as Oracle\'s does)', { skip: live !== null ? live : !twoCpus && 'one CPU' }, () => {
  for (const cpu of [0, 1]) {
    const r = runDtrace(['-x', `cpu=${cpu}`, '-q', '-n', 'BEGIN { printf("BEGIN %d\\n", cpu); exit(0); } END { printf("END %d\\n", cpu); }']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^BEGIN ${cpu}\\nEND ${cpu}\\n`));
  }
});
