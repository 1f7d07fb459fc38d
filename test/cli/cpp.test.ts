// cpp under -C on hostile input (issue 8): bounded in time, memory and output, and a cpp that
// is stopped leaves no cc1 behind.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCpp } from '../../src/cli/main.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cli = join(root, 'dist', 'cli.js');
const limits = { seconds: 2, memoryMB: 512, outputMB: 1 };
// cpp comes from the cpp package; the process-group and parent-death handling need coreutils'
// timeout and util-linux's setpriv
const noCpp = !existsSync('/usr/bin/cpp') && !existsSync('/bin/cpp') ? 'cpp is not installed' : false;
const noGroup = noCpp || (!existsSync('/usr/bin/timeout') ? 'timeout(1) is not installed' : false);
const noPdeath = noGroup || (!existsSync('/usr/bin/setpriv') ? 'setpriv(1) is not installed' : false);

/** Processes whose command line mentions `text` (a cpp or cc1 of ours left running). */
function processesNaming(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
      if (cmd.includes(text)) out.push(`${pid} ${cmd}`);
    } catch {
      // gone
    }
  }
  return out;
}

/** Waits (a little) for the killed processes to be reaped, then lists any left. */
function leftover(text: string): string[] {
  for (let i = 0; i < 50; i++) {
    if (processesNaming(text).length === 0) return [];
    spawnSync('sleep', ['0.1']);
  }
  return processesNaming(text);
}

test('#include "/dev/zero" under -C: a DTrace error, cpp stopped by its memory limit', { timeout: 120_000, skip: noCpp }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    const file = join(dir, 'zero.d');
    writeFileSync(file, '#include "/dev/zero"\nBEGIN { exit(0); }\n');
    const r = spawnSync(process.execPath, [cli, '-C', '-e', '-s', file], { timeout: 60_000 });
    assert.equal(r.status, 1);
    const err = r.stderr.toString();
    assert.ok(err.endsWith(`dtrace: failed to compile script ${file}: Preprocessor failed to process input program\n`), err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an #include that never ends: the time limit stops cpp and cc1', { timeout: 120_000, skip: noGroup }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    // a FIFO nobody writes: cc1 waits in open(2), without output or CPU time
    assert.equal(spawnSync('mkfifo', [join(dir, 'fifo.h')]).status, 0);
    const r = await runCpp('#include "fifo.h"\nBEGIN { }\n', [`-I${dir}`], false, limits, 'ignore');
    assert.deepEqual(r, { error: 'Preprocessor failed to process input program: time limit of 2 s exceeded' });
    assert.deepEqual(leftover(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a header that includes itself twice: stopped too', { timeout: 120_000, skip: noGroup }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    writeFileSync(join(dir, 'self.h'), '#include "self.h"\n#include "self.h"\n');
    const r = await runCpp('#include "self.h"\nBEGIN { }\n', [`-I${dir}`], false, limits, 'ignore');
    assert.ok(typeof r !== 'string' && r.error.startsWith('Preprocessor failed to process input program: '), JSON.stringify(r));
    assert.deepEqual(leftover(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dtrace killed while cpp runs: cpp and cc1 go with it', { timeout: 120_000, skip: noPdeath }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    assert.equal(spawnSync('mkfifo', [join(dir, 'fifo.h')]).status, 0);
    const file = join(dir, 'fifo.d');
    writeFileSync(file, '#include "fifo.h"\nBEGIN { }\n');
    const child = spawn(process.execPath, [cli, '-C', `-I${dir}`, '-e', '-s', file], { stdio: 'ignore' });
    const exited = new Promise((res) => child.on('exit', res));
    // wait for cc1 (its command line names the include directory), then SIGKILL dtrace
    for (let i = 0; i < 100 && !processesNaming(dir).some((p) => p.includes('cc1')); i++) {
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(processesNaming(dir).some((p) => p.includes('cc1')), 'cc1 started');
    child.kill('SIGKILL');
    await exited;
    assert.deepEqual(leftover(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output past the cap stops cpp and cc1', { timeout: 120_000, skip: noGroup }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    // 2^22 copies of a 9-byte word: 36 MB of output from a few lines
    let text = '#define X0 abcdefgh\n';
    for (let i = 1; i <= 22; i++) text += `#define X${i} X${i - 1} X${i - 1}\n`;
    text += 'X22\n';
    const r = await runCpp(text, [`-I${dir}`], false, limits, 'ignore');
    assert.deepEqual(r, { error: 'Preprocessor failed to process input program: output limit of 1 MB exceeded' });
    assert.deepEqual(leftover(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cpp errors: its own message, then DTrace\'s', { timeout: 60_000, skip: noCpp }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'dtrace-cpp-'));
  try {
    const file = join(dir, 'err.d');
    writeFileSync(file, '#error no such thing\nBEGIN { }\n');
    const r = spawnSync(process.execPath, [cli, '-C', '-e', '-s', file], { timeout: 60_000 });
    assert.equal(r.status, 1);
    const err = r.stderr.toString();
    assert.match(err, /#error no such thing/);
    assert.ok(err.endsWith(`dtrace: failed to compile script ${file}: Preprocessor failed to process input program\n`), err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
