import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ProcessTable, UNKNOWN_COMM } from '../../src/kernel/proctable.js';

/** Thread ids no live task has (above the kernel's pid_max limit of 2^22). */
const GONE = 4_194_304 + 17;
const NEVER_SEEN = 4_194_304 + 18;

test('a task met only after it exited: its name as tracefs saved it, else the kernel\'s <...>, never none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-proctable-'));
  try {
    writeFileSync(join(dir, 'saved_cmdlines'), `1 init\n${GONE} shortlived\n`);
    const procs = new ProcessTable(dir);
    assert.equal(procs.lookup(GONE).comm, 'shortlived');
    assert.equal(procs.lookup(NEVER_SEEN).comm, UNKNOWN_COMM);
    // a name from an event's record replaces the placeholder
    procs.noteComm(NEVER_SEEN, 'fromrecord');
    assert.equal(procs.lookup(NEVER_SEEN).comm, 'fromrecord');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the idle task is swapper; a live task is read from /proc', () => {
  const procs = new ProcessTable(null);
  assert.equal(procs.lookup(0).comm, 'swapper');
  const me = procs.lookup(process.pid);
  assert.equal(me.tgid, process.pid);
  assert.equal(me.ppid, process.ppid);
  assert.notEqual(me.comm, '');
});
