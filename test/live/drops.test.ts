// What the kernel drops is reported as DTrace reports it, and only the probes' events count as
// drops: dtrace's own bookkeeping events (the process table's: task creation, exit) are traced
// in an instance of their own, so losing them never inflates the user's drop count.

import { strict as assert } from 'node:assert';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';

const skip = liveUnavailable() ?? false;

/** The sum of the "N drops on CPU C" lines. */
function principalDrops(stderr: string): number {
  let n = 0;
  for (const m of stderr.matchAll(/^dtrace: (\d+) drops? on CPU \d+$/gm)) n += Number(m[1]);
  return n;
}

test('events counted plus drops reported is exactly what the probe saw, whatever the process table lost', { skip }, () => {
  // 200 rounds of 40 chdir()s and a child (its creation and exit are bookkeeping events),
  // into a 4 KiB buffer: most chdir()s are dropped, and so may be the children's events
  const rounds = 200;
  const perRound = 40;
  const script = join(tmpdir(), `dtrace-ts-drops-${process.pid}.sh`);
  writeFileSync(script, `i=0; while [ $i -lt ${rounds} ]; do i=$((i+1)); ${'cd /;'.repeat(perRound)} /bin/true; done\n`);
  let r;
  try {
    r = runDtrace(
      ['-q', '-x', 'bufsize=4k', '-x', 'switchrate=1s', '-n', 'syscall::chdir:entry /pid == $target/ { @ = count(); }', '-c', `/bin/sh ${script}`],
      // the tracefs path's buffers (in the kernel, with BPF, this clause has none to fill)
      { timeout: 60_000, env: { DTRACE_TS_NO_BPF: '1' } },
    );
  } finally {
    rmSync(script, { force: true });
  }
  assert.equal(r.code, 0, r.stderr);
  const counted = Number(/^\s*(\d+)\s*$/m.exec(r.stdout)?.[1] ?? '0');
  const dropped = principalDrops(r.stderr);
  assert.ok(dropped > 0, `a 4 KiB buffer should have overflowed:\n${r.stderr}`);
  assert.equal(counted + dropped, rounds * perRound, `counted ${counted}, dropped ${dropped}\n${r.stderr}`);
  // anything else said is about the process table, never a drop of the probe's
  for (const line of r.stderr.split('\n').filter((l) => l !== '')) {
    assert.match(line, /^dtrace: (\d+ drops? on CPU \d+|\d+ process table events? dropped on CPU \d+ \(.*\))$/, line);
  }
  assert.deepEqual(instancesOf(r.pid), []);
});
