// Sizes taken from traced data are checked before anything is read: a process cannot make
// dtrace read (or allocate) gigabytes, and the run goes on.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;

test('copyin() of a size from traced data past the scratch space is an invalid size; END still runs', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'syscall::write:entry /pid == $target/ { x = copyin(arg1, arg2 << 40); printf("not printed\\n"); } END { printf("end\\n"); }', '-c', '/bin/echo hi']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'hi\nend\n\n');
  assert.match(r.stderr, /^dtrace: error on enabled probe ID 1 \(ID \d+: syscall:vmlinux:write:entry\): invalid size \(0x30000000000\) in action #1 at DIF offset 8\n$/);
  assert.deepEqual(instancesOf(r.pid), []);
});
