// profile-N on this platform: perf cpu-clock sampling of every CPU (no PMU needed), the clauses
// run in the kernel (BPF). Under software emulation a virtual CPU runs only when the host
// thread gets to it, so counts are asserted within wide bounds: every CPU fired, and no CPU more
// than the rate allows over the time dtrace ran. The loads wait until dtrace is tracing before
// they spin (on an emulated CPU, dtrace's start-up beside spinners takes minutes).

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { rows } from '../live/cpu-loads.js';
import { Tracing, instancesOf } from '../live/harness.js';
import { LAB_CPUS, READY_MS, skipUnless } from './lab.js';

const RATE = 97;
const SECONDS = 3;
const ncpus = Number(spawnSync('nproc', { encoding: 'latin1' }).stdout.trim());
const skip = skipUnless('kernel', 'sampling', 'bpf');
const IN_KERNEL = /Disassembly of the BPF program on profile:::profile-97 /;

const loads = new Set<ChildProcess>();
after(() => stopLoads());

/** A shell pinned to `cpu` that runs `script` (exec'd: its pid is the load's) once go() is called. */
function load(cpu: number, script = 'while :; do :; done'): { pid: number; go: () => void } {
  const c = spawn('taskset', ['-c', String(cpu), '/bin/sh', '-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  loads.add(c);
  return { pid: c.pid!, go: () => c.stdin!.write('\n') };
}

function stopLoads(): void {
  for (const c of loads) c.kill('SIGKILL');
  loads.clear();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dtrace tracing `script` while the loads run for SECONDS; what it printed, and how long it ran (s). */
async function sampled(script: string, go: Array<() => void>): Promise<{ out: string; err: string; seconds: number }> {
  const t0 = Date.now();
  const d = new Tracing(['-q', '-S', '-n', script]);
  try {
    await d.ready(READY_MS);
    for (const g of go) g();
    await sleep(SECONDS * 1000);
  } finally {
    stopLoads();
  }
  const r = await d.stop('SIGINT', 0);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, IN_KERNEL);
  assert.deepEqual(instancesOf(r.pid), []);
  return { out: r.stdout, err: r.stderr, seconds: (Date.now() - t0) / 1000 };
}

test(`profile-${RATE} fires on every CPU about ${RATE} times a second, counted in the kernel`, { skip }, async () => {
  if (LAB_CPUS !== undefined) assert.equal(ncpus, LAB_CPUS);
  const go = Array.from({ length: ncpus }, (_, c) => load(c).go);
  const { out, seconds } = await sampled(`profile-${RATE} { @[cpu] = count(); }`, go);
  const m = rows(out);
  let total = 0;
  for (let c = 0; c < ncpus; c++) {
    const n = m.get(String(c)) ?? 0;
    assert.ok(n >= 1, `CPU ${c} never fired:\n${out}`);
    assert.ok(n <= RATE * seconds + 2, `CPU ${c}: ${n} samples in ${seconds} s:\n${out}`);
    total += n;
  }
  assert.equal(m.size, ncpus, out);
  // at least a tenth of the nominal rate over the loads' seconds, on every CPU together
  assert.ok(total >= (RATE * SECONDS * ncpus) / 10, `${total} samples in all:\n${out}`);
});

test(`profile-${RATE} in the kernel: the hot process counted by pid and name, and @[stack()] of one busy in the kernel down to its read()`, { skip }, async () => {
  const spin = load(0);
  // reading /dev/urandom: the kernel does the work
  const dd = load(ncpus > 1 ? 1 : 0, 'exec dd if=/dev/urandom of=/dev/null bs=64k');
  const { out, seconds } = await sampled(
    `profile-${RATE} /pid == ${spin.pid}/ { @p[pid, execname, tid == pid] = count(); } profile-${RATE} /pid == ${dd.pid} && arg0 != 0/ { @s[stack()] = count(); } END { printa("hot %d %s %d %@d\\n", @p); printa(@s); }`,
    [spin.go, dd.go],
  );
  const hot = /^hot (\d+) (\S+) (\d) (\d+)$/m.exec(out);
  assert.ok(hot, out);
  assert.deepEqual(hot.slice(1, 4), [String(spin.pid), 'sh', '1'], out);
  const n = Number(hot[4]);
  assert.ok(n >= (RATE * SECONDS) / 10 / ncpus && n <= RATE * seconds + 2, `${n} samples in ${seconds} s`);
  assert.match(out, /^ {14}vmlinux`\w+\+0x[0-9a-f]+$/m, out);
  assert.match(out, /^ {14}vmlinux`(ksys_read|vfs_read|do_syscall_64)\+0x[0-9a-f]+$/m, out);
});
