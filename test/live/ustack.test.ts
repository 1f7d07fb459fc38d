// ustack() and the user symbol functions on the live kernel, against a program built with gcc
// -O2 (no frame pointers): the stack must be main -> a -> b -> c exactly, each return address
// at the offset objdump shows after the call, on pid, syscall and profile probes, for a -c
// process that has exited before its stacks print, and for a forked child.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'ustack-live-'));
const prog = join(dir, 'ustack-chain');
after(() => rmSync(dir, { recursive: true, force: true }));

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  const cc = spawnSync('cc', ['-O2', '-fomit-frame-pointer', '-o', prog, join(root, 'test', 'live', 'programs', 'ustack-chain.c')], { encoding: 'latin1' });
  if (cc.error || cc.status !== 0) return `no C compiler: ${cc.error?.message ?? cc.stderr}`;
  const od = spawnSync('objdump', ['--version'], { encoding: 'latin1' });
  return od.error || od.status !== 0 ? 'no objdump' : false;
}
const skip = unavailable();

/**
 * The frame text of each return address in the chain, from the disassembly: for a call to
 * `callee` inside `caller`, "ustack-chain`caller+0x<offset of the next instruction>".
 */
function returnFrames(): Map<string, string> {
  return returnSites()[0];
}

/** Every call site's frame text, by "caller->callee" (main calls a() from two places). */
function returnSites(): [Map<string, string>, Map<string, string[]>] {
  const text = spawnSync('objdump', ['-d', '--no-show-raw-insn', prog], { encoding: 'latin1' }).stdout;
  const out = new Map<string, string>();
  const all = new Map<string, string[]>();
  let fn = '';
  let start = 0;
  let pending: string | null = null;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+) <([^>]+)>:$/.exec(line);
    if (head) {
      fn = head[2];
      start = parseInt(head[1], 16);
      continue;
    }
    const insn = /^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
    if (!insn) continue;
    const at = parseInt(insn[1], 16);
    if (pending !== null) {
      const f = `ustack-chain\`${fn}+0x${(at - start).toString(16)}`;
      if (!out.has(pending)) out.set(pending, f);
      all.set(pending, [...(all.get(pending) ?? []), f]);
      pending = null;
    }
    const call = /^call\S*\s+[0-9a-f]+ <(\w+)>/.exec(`${insn[2]} ${insn[3]}`);
    if (call && ['a', 'b', 'c', 'hot', 'spin'].includes(call[1]) && ['main', 'a', 'b', 'hot'].includes(fn)) pending = `${fn}->${call[1]}`;
  }
  return [out, all];
}

const INDENT = ' '.repeat(14);

/** The chain's frames from main up, as ustack() prints them, above c's frame. */
function chainBelowC(ret: Map<string, string>): string[] {
  return [ret.get('b->c')!, ret.get('a->b')!, ret.get('main->a')!];
}

/** The frames of libc's start-up and _start under main. */
const START = [/^libc\.so\.6`__libc_start_call_main\+0x[0-9a-f]+$/, /^libc\.so\.6`__libc_start_main(@@GLIBC_[0-9.]+)?\+0x[0-9a-f]+$/, /^ustack-chain`_start\+0x[0-9a-f]+$/];

function checkStart(lines: string[]): void {
  assert.equal(lines.length, START.length, lines.join('\n'));
  lines.forEach((l, i) => assert.match(l, START[i]));
}

test('pid$target::c:entry { ustack(); } prints c, then b, a and main at their return addresses, then libc start-up', { skip }, () => {
  const ret = returnFrames();
  const r = runDtrace(['-q', '-n', 'pid$target::c:entry { ustack(); }', '-c', `${prog} chain 1`]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const lines = r.stdout.split('\n');
  // a blank line, then one frame a line, indented 14
  assert.equal(lines[0], '');
  const frames = lines.slice(1).filter((l) => l !== '');
  for (const f of frames) assert.ok(f.startsWith(INDENT) && !f.startsWith(INDENT + ' '), JSON.stringify(f));
  const t = frames.map((f) => f.trim());
  assert.deepEqual(t.slice(0, 4), ['ustack-chain`c', ...chainBelowC(ret)]);
  checkStart(t.slice(4));
});

test('ustack(n) gives the innermost n frames; ustackdepth counts them all', { skip }, () => {
  const ret = returnFrames();
  const r = runDtrace(['-q', '-n', 'pid$target::c:entry { ustack(2); printf("depth %d\\n", ustackdepth); }', '-c', `${prog} chain 1`]);
  assert.equal(r.stdout, `\n${INDENT}ustack-chain\`c\n${INDENT}${ret.get('b->c')}\ndepth 7\n\n`);
});

