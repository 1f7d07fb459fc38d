// Which aggregation keys compile to BPF (bpfgen's kernelKey): func(), sym(), mod() of an
// integer and stack() (its frames in the key, on sampling probes only); ustack() and the user
// symbol functions stay in dtrace (the kernel's frame-pointer user stacks are too short on
// distribution binaries, and user symbols must be read while the process lives).

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Compiler } from '../../src/compile/compile.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';

function kernelOf(text: string, opts = new Options()) {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(opts, registry, { args: ['t'], defaultArgs: false, vars: new Map(), used: new Set() });
  const clauses = c.compile({ text, fromFile: true, name: 't', level: 3 }).clauses;
  return clauses[clauses.length - 1].plan.inKernel;
}

test('func(), sym() and mod() of an integer are kernel keys: the address (func and sym: their function\'s start when read)', () => {
  const k = kernelOf('BEGIN { @[func(arg0)] = count(); @s[sym(arg0 + 1)] = count(); @m[mod(arg0)] = count(); }');
  assert.ok(k !== null);
  assert.deepEqual(
    k.aggregations.map((a) => [a.keys, a.keySize]),
    [
      [[{ kind: 'sym', start: true }], 8],
      [[{ kind: 'sym', start: true }], 8],
      [[{ kind: 'sym', start: false }], 8],
    ],
  );
  assert.equal(k.sampleOnly, false);
});

test('stack() keys hold the frames (stackframes of them, or stack(N)\'s N), and run on sampling probes only', () => {
  const k = kernelOf('BEGIN { @[stack()] = count(); @n[stack(5), pid] = count(); }');
  assert.ok(k !== null);
  assert.deepEqual(k.aggregations[0].keys, [{ kind: 'stack', frames: 20 }]);
  assert.equal(k.aggregations[0].keySize, 160);
  assert.deepEqual(k.aggregations[1].keys, [{ kind: 'stack', frames: 5 }, { kind: 'int', size: 4, signed: true }]);
  assert.equal(k.sampleOnly, true);
  const o = new Options();
  o.set('stackframes', '7');
  assert.deepEqual(kernelOf('BEGIN { @[stack()] = count(); }', o)?.aggregations[0].keys, [{ kind: 'stack', frames: 7 }]);
});

test('stacks too deep for a key, ustack() and the user symbol functions stay in dtrace', () => {
  assert.equal(kernelOf('BEGIN { @[stack(100)] = count(); }'), null);
  assert.equal(kernelOf('BEGIN { @[ustack()] = count(); }'), null);
  assert.equal(kernelOf('BEGIN { @[ufunc(arg1)] = count(); }'), null);
  assert.equal(kernelOf('BEGIN { @[func(execname)] = count(); }'), null);
});

test('a clause with stack() and a thread-local stays in dtrace (its variable must live where every clause can run)', () => {
  assert.equal(kernelOf('self int x; BEGIN /self->x/ { @[stack()] = count(); }'), null);
});
