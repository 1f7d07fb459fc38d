// The cpc provider against the live kernel: software events sample every CPU as hardware
// counters would; where the CPU has no PMU (this Firecracker guest, qemu's TCG), hardware
// events are refused in one line that says why, and -l lists what can be counted.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';
import { hardwareCountersUnavailable } from '../../src/kernel/perf-events.js';
import { samplingUnavailable } from '../../src/kernel/perf-sampler.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';

const live = liveUnavailable();
const noPerf = live === null ? samplingUnavailable() : null;
const skip = live ?? (noPerf !== null ? `no perf sampling here: ${noPerf}` : false);
const noPmu = skip === false ? hardwareCountersUnavailable() : null;

test('cpc on a hardware event without a PMU: a one-line refusal that says why', { skip: skip || (noPmu === null && 'this CPU has hardware counters') }, () => {
  const r = runDtrace(['-n', 'cpc:::cpu_cycles-user-100000 { @ = count(); }']);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    'dtrace: invalid probe specifier cpc:::cpu_cycles-user-100000 { @ = count(); }: cpc probes on hardware counters are not available: ' +
      `${noPmu}; use the kernel's software events (cpu_clock, task_clock, page_faults, ...) or profile-N\n`,
  );
  assert.match(noPmu!, /^this CPU exposes no performance monitoring unit \(perf_event_open: /);
  const v = runDtrace(['-vV']);
  assert.ok(v.stdout.includes(`\n  hw counters       no: ${noPmu}\n`), v.stdout);
  assert.ok(v.stdout.includes('\n  cpc               software events only (cpu_clock, task_clock, page_faults, ...): hardware counters are not available: '), v.stdout);
});

test('cpc on hardware counters where the CPU has them: cycles sample a spinning process', { skip: skip || (noPmu !== null && `no hardware counters: ${noPmu}`) }, () => {
  const r = runDtrace(['-q', '-n', 'cpc:::cpu_cycles-user-1000000 /pid == $target/ { @ = count(); }', '-c', '/bin/sh -c "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"'], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Number(r.stdout.trim()) > 0, r.stdout);
});

test('cpc on a software event: cpu_clock every 10 ms fires on the CPUs with arg0/arg1 the PCs', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'cpc:::cpu_clock-all-10000000 { @n = count(); @k = sum(arg0 != 0 && arg1 == 0 || arg0 == 0 && arg1 != 0); } tick-1s { exit(0); }']);
  assert.equal(r.code, 0, r.stderr);
  const nums = r.stdout.trim().split(/\s+/).map(Number);
  assert.equal(nums.length, 2, r.stdout);
  // CPUs that idle may take few samples: a wide range
  assert.ok(nums[0]! >= 1 && nums[0]! <= 400, r.stdout);
  // one of the two PCs is set, never both
  assert.equal(nums[1], nums[0], r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
});

test('cpc descriptions Oracle and illumos reject match no probe', { skip: live ?? false }, () => {
  for (const d of ['cpc:::cpu_clock-all-100', 'cpc:::cpu_clock-all-10000bonehead', 'cpc:::nonexistentevent-all-10000']) {
    const r = runDtrace(['-xerrtags', '-n', `${d} { }`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `dtrace: invalid probe specifier ${d} { }: [D_PDESC_ZERO] probe description ${d} does not match any probes\n`);
  }
});

test('-l -P cpc lists what this machine can count, as EVENT-all-1000000000', { skip }, () => {
  const r = runDtrace(['-l', '-P', 'cpc']);
  assert.equal(r.code, 0, r.stderr);
  const names = r.stdout.split('\n').slice(1).filter((l) => l !== '').map((l) => l.trim().split(/\s+/).at(-1));
  assert.ok(names.includes('perf_count_sw_cpu_clock-all-1000000000'), r.stdout);
  assert.ok(names.includes('task_clock-all-1000000000'), r.stdout);
  assert.equal(names.includes('cpu_cycles-all-1000000000'), noPmu === null, r.stdout);
});

test('cpc modes: user counts only user-mode occurrences, kernel only kernel-mode ones', { skip }, () => {
  const modes = (mode: string): string[] => {
    const r = runDtrace(['-q', '-n', `cpc:::cpu_clock-${mode}-1000000 /execname == "dd"/ { @[arg0 != 0 ? "kernel" : "user"] = count(); }`, '-c', 'timeout 1 dd if=/dev/zero of=/dev/null bs=64k'], { timeout: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0]!).filter((k) => k !== '').sort();
  };
  assert.deepEqual(modes('user'), ['user']);
  assert.deepEqual(modes('kernel'), ['kernel']);
});

test('cpc clauses that compile run in the kernel on each overflow (as Oracle\'s), with the same arguments', { skip: skip || (bpfUnavailable() !== null && 'no BPF here') }, () => {
  const r = runDtrace(['-q', '-S', '-n', 'cpc:::cpu_clock-all-10000000 { @n = count(); @k = sum(arg0 != 0 && arg1 == 0 || arg0 == 0 && arg1 != 0); } tick-1s { printa("%@d\\n", @n); printa("%@d\\n", @k); exit(0); }']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /Disassembly of the BPF program on cpc:::cpu_clock-all-10000000 \(the probe's clauses that compiled to BPF\):/);
  const [n, k] = r.stdout.trim().split(/\s+/).map(Number);
  assert.ok(n! >= 1 && n! <= 400, r.stdout);
  // (the events fire on while the two are printed)
  assert.ok(Math.abs(k! - n!) <= 2, r.stdout);
  assert.deepEqual(instancesOf(r.pid), []);
});
