// ReadableWaiter: an idle dtrace sleeps in poll(2) on its rings, off the main thread.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, constants } from 'node:fs';
import { test } from 'node:test';
import { ReadableWaiter } from '../../src/kernel/bpf/sys.js';
import { TraceInstance } from '../../src/kernel/tracefs.js';
import { liveUnavailable, TRACEFS } from '../live/harness.js';

const skip = liveUnavailable() ?? false;

function waitOnce(w: ReadableWaiter, fds: number[], timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  return new Promise((resolve) => w.wait(fds, timeoutMs, () => resolve(Date.now() - t0)));
}

test('a ring that gets an event ends the wait; wake() ends it at once; the timeout ends it too', { skip }, async () => {
  const w = ReadableWaiter.create();
  assert.ok(w, 'koffi loads');
  const inst = TraceInstance.create(TRACEFS);
  const fds: number[] = [];
  try {
    inst.write('buffer_percent', '0');
    // an event nothing else on the machine makes: a failing sethostname from our own child
    inst.enableEvent('syscalls', 'sys_enter_sethostname', null);
    inst.start();
    for (const cpu of inst.cpus()) fds.push(inst.openRaw(cpu, constants.O_RDONLY | constants.O_NONBLOCK));

    const timedOut = await waitOnce(w, fds, 200);
    assert.ok(timedOut >= 150, `the timeout ended it (${timedOut} ms)`);

    const woken = waitOnce(w, fds, 60_000);
    assert.equal(w.waiting, true);
    spawnSync('/usr/bin/python3', ['-c', 'import socket\ntry: socket.sethostname("x" * 300)\nexcept OSError: pass']);
    assert.ok((await woken) < 30_000, 'the event ended the wait');

    const ended = waitOnce(w, [], 60_000);
    w.wake();
    assert.ok((await ended) < 30_000, 'wake() ended the wait');
    assert.equal(w.returned(), true);
  } finally {
    for (const fd of fds) closeSync(fd);
    w.close();
    inst.remove();
  }
});
