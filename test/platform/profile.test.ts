// profile-N on this platform: perf cpu-clock sampling of every CPU (no PMU needed), the clauses
// run in the kernel (BPF). Under software emulation a virtual CPU runs only when the host
// thread gets to it, so counts are asserted within wide bounds: every CPU fired, and no CPU more
// than the rate allows over the time dtrace ran.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { load, rows, stopLoads } from '../live/cpu-loads.js';
import { instancesOf, runDtrace } from '../live/harness.js';
import { LAB_CPUS, READY_MS, skipUnless } from './lab.js';

const RATE = 97;
const SECONDS = 4;
const ncpus = Number(spawnSync('nproc', { encoding: 'latin1' }).stdout.trim());
const skip = skipUnless('kernel', 'sampling', 'bpf');
const IN_KERNEL = /Disassembly of the BPF program on profile:::profile-97 /;

/** dtrace to its exit, and how long it ran (seconds): no CPU can fire more than RATE times each of them. */
function timed(args: string[]): { r: ReturnType<typeof runDtrace>; seconds: number } {
  const t0 = Date.now();
  const r = runDtrace(args, { timeout: READY_MS });
  return { r, seconds: (Date.now() - t0) / 1000 };
}

test(`profile-${RATE} fires on every CPU about ${RATE} times a second, counted in the kernel`, { skip }, () => {
  if (LAB_CPUS !== undefined) assert.equal(ncpus, LAB_CPUS);
  for (let c = 0; c < ncpus; c++) load(c);
  try {
    const { r, seconds } = timed(['-q', '-S', '-n', `profile-${RATE} { @[cpu] = count(); } tick-${SECONDS}s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, IN_KERNEL);
    const m = rows(r.stdout);
    let total = 0;
    for (let c = 0; c < ncpus; c++) {
      const n = m.get(String(c)) ?? 0;
      assert.ok(n >= 1, `CPU ${c} never fired:\n${r.stdout}`);
      assert.ok(n <= RATE * seconds + 2, `CPU ${c}: ${n} samples in ${seconds} s:\n${r.stdout}`);
      total += n;
    }
    assert.equal(m.size, ncpus, r.stdout);
    // at least a tenth of the nominal rate over the tick's seconds, on every CPU together
    assert.ok(total >= (RATE * SECONDS * ncpus) / 10, `${total} samples in all:\n${r.stdout}`);
    assert.deepEqual(instancesOf(r.pid), []);
  } finally {
    stopLoads();
  }
});

test(`profile-${RATE} /pid == hot/ counts the hot process in the kernel: its pid and name`, { skip }, () => {
  const pid = load(0);
  try {
    const { r, seconds } = timed(['-q', '-S', '-n', `profile-${RATE} /pid == ${pid}/ { @[pid, execname, tid == pid] = count(); } tick-${SECONDS}s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, IN_KERNEL);
    const m = rows(r.stdout);
    assert.deepEqual([...m.keys()], [`${pid} sh 1`], r.stdout);
    const n = m.get(`${pid} sh 1`)!;
    assert.ok(n >= RATE * SECONDS / 10 / ncpus && n <= RATE * seconds + 2, `${n} samples in ${seconds} s`);
  } finally {
    stopLoads();
  }
});

test(`profile-${RATE} @[stack()] of a process busy in the kernel: kernel frames, down to the read system call`, { skip }, () => {
  // reading /dev/urandom: the kernel does the work
  const pid = load(0, 'exec dd if=/dev/urandom of=/dev/null bs=64k');
  try {
    const { r } = timed(['-q', '-S', '-n', `profile-${RATE} /pid == ${pid} && arg0 != 0/ { @[stack()] = count(); } tick-${SECONDS}s { exit(0); }`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, IN_KERNEL);
    assert.match(r.stdout, /^ {14}vmlinux`\w+\+0x[0-9a-f]+$/m, r.stdout);
    assert.match(r.stdout, /^ {14}vmlinux`(ksys_read|vfs_read|do_syscall_64)\+0x[0-9a-f]+$/m, r.stdout);
  } finally {
    stopLoads();
  }
});
