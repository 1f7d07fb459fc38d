// The pid provider's instruction probes on the live kernel: a glob over probe names gives entry,
// return and one probe per instruction (its offset in hex), each firing as often as its
// instruction runs; instructions uprobes refuse are left out; a named offset must start an
// instruction; and the '-' function names an absolute address of the executable. The
// instructions are objdump's, for a program built with gcc -O2.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'pid-offsets-live-'));
const chain = join(dir, 'ustack-chain');
const target = join(dir, 'pid-target');
const loops: ChildProcess[] = [];
after(() => {
  for (const c of loops) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  if (process.arch !== 'x64') return 'x86-64 instructions';
  if (spawnSync('objdump', ['--version']).status !== 0) return 'objdump (binutils) not installed';
  for (const [out, src] of [
    [chain, 'ustack-chain.c'],
    [target, 'pid-target.c'],
  ]) {
    const cc = spawnSync('cc', ['-O2', '-o', out, join(root, 'test', 'live', 'programs', src)], { encoding: 'latin1' });
    if (cc.error || cc.status !== 0) return `no C compiler: ${cc.error?.message ?? cc.stderr}`;
  }
  return false;
}
const skip = unavailable();

/** A function's instructions as objdump disassembles them: offset in the function and bytes. */
function instructions(path: string, fn: string): Array<{ off: number; bytes: string }> {
  const r = spawnSync('objdump', ['-d', '-w', '--insn-width=16', `--disassemble=${fn}`, path], { encoding: 'latin1' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^[0-9a-f]+ <${fn}(@@\\S+)?>:$`).test(l));
  assert.ok(start >= 0, `objdump finds ${fn} in ${path}`);
  const base = parseInt(lines[start], 16);
  const out: Array<{ off: number; bytes: string }> = [];
  for (const l of lines.slice(start + 1)) {
    const m = /^ *([0-9a-f]+):\t((?:[0-9a-f]{2} )+)/.exec(l);
    if (m === null) break;
    out.push({ off: parseInt(m[1], 16) - base, bytes: m[2].trim() });
  }
  return out;
}

/** The probes -l lists, as "function name". */
function listed(stdout: string): string[] {
  return stdout
    .split('\n')
    .slice(1)
    .filter((l) => l !== '')
    .map((l) => l.trim().split(/ +/).slice(3).join(' '));
}

test('a glob over names gives entry, return and each instruction\'s offset, as objdump finds them', { skip }, () => {
  const offsets = instructions(chain, 'b').map((i) => i.off.toString(16));
  assert.ok(offsets.length >= 4);
  const r = runDtrace(['-l', '-n', 'pid$target:a.out:b:', '-c', `${chain} chain 1`]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.deepEqual(listed(r.stdout), ['b return', 'b entry', ...offsets.map((o) => `b ${o}`)]);
  // a glob that names offsets only
  const ones = runDtrace(['-l', '-n', 'pid$target:a.out:b:1*', '-c', `${chain} chain 1`]);
  assert.deepEqual(listed(ones.stdout), offsets.filter((o) => o.startsWith('1')).map((o) => `b ${o}`));
});

test('every instruction probe of a function without branches fires once a call', { skip }, () => {
  // b() of ustack-chain is straight-line code: each instruction runs once a call
  const offsets = instructions(chain, 'b').map((i) => i.off.toString(16));
  const r = runDtrace(['-q', '-n', 'pid$target:a.out:b:* { @[probename] = count(); } END { printa("%s %@d\\n", @); }', '-c', `${chain} chain 7`]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const got = r.stdout.split('\n').filter((l) => l !== '').sort();
  assert.deepEqual(got, ['entry', 'return', ...offsets].map((n) => `${n} 7`).sort());
});

test('instructions uprobes refuse (lock) are left out of a glob; a named offset inside an instruction is refused', { skip }, () => {
  // pthread_spin_lock starts with "lock decl (%rdi)"
  const libc = readFileSync(`/proc/self/maps`, 'latin1').match(/\S*\/libc\.so\.6$/m)![0];
  const insns = instructions(libc, 'pthread_spin_lock');
  assert.match(insns[0].bytes, /^f0 /);
  const r = runDtrace(['-l', '-n', 'pid$target:libc.so.6:pthread_spin_lock:[0-9a-f]*', '-c', '/bin/true']);
  assert.equal(r.code, 0);
  // "entry" matches the glob too (e, then anything), as in DTrace
  const want = ['pthread_spin_lock entry', ...insns.filter((i) => !i.bytes.startsWith('f0 ')).map((i) => `pthread_spin_lock ${i.off.toString(16)}`)];
  assert.deepEqual(listed(r.stdout), want);
  // the second byte of b's first instruction (objdump's: longer than one byte at -O2)
  const first = instructions(chain, 'b')[0];
  assert.ok(first.bytes.split(' ').length > 1);
  const inside = runDtrace(['-xerrtags', '-n', 'pid$target:a.out:b:1', '-c', `${chain} chain 1`]);
  assert.equal(inside.stderr, "dtrace: invalid probe specifier pid$target:a.out:b:1: [D_PROC_ALIGN] failed to create probes at 'b+0x1': offset is not on an instruction boundary\n");
  assert.equal(inside.code, 1);
});

/** A symbol's address in the object's own address space (nm's). */
function symbolAddress(path: string, fn: string): number {
  const m = new RegExp(`^([0-9a-f]+) T ${fn}$`, 'm').exec(spawnSync('nm', [path], { encoding: 'latin1' }).stdout);
  assert.ok(m, `nm finds ${fn}`);
  return parseInt(m[1], 16);
}

test("the '-' function: a probe on an address of the executable, named by it; errors for other addresses", { skip }, () => {
  const at = symbolAddress(chain, 'b') + instructions(chain, 'b')[1].off;
  const hex = at.toString(16);
  // a -c process has not started yet: the address is the executable's own (nm's)
  const r = runDtrace(['-q', '-n', `pid$target:a.out:-:${hex} { printf("%s:%s\\n", probefunc, probename); }`, '-c', `${chain} chain 2`]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, `-:${hex}\n-:${hex}\n\n`);
  const l = runDtrace(['-l', '-n', `pid$target::-:0x${hex}`, '-c', `${chain} chain 1`]);
  assert.deepEqual(listed(l.stdout), [`- ${hex}`]);
  const inside = runDtrace(['-xerrtags', '-n', `pid$target::-:${(at + 1).toString(16)}`, '-c', `${chain} chain 1`]);
  assert.match(inside.stderr, /: \[D_PROC_ALIGN\] failed to create probes at '-\+0x[0-9a-f]+': b\+0x[0-9a-f]+ is not on an instruction boundary\n$/);
  const nowhere = runDtrace(['-n', 'pid$target::-:ffffff00', '-c', `${chain} chain 1`]);
  assert.equal(nowhere.stderr, "dtrace: invalid probe specifier pid$target::-:ffffff00: failed to create probes at '-+0xffffff00': not an address of the code of ustack-chain\n");
  const lib = runDtrace(['-n', `pid$target:libc.so.6:-:${hex}`, '-c', `${chain} chain 1`]);
  assert.match(lib.stderr, /only the a\.out module is valid with the '-' function\n$/);
});

test("the '-' function on a running process (-p): the address where the process has the executable", { skip }, async () => {
  const p = spawn(target, ['loop'], { stdio: 'ignore' });
  loops.push(p);
  await new Promise((res) => setTimeout(res, 300));
  // the PIE's load address: its mapping of file offset 0
  const base = parseInt(readFileSync(`/proc/${p.pid}/maps`, 'latin1').split('\n').find((l) => / 00000000 /.test(l) && l.endsWith(target))!, 16);
  const hex = (base + symbolAddress(target, 'add3')).toString(16);
  const r = runDtrace(['-q', '-p', String(p.pid), '-n', `pid$target::-:${hex} { @[probefunc, probename] = count(); } pid$target::add3:entry { @[probefunc, probename] = count(); } tick-1s { exit(0); }`]);
  p.kill('SIGKILL');
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const counts = r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.trim().split(/ +/));
  assert.deepEqual(
    counts.map((c) => c.slice(0, 2)).sort(),
    [
      ['-', hex],
      ['add3', 'entry'],
    ].sort(),
  );
  // both are add3's first instruction (each enabled at its own moment: counts may differ by a few)
  assert.ok(Number(counts[0][2]) > 0 && Number(counts[1][2]) > 0);
});
