// Raw tracepoints on the live kernel: the argument count found by trial (what dtrace does where
// the kernel has no BTF) is the count BTF gives, and a name the kernel has not is none.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { rawTracepointArgCount } from '../../src/kernel/bpf/raw-tracepoints.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { kernelBtf } from '../../src/kernel/btf.js';

const skip = process.geteuid?.() !== 0 ? 'needs root' : (bpfUnavailable() ?? false);

test('the argument count found by trial is the one BTF gives', { skip }, () => {
  const btf = kernelBtf();
  for (const name of ['sys_enter', 'sched_process_fork', 'sched_switch', 'sched_process_exit']) {
    const n = rawTracepointArgCount(name);
    assert.ok(n !== null, name);
    const params = btf?.functionPointerParams(`btf_trace_${name}`);
    if (params) assert.equal(n, params.length - 1, name);
  }
  assert.equal(rawTracepointArgCount('sys_enter'), 2);
});

test('a raw tracepoint the kernel does not have has no count', { skip }, () => {
  assert.equal(rawTracepointArgCount('no_such_tracepoint_here'), null);
});
