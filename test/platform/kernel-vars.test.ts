// Kernel variables on this platform: `jiffies, from kallsyms' data symbols, read by BPF as the
// probe fires in a clause that runs in the kernel (an aggregation). Debian's kernels list data
// symbols (CONFIG_KALLSYMS_ALL); a kernel that does not (the development machine's Firecracker
// kernel) has no `jiffies to name. The test waits for BEGIN's output before its workload: under
// emulation dtrace can take a second past the harness's ready() (tracing on) to fire BEGIN,
// and the clause that prints (a firing value) missed calls made before it (the in-kernel
// aggregation counted them).

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Tracing } from '../live/harness.js';
import { LAB, READY_MS, skipUnless, workload } from './lab.js';

function unavailable(): string | false {
  const kernel = skipUnless('kernel');
  if (kernel || LAB) return kernel;
  return /^[0-9a-f]{16} [dDbB] jiffies$/m.test(readFileSync('/proc/kallsyms', 'latin1')) ? false : 'kallsyms lists no data symbols here (CONFIG_KALLSYMS_ALL is off)';
}

test('`jiffies is read in the kernel as the probe fires', { skip: unavailable() }, async () => {
  const d = new Tracing([
    '-q',
    '-n', 'syscall::chdir:entry /execname == "sh"/ { @lo = min(`jiffies); @hi = max(`jiffies); @n = count(); }',
    '-n', 'syscall::chdir:entry /execname == "sh"/ { printf("at %d\\n", vmlinux`jiffies); }',
    '-n', 'END { printa("lo %@d\\n", @lo); printa("hi %@d\\n", @hi); printa("n %@d\\n", @n); }',
    '-n', 'BEGIN { printf("ready\\n"); }',
  ]);
  await d.ready(READY_MS);
  await d.until(/^ready$/m, READY_MS);
  workload('cd /; sleep 1; cd /');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  const lo = BigInt(/^lo (\d+)$/m.exec(r.stdout)?.[1] ?? '-1');
  const hi = BigInt(/^hi (\d+)$/m.exec(r.stdout)?.[1] ?? '-1');
  const n = Number(/^n (\d+)$/m.exec(r.stdout)?.[1] ?? '0');
  // two calls a second apart: jiffies advanced between them (HZ of them)
  assert.equal(n, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(lo > 0n && hi > lo, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  // the clause that prints read it as the same two calls fired: its program runs beside the
  // aggregation's, and under emulation ticks come between the two (4 were seen on linux-6.1)
  const at = r.stdout.split('\n').filter((l) => l.startsWith('at ')).map((l) => BigInt(l.slice(3)));
  assert.equal(at.length, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.ok(at[0] >= lo && at[0] < hi && at[1] >= hi && at[1] - hi < hi - lo, `stdout: ${r.stdout}`);
});

test('&`jiffies is its address, as kallsyms lists it', { skip: unavailable() }, async () => {
  const at = /^([0-9a-f]{16}) [dDbB] jiffies$/m.exec(readFileSync('/proc/kallsyms', 'latin1'))![1].replace(/^0+/, '');
  const d = new Tracing(['-q', '-n', 'BEGIN { printf("%x %d\\n", (uint64_t)&`jiffies, sizeof (*&`jiffies)); exit(0); }']);
  const r = await d.finished(60_000);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `${at} 8\n\n`);
});
