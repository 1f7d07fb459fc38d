// The library's record queue does not grow with a reader that does not keep up: past
// highWaterMark dtrace stops reading, what cannot be held is dropped and the drops are records
// (DTRACEDROP_PRINCIPAL), as a slow DTrace consumer's principal buffers drop.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { liveUnavailable } from '../live/harness.js';
import { run } from '../../src/api/index.js';
import type { DRecord } from '../../src/api/records.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function slowReader(program: string, options: Record<string, string>): Promise<void> {
  const t = run(program, { options, highWaterMark: 50 });
  try {
    // nobody reads for a while: the queue stays near the mark instead of growing
    let most = 0;
    for (let i = 0; i < 15; i++) {
      await sleep(100);
      most = Math.max(most, t.pending);
    }
    assert.ok(most >= 50, `the queue reached the mark (${most})`);
    assert.ok(most < 50 + 2000, `the queue stayed bounded (${most})`);
    // reading again resumes tracing; the drops come as records
    const seen: DRecord[] = [];
    for await (const r of t) {
      seen.push(r);
      if (r.type === 'drop') break;
    }
    const drop = seen.at(-1)!;
    assert.equal(drop.type, 'drop');
    assert.equal((drop as { kind: string }).kind, 'DTRACEDROP_PRINCIPAL');
    assert.ok((drop as { count: number }).count > 0);
  } finally {
    t.stop();
    await t.status;
  }
}

test('a slow reader of a timer probe: bounded queue, principal drops as records', async () => {
  await slowReader('tick-1ms { printf("%d\\n", timestamp); }', {});
});

test('a slow reader of a kernel probe: the kernel drops, dtrace reports it', { skip: liveUnavailable() ?? false }, async () => {
  await slowReader('profile-997 { printf("%d %s\\n", cpu, execname); }', { bufsize: '8k' });
});
