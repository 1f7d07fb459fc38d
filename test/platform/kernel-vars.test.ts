// Kernel variables on this platform: `jiffies, from kallsyms' data symbols, read by BPF as the
// probe fires, in a clause that runs in the kernel (an aggregation) and in one that prints
// (a firing value). Debian's kernels list data symbols (CONFIG_KALLSYMS_ALL); a kernel that does
// not (the development machine's Firecracker kernel) has no `jiffies to name.

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

test('`jiffies is read as the probe fires, in the kernel and in a clause that prints', { skip: unavailable() }, async () => {
  const d = new Tracing([
    '-q',
    '-n', 'syscall::chdir:entry /execname == "sh"/ { @lo = min(`jiffies); @hi = max(`jiffies); }',
    '-n', 'syscall::chdir:entry /execname == "sh"/ { printf("at %d\\n", vmlinux`jiffies); }',
    '-n', 'END { printa("lo %@d\\n", @lo); printa("hi %@d\\n", @hi); }',
  ]);
  await d.ready(READY_MS);
  // three calls a second apart: under emulation the first may come before BEGIN has run, whose
  // events dtrace does not report (the kernel's aggregation counts it all the same)
  workload('cd /; sleep 1; cd /; sleep 1; cd /');
  const r = await d.stop('SIGINT', 500);
  assert.equal(r.code, 0, r.stderr);
  const at = [...r.stdout.matchAll(/^at (\d+)$/gm)].map((m) => BigInt(m[1]));
  const lo = BigInt(/^lo (\d+)$/m.exec(r.stdout)?.[1] ?? '-1');
  const hi = BigInt(/^hi (\d+)$/m.exec(r.stdout)?.[1] ?? '-1');
  assert.ok(at.length >= 2, r.stdout);
  const first = at[0];
  const last = at[at.length - 1];
  // a second apart: jiffies advanced (HZ of them); each clause read it as that call was made
  assert.ok(at.every((x, i) => i === 0 || x > at[i - 1]) && lo > 0n && hi > lo, r.stdout);
  assert.ok(lo <= first && last >= hi - 1n && last - hi <= 1n, r.stdout);
});
