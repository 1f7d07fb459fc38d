import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { Compiler } from '../../src/compile/compile.js';
import { DtraceProvider } from '../../src/providers/dtrace.js';
import { ProbeRegistry } from '../../src/providers/registry.js';
import { Options } from '../../src/runtime/options.js';

function plan(text: string) {
  const registry = new ProbeRegistry();
  registry.add(new DtraceProvider());
  const c = new Compiler(new Options(), registry, { args: ['t'], defaultArgs: false, vars: new Map(), used: new Set() });
  const clauses = c.compile({ text, fromFile: true, name: 't', level: 3 }).clauses;
  return clauses[clauses.length - 1].plan;
}

test('predicate conjuncts comparing built-ins with constants go to the kernel', () => {
  const p = plan('self int x; BEGIN /pid == 42 && execname != "bash" && 7 < arg0 && self->x/ { trace(arg1); }');
  assert.deepEqual(p.kernel, [
    { field: 'pid', op: '==', value: 42n },
    { field: 'execname', op: '!=', value: 'bash' },
    { field: 'arg0', op: '>', value: 7n },
  ]);
  assert.deepEqual([...p.reads].sort(), ['arg0', 'arg1', 'execname', 'pid']);
});

test('a predicate the kernel can take whole', () => {
  const p = plan('BEGIN /tid != 0/ { @[probefunc] = count(); }');
  assert.deepEqual(p.kernel, [{ field: 'tid', op: '!=', value: 0n }]);
  assert.deepEqual([...p.reads].sort(), ['probefunc', 'tid']);
});

test('string fields only filter on equality', () => {
  const p = plan('BEGIN /execname < "m"/ { }');
  assert.deepEqual(p.kernel, []);
});
