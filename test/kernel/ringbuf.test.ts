// The binary ring-buffer reader against the kernel's own text rendering of the same events.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readEventFormat, readPageLayout } from '../../src/kernel/event-format.js';
import { RingReader } from '../../src/kernel/ringbuf.js';
import { TraceInstance } from '../../src/kernel/tracefs.js';
import { liveUnavailable, TRACEFS } from '../live/harness.js';

const skip = liveUnavailable() ?? false;

test('every event the kernel shows as text, read in binary: same thread, same time, time order', { skip }, () => {
  const inst = TraceInstance.create(TRACEFS);
  try {
    inst.setBufferSizeKb(1024);
    inst.enableEvent('syscalls', 'sys_enter_chdir', null);
    inst.enableEvent('sched', 'sched_switch', null);
    inst.start();
    spawnSync('/bin/sh', ['-c', 'for i in $(seq 1 500); do cd /; done']);
    inst.stop();
    // the text view does not consume; read it first
    const text: Array<[number, number]> = [];
    const cpus = inst.cpus();
    for (const cpu of cpus) {
      for (const line of readFileSync(join(inst.path, 'per_cpu', `cpu${cpu}`, 'trace'), 'latin1').split('\n')) {
        const m = /^\s*.+?-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\]\s+\S+\s+(\d+)\.(\d{6}):/.exec(line);
        if (m) text.push([Number(m[1]), Number(m[2]) * 1e6 + Number(m[3])]);
      }
    }
    text.sort((a, b) => a[1] - b[1]);
    const chdir = readEventFormat(TRACEFS, 'syscalls', 'sys_enter_chdir').id;
    const reader = new RingReader(inst, cpus, inst.subbufSize(), readPageLayout(TRACEFS));
    reader.open();
    const got: Array<[number, number]> = [];
    let chdirs = 0;
    let last = -Infinity;
    let ordered = true;
    reader.drain(
      {
        event(_cpu, _page, view, off, _len, ts) {
          if (view.getUint16(off, true) === chdir) chdirs++;
          if (ts < last) ordered = false;
          last = ts;
          // the text view shows microseconds, truncated
          got.push([view.getInt32(off + 4, true), Math.floor(Number(reader.base + BigInt(Math.round(ts))) / 1000)]);
        },
      },
      true,
    );
    reader.close();
    assert.ok(chdirs >= 500, `chdirs ${chdirs}`);
    assert.equal(got.length, text.length);
    assert.ok(ordered);
    let mismatched = 0;
    for (let i = 0; i < got.length; i++) {
      if (got[i][0] !== text[i][0] || Math.abs(got[i][1] - text[i][1]) > 1) mismatched++;
    }
    assert.equal(mismatched, 0);
  } finally {
    inst.remove();
  }
});
