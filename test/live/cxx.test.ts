// C++ on the live kernel: a program built with g++ -O2 (a namespaced function, a class
// template's const member, a lambda): pid probes keep the symbols' mangled names (-l, probefunc,
// globs over them), and ustack(), ufunc() and usym() print the names demangled, each frame
// exactly as objdump -C names the function holding the return address.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'cxx-live-'));
const prog = join(dir, 'cxx-chain');
after(() => rmSync(dir, { recursive: true, force: true }));

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  const cc = spawnSync('g++', ['-O2', '-fomit-frame-pointer', '-o', prog, join(root, 'test', 'live', 'programs', 'cxx-chain.cc')], { encoding: 'latin1' });
  if (cc.error || cc.status !== 0) return `no C++ compiler: ${cc.error?.message ?? cc.stderr}`;
  const od = spawnSync('objdump', ['--version'], { encoding: 'latin1' });
  return od.error || od.status !== 0 ? 'no objdump' : false;
}
const skip = unavailable();

const LEAF = '_ZN4shop7fooLeafEi';
const TOTAL = '_ZNK4shop6BasketIiE8fooTotalERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE';

/**
 * From objdump -C's disassembly: the demangled name of each function by its mangled one, and
 * for each call from one of the chain's functions the frame its return address prints as.
 */
function disassembly(): { names: Map<string, string>; returns: Map<string, string> } {
  const run = (args: string[]) => spawnSync('objdump', args, { encoding: 'latin1', maxBuffer: 1 << 26 }).stdout;
  const mangled = new Map<number, string>();
  for (const line of run(['-d', '--no-show-raw-insn', prog]).split('\n')) {
    const head = /^([0-9a-f]+) <([^>]+)>:$/.exec(line);
    if (head) mangled.set(parseInt(head[1], 16), head[2]);
  }
  const names = new Map<string, string>();
  const returns = new Map<string, string>();
  let fn = '';
  let start = 0;
  let pending: string | null = null;
  for (const line of run(['-d', '-C', '--no-show-raw-insn', prog]).split('\n')) {
    const head = /^([0-9a-f]+) <(.+)>:$/.exec(line);
    if (head) {
      start = parseInt(head[1], 16);
      fn = head[2];
      names.set(mangled.get(start) ?? fn, fn);
      continue;
    }
    const insn = /^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
    if (!insn) continue;
    const at = parseInt(insn[1], 16);
    if (pending !== null) {
      if (!returns.has(pending)) returns.set(pending, `cxx-chain\`${fn}+0x${(at - start).toString(16)}`);
      pending = null;
    }
    const call = /^call\S*\s+[0-9a-f]+ <(.+)>$/.exec(`${insn[2]} ${insn[3]}`);
    if (call) pending = `${fn}->${call[1]}`;
  }
  return { names, returns };
}

const START = [/^libc\.so\.6`__libc_start_call_main\+0x[0-9a-f]+$/, /^libc\.so\.6`__libc_start_main(@@GLIBC_[0-9.]+)?\+0x[0-9a-f]+$/, /^cxx-chain`_start\+0x[0-9a-f]+$/];

test('pid probes on C++ functions: -l lists the mangled names a glob over them matches', { skip }, () => {
  const r = runDtrace(['-l', '-n', 'pid$target::*foo*:entry', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const funcs = r.stdout
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).slice(2, 5).join(' '));
  assert.deepEqual(funcs.sort(), [`cxx-chain ${LEAF} entry`, `cxx-chain ${TOTAL} entry`].sort());
});

test('@[ustack()] on pid$target::*foo*:entry: every frame demangled, at the return address objdump shows', { skip }, () => {
  const { names, returns } = disassembly();
  const leaf = names.get(LEAF)!;
  const total = names.get(TOTAL)!;
  assert.equal(leaf, 'shop::fooLeaf(int)');
  // the lambda is a clone gcc made: "main::{lambda(int)#1}::operator()(int) const [clone .isra.0]"
  const lambda = [...names.values()].find((n) => n.startsWith('main::{lambda(int)#1}::operator()(int) const'));
  assert.ok(lambda !== undefined, [...names.values()].join('\n'));
  const r = runDtrace(['-q', '-n', 'pid$target::*foo*:entry { @[ustack()] = count(); }', '-c', `${prog} 3`]);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const stacks = r.stdout
    .split('\n\n')
    .map((x) => x.split('\n').filter((l) => l !== '').map((l) => l.trim()))
    .filter((x) => x.length > 0);
  assert.equal(stacks.length, 2, r.stdout);
  const byTop = new Map(stacks.map((s) => [s[0], s]));
  const inLeaf = byTop.get(`cxx-chain\`${leaf}`);
  const inTotal = byTop.get(`cxx-chain\`${total}`);
  assert.ok(inLeaf !== undefined && inTotal !== undefined, r.stdout);
  const below = [returns.get(`${total}->${leaf}`), returns.get(`${lambda}->${total}`), returns.get(`main->${lambda}`)];
  assert.deepEqual(inLeaf.slice(1, 4), below, r.stdout);
  assert.deepEqual(inTotal.slice(1, 3), below.slice(1), r.stdout);
  for (const [s, from] of [[inLeaf, 4], [inTotal, 3]] as const) {
    START.forEach((re, i) => assert.match(s[from + i], re, s.join('\n')));
    assert.equal(s.at(-1), '3');
    assert.equal(s.length, from + START.length + 1, s.join('\n'));
  }
});

test('probefunc stays mangled; ufunc() and usym() of the caller print it demangled', { skip }, () => {
  const { names } = disassembly();
  const r = runDtrace(['-q', '-n', `pid$target::${LEAF}:entry { printf("%s\\n", probefunc); ufunc(ucaller); usym(ucaller); printf("\\n"); }`, '-c', `${prog} 1`]);
  assert.equal(r.stderr, '');
  const total = `cxx-chain\`${names.get(TOTAL)}`;
  assert.equal(r.stdout, `${LEAF}\n  ${total.padEnd(50)}  ${total.padEnd(50)}\n\n`);
});
