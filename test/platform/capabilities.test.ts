// The capability report names the platform it runs on: in the lab, the one booted.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { runDtrace } from '../live/harness.js';
import { LAB, LAB_CPUS, READY_MS } from './lab.js';

const QEMU_TCG = /^ {2}hypervisor {8}QEMU \(emulated, no KVM\) \(DMI: QEMU, Standard PC/m;
const HYPERVISOR: Record<string, RegExp> = {
  'linux-6.1': QEMU_TCG,
  'linux-6.1-rt': QEMU_TCG,
  // a domU xl created: its UUID is the one xl gave it (random), never dom0's all-zero one
  'xen-domu': /^ {2}hypervisor {8}Xen PV, domU \(\/sys\/hypervisor\/type: xen, guest_type: PV; \/sys\/hypervisor\/uuid: (?!0{8}-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)$/m,
  'xen-pv': /^ {2}hypervisor {8}Xen PV, dom0 \(\/sys\/hypervisor\/type: xen, guest_type: PV; \/sys\/hypervisor\/uuid: 00000000-0000-0000-0000-000000000000\)$/m,
};

test('dtrace -vV names the lab platform, and fbt usable on it', { skip: LAB ? false : 'outside the lab (test/kernel/platform.test.ts checks this machine)' }, (t) => {
  const r = runDtrace(['-vV'], { timeout: READY_MS });
  assert.equal(r.code, 0, r.stderr);
  // the report itself, in the lab's console log: what each platform looks like to dtrace (a
  // line each: the guest reports through /dev/kmsg, whose records hold one short line)
  for (const line of r.stdout.trimEnd().split('\n')) t.diagnostic(line);
  assert.match(r.stdout, HYPERVISOR[LAB!], r.stdout);
  assert.match(r.stdout, new RegExp(`^ {2}CPUs {14}${LAB_CPUS ?? 2}$`, 'm'), r.stdout);
  // the real-time kernel says so; the others do not
  const kernel = /^ {2}kernel {12}(.*)$/m.exec(r.stdout)?.[1] ?? '';
  assert.equal(kernel.endsWith(' (PREEMPT_RT)'), LAB!.endsWith('-rt'), r.stdout);
  assert.match(r.stdout, /^ {2}kprobe events {5}yes$/m, r.stdout);
  assert.match(r.stdout, /^ {2}fbt {15}yes$/m, r.stdout);
  assert.match(r.stdout, /^ {2}BPF {15}yes$/m, r.stdout);
});