test('@[ustack()] on syscall::write:entry: the write inside libc, then the whole chain, counted', { skip }, () => {
  const ret = returnFrames();
  const r = runDtrace(['-q', '-n', 'syscall::write:entry /pid == $target/ { @[ustack()] = count(); }', '-c', `${prog} chain 3`]);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.trim());
  assert.match(lines[0], /^libc\.so\.6`(__)?write\+0x[0-9a-f]+$/);
  assert.match(lines[1], /^ustack-chain`c\+0x[0-9a-f]+$/);
  assert.deepEqual(lines.slice(2, 5), chainBelowC(ret));
  checkStart(lines.slice(5, 8));
  assert.equal(lines[8], '3');
  assert.equal(lines.length, 9);
});

test('profile-997 /pid == $target/ { @[ustack()] = count(); } names the hot function under its callers', { skip }, () => {
  const ret = returnFrames();
  const r = runDtrace(['-q', '-n', 'profile-997 /pid == $target/ { @[ustack()] = count(); }', '-c', `${prog} hot 600`]);
  // on a loaded machine a ring may overflow before dtrace reads it: said as drops, nothing else
  assert.match(r.stderr, /^(dtrace: \d+ drops? on CPU \d+\n)*$/);
  // each PC in spin() is a stack of its own: every one of them is spin under hot under main,
  // and together they have most samples
  const stacks = r.stdout.split('\n\n').map((x) => x.split('\n').filter((l) => l !== '').map((l) => l.trim())).filter((x) => x.length > 1);
  let inSpin = 0;
  let total = 0;
  for (const st of stacks) {
    const n = Number(st.at(-1));
    total += n;
    if (!/^ustack-chain`spin\+0x[0-9a-f]+$/.test(st[0])) continue;
    inSpin += n;
    assert.deepEqual(st.slice(1, 3), [ret.get('hot->spin'), ret.get('main->hot')], st.join('\n'));
    checkStart(st.slice(3, -1));
  }
  assert.ok(inSpin > 100 && inSpin > total / 2, r.stdout);
});

test('usym(), ufunc(), umod() and uaddr() of ucaller, printed and as aggregation keys', { skip }, () => {
  const ret = returnFrames();
  const bc = ret.get('b->c')!;
  const r = runDtrace(['-q', '-n', 'pid$target::c:entry { usym(ucaller); ufunc(ucaller); umod(ucaller); uaddr(ucaller); printf("\\n"); @[usym(ucaller), umod(ucaller), uaddr(ucaller)] = count(); }', '-c', `${prog} chain 2`]);
  assert.equal(r.stderr, '');
  const pad = (s: string) => `  ${s.padEnd(50)}`;
  const line = pad('ustack-chain`b') + pad('ustack-chain`b') + pad('ustack-chain') + pad(bc) + '\n';
  // the key's columns, then the count right-aligned in 20 (an aggregation's last column)
  assert.equal(r.stdout, line + line + '\n' + pad('ustack-chain`b') + pad('ustack-chain') + pad(bc) + '2'.padStart(17) + '\n');
});

test('a short-lived -c process and its forked child are symbolised after they exited', { skip }, () => {
  const [ret, all] = returnSites();
  const r = runDtrace(['-q', '-n', 'syscall::write:entry /ppid == $target/ { @[ustack(5)] = count(); }', '-c', `${prog} fork`]);
  assert.equal(r.stderr, '');
  const lines = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.trim());
  assert.match(lines[0], /^libc\.so\.6`(__)?write\+0x[0-9a-f]+$/, r.stdout);
  assert.match(lines[1], /^ustack-chain`c\+0x[0-9a-f]+$/, r.stdout);
  assert.deepEqual(lines.slice(2, 4), [ret.get('b->c'), ret.get('a->b')], r.stdout);
  // the child calls a() from main's fork branch
  assert.ok(all.get('main->a')!.includes(lines[4]), lines[4]);
  assert.equal(lines[5], '1');
  assert.equal(lines.length, 6);
});

test('a probe with no user context (BEGIN) has an empty ustack()', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'BEGIN { ustack(); printf("[%d]\\n", ustackdepth); exit(0); }']);
  assert.equal(r.stdout, '\n[0]\n\n');
});

test('-x oformat=json: ustack() frames, and usym()/umod() with their text', { skip }, () => {
  const ret = returnFrames();
  const r = runDtrace(['-x', 'oformat=json', '-q', '-n', 'pid$target::c:entry { ustack(2); usym(ucaller); umod(ucaller); }', '-c', `${prog} chain 1`]);
  const probe = JSON.parse(r.stdout.split('\n')[0]) as { data: Array<Record<string, unknown>> };
  assert.deepEqual(probe.data[0], { action: 'ustack', frames: ['ustack-chain`c', ret.get('b->c')] });
  assert.equal(probe.data[1].symbol, 'ustack-chain`b');
  assert.equal(probe.data[2].symbol, 'ustack-chain');
  assert.equal(typeof probe.data[1].address, 'number');
});
