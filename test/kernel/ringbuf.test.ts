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
    inst.write('trace_options', 'nooverwrite');
    inst.setBufferSizeKb(4096);
    inst.enableEvent('syscalls', 'sys_enter_chdir', null);
    inst.enableEvent('sched', 'sched_switch', null);
    inst.start();
    spawnSync('/bin/sh', ['-c', 'for i in $(seq 1 500); do cd /; done']);
    inst.stop();
    // the text view does not consume; read it first
    // per CPU, in the order the kernel shows them
    const text = new Map<number, Array<[number, number]>>();
    const cpus = inst.cpus();
    for (const cpu of cpus) {
      const mine: Array<[number, number]> = [];
      for (const line of readFileSync(join(inst.path, 'per_cpu', `cpu${cpu}`, 'trace'), 'latin1').split('\n')) {
        const m = /^\s*.+?-(\d+)\s+(?:\(\s*[\d-]+\)\s+)?\[\d+\]\s+\S+\s+(\d+)\.(\d{6}):/.exec(line);
        if (m) mine.push([Number(m[1]), Number(m[2]) * 1e6 + Number(m[3])]);
      }
      text.set(cpu, mine);
    }
    const chdir = readEventFormat(TRACEFS, 'syscalls', 'sys_enter_chdir').id;
    const reader = new RingReader(readPageLayout(TRACEFS));
    reader.readInstance(inst, cpus, inst.subbufSize());
    reader.open();
    const got = new Map<number, Array<[number, number]>>(cpus.map((c) => [c, []]));
    let chdirs = 0;
    let last = -Infinity;
    let ordered = true;
    reader.drain(
      {
        event(cpu, _page, view, off, _len, ts) {
          if (view.getUint16(off, true) === chdir) chdirs++;
          if (ts < last) ordered = false;
          last = ts;
          // the text view shows microseconds, truncated
          got.get(cpu)!.push([view.getInt32(off + 4, true), Math.floor(Number(reader.base + BigInt(Math.round(ts))) / 1000)]);
        },
      },
      true,
    );
    reader.close();
    assert.ok(chdirs >= 500, `chdirs ${chdirs}`);
    assert.ok(ordered);
    for (const cpu of cpus) {
      const g = got.get(cpu)!;
      const t = text.get(cpu)!;
      assert.equal(g.length, t.length, `events on CPU ${cpu}`);
      let mismatched = 0;
      for (let i = 0; i < g.length; i++) if (g[i][0] !== t[i][0] || Math.abs(g[i][1] - t[i][1]) > 1) mismatched++;
      assert.equal(mismatched, 0, `events on CPU ${cpu} that differ`);
    }
  } finally {
    inst.remove();
  }
});
