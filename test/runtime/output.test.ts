import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { OutputAction, OutputActionKind, OutputSink } from '../../src/runtime/output.js';

/** A sink writing to a file in a fresh folder; the folder goes when the test ends. */
function withSink(body: (sink: OutputSink, dir: string, read: () => string, warnings: string[]) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-output-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'a');
  const warnings: string[] = [];
  try {
    body(new OutputSink(fd, (m) => warnings.push(m), (e) => assert.fail(`output failed: ${e.message}`)), dir, () => readFileSync(file, 'latin1'), warnings);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('text is written as it is: bytes that look like an action are only bytes', () => {
  withSink((sink, dir, read) => {
    const marker = `\u0000SYSTEM\u0000touch ${join(dir, 'ran')}\u0000 \u0000FREOPEN\u0000${join(dir, 'elsewhere')}\u0000 \u0000FTRUNCATE\u0000\u0000`;
    sink.write(marker);
    sink.write('after\n');
    sink.flush();
    assert.equal(read(), `${marker}after\n`);
    assert.throws(() => readFileSync(join(dir, 'ran')));
    assert.throws(() => readFileSync(join(dir, 'elsewhere')));
  });
});

test('system() runs after the text written before it, its output in between', () => {
  withSink((sink, _dir, read) => {
    sink.write('before\n');
    sink.act(new OutputAction(OutputActionKind.System, 'echo from system'));
    sink.write('after\n');
    sink.flush();
    assert.equal(read(), 'before\nfrom system\nafter\n');
  });
});

test('held output (BEGIN\'s): nothing is written or run until release(), then all of it in order', () => {
  withSink((sink, dir, read) => {
    const ran = join(dir, 'ran');
    sink.hold();
    sink.write('before\n');
    sink.act(new OutputAction(OutputActionKind.System, `echo from system; touch ${ran}`));
    sink.write('after\n');
    sink.flush();
    assert.equal(read(), '');
    assert.throws(() => readFileSync(ran));
    sink.release();
    assert.equal(read(), 'before\nfrom system\nafter\n');
    // released: what follows is written and run at once again
    sink.act(new OutputAction(OutputActionKind.System, 'echo again'));
    assert.equal(read(), 'before\nfrom system\nafter\nagain\n');
  });
});

test('freopen() redirects what follows; freopen("") restores the original output', () => {
  withSink((sink, dir, read) => {
    const other = join(dir, 'other');
    sink.write('one\n');
    sink.act(new OutputAction(OutputActionKind.Freopen, other));
    sink.write('two\n');
    sink.act(new OutputAction(OutputActionKind.Freopen, ''));
    sink.write('three\n');
    sink.flush();
    assert.equal(read(), 'one\nthree\n');
    assert.equal(readFileSync(other, 'latin1'), 'two\n');
  });
});

test('ftruncate() empties the output file, after what was written before it', () => {
  withSink((sink, _dir, read) => {
    sink.write('gone\n');
    sink.act(new OutputAction(OutputActionKind.Ftruncate, ''));
    sink.write('kept\n');
    sink.flush();
    assert.equal(read(), 'kept\n');
  });
});

test('a write that fails ends the run through its handler, with the error', () => {
  const fd = openSync('/dev/full', 'w');
  const failures: string[] = [];
  try {
    const sink = new OutputSink(fd, () => undefined, (e) => failures.push(e.code ?? ''));
    sink.write('lost\n');
    sink.flush();
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(failures, ['ENOSPC']);
});
