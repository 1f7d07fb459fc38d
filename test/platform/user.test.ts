// The user-space providers on this platform (uprobes: breakpoints and single-stepping in the
// traced process, under each hypervisor): pid$target counts every call of a function, ustack()
// walks from it to main, and the USDT probe of a program built with our own `dtrace -h` fires
// once a call with its argument. The program, lab-target, is built on the host (programs.ts).

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { instancesOf, runDtrace } from '../live/harness.js';
import { READY_MS, skipUnless, uprobesOf } from './lab.js';
import { LAB_TARGET } from './programs.js';

const CALLS = 500;
const skip = skipUnless('kernel', 'uprobes');

function run(script: string, calls: number): ReturnType<typeof runDtrace> {
  const r = runDtrace(['-q', '-n', script, '-c', `${LAB_TARGET} ${calls}`], { timeout: READY_MS });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.deepEqual(uprobesOf(r.pid), []);
  assert.deepEqual(instancesOf(r.pid), []);
  return r;
}

test(`pid$target::hot:entry counts each of ${CALLS} calls, and hot:return the values`, { skip }, () => {
  const r = run('pid$target::hot:entry { @n = count(); @a = sum(arg0); } pid$target::hot:return { @r = max(arg1); } END { printa("calls %@d\\n", @n); printa("args %@d\\n", @a); printa("max %@d\\n", @r); }', CALLS);
  const sum = (CALLS * (CALLS - 1)) / 2;
  assert.equal(r.stdout.trimEnd(), `calls ${CALLS}\nargs ${sum}\nmax ${sum}`);
});

test('ustack() at pid$target::hot:entry: hot, then middle and main at their return addresses', { skip }, () => {
  const r = run('pid$target::hot:entry /arg0 == 3/ { ustack(); }', 5);
  const frames = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.trim());
  assert.equal(frames[0], 'lab-target`hot', r.stdout);
  assert.match(frames[1] ?? '', /^lab-target`middle\+0x[0-9a-f]+$/, r.stdout);
  assert.match(frames[2] ?? '', /^lab-target`main\+0x[0-9a-f]+$/, r.stdout);
});

test(`usdt: lab$target:::hot-call (a dtrace -h header) fires once a call, with its argument`, { skip }, () => {
  const r = run('lab$target:::hot-call { @n = count(); @a = sum(arg0); @f[probemod, probefunc, probename] = count(); } END { printa("calls %@d\\n", @n); printa("args %@d\\n", @a); printa("%s %s %s %@d\\n", @f); }', CALLS);
  assert.equal(r.stdout.trimEnd(), `calls ${CALLS}\nargs ${(CALLS * (CALLS - 1)) / 2}\nlab-target hot hot-call ${CALLS}`);
});
