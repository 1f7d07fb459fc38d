// The ELF reader against binutils' own view of the same objects (nm, readelf, objdump).

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ElfError, ElfFile } from '../../src/kernel/elf.js';
import { root } from '../live/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-elf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const demo = join(dir, 'elf-demo');
const cc = spawnSync('cc', ['-O1', '-o', demo, join(root, 'test', 'kernel', 'programs', 'elf-demo.c')], { encoding: 'latin1' });
const noCc = cc.error || cc.status !== 0 ? `no C compiler: ${cc.error?.message ?? cc.stderr}` : false;
const noBinutils = spawnSync('readelf', ['--version']).status !== 0 ? 'binutils (readelf, nm, objdump) not installed' : false;

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'latin1' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('functions: every defined function nm names, static ones too, at its address', { skip: noCc || noBinutils }, () => {
  const elf = ElfFile.open(demo);
  try {
    assert.equal(elf.type, 'dyn');
    const ours = new Map(elf.functions().map((f) => [f.name, f]));
    const theirs = tool('nm', ['--defined-only', demo])
      .split('\n')
      .map((l) => /^([0-9a-f]+) ([Tt]) (\S+)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    assert.ok(theirs.length >= 4);
    for (const [, addr, kind, name] of theirs) {
      const f = ours.get(name);
      assert.ok(f, `${name} is found`);
      assert.equal(f.addr, parseInt(addr, 16), name);
      assert.equal(f.global, kind === 'T', name);
    }
    assert.ok(ours.get('helper')!.size > 0);
  } finally {
    elf.close();
  }
});

test("fileOffset: the bytes at a function's file offset are its first instruction", { skip: noCc || noBinutils }, () => {
  const elf = ElfFile.open(demo);
  try {
    const work = elf.functions().find((f) => f.name === 'work')!;
    const off = elf.fileOffset(work.addr);
    assert.ok(off > 0);
    const dump = tool('objdump', ['-d', `--start-address=0x${work.addr.toString(16)}`, `--stop-address=0x${(work.addr + 4).toString(16)}`, demo]);
    const first = /^\s*[0-9a-f]+:\s+((?:[0-9a-f]{2} )+)/m.exec(dump)![1].trim().split(' ').map((h) => parseInt(h, 16));
    const fd = openSync(demo, 'r');
    const bytes = Buffer.alloc(first.length);
    readSync(fd, bytes, 0, bytes.length, off);
    closeSync(fd);
    assert.deepEqual([...bytes], first);
    assert.equal(elf.fileOffset(0x7fff_0000_0000), -1);
  } finally {
    elf.close();
  }
});

test('sdtProbes: the .note.stapsdt probes readelf -n shows', { skip: noCc || noBinutils }, () => {
  const elf = ElfFile.open(demo);
  try {
    const probes = elf.sdtProbes();
    const notes = tool('readelf', ['-n', demo]);
    const m = /Provider: (\S+)\s+Name: (\S+)\s+Location: 0x([0-9a-f]+), Base: 0x[0-9a-f]+, Semaphore: 0x([0-9a-f]+)\s+Arguments: (.*)/.exec(notes)!;
    assert.deepEqual(probes, [{ provider: m[1], name: m[2], pc: parseInt(m[3], 16), semaphore: parseInt(m[4], 16), args: m[5] }]);
    assert.deepEqual([probes[0].provider, probes[0].name, probes[0].args], ['demo', 'tick', '-4@%edi 8@%rsi']);
  } finally {
    elf.close();
  }
});

test("a shared library's .dynsym: the function addresses readelf lists", { skip: noBinutils }, () => {
  const libc = spawnSync('sh', ['-c', 'ldd /bin/ls | sed -n "s/.*libc.so.6 => \\([^ ]*\\).*/\\1/p"'], { encoding: 'latin1' }).stdout.trim();
  if (libc === '') return;
  const elf = ElfFile.open(libc);
  try {
    const ours = new Set(elf.functions().map((f) => f.addr));
    const table = elf.sections.some((s) => s.name === '.symtab') ? '-s' : '--dyn-syms';
    const theirs = new Set(
      tool('readelf', ['-W', table, libc])
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => (f[3] === 'FUNC' || f[3] === 'IFUNC') && f[6] !== 'UND' && /^[0-9a-f]+$/.test(f[1]) && parseInt(f[1], 16) !== 0)
        .map((f) => parseInt(f[1], 16)),
    );
    assert.ok(theirs.size > 1000);
    assert.deepEqual([...ours].sort((a, b) => a - b), [...theirs].sort((a, b) => a - b));
  } finally {
    elf.close();
  }
});

test('objects it cannot read are refused with the reason', () => {
  assert.throws(() => ElfFile.open('/nonexistent/x'), (e: unknown) => e instanceof ElfError && /No such file/.test(e.message));
  assert.throws(() => ElfFile.open('/etc/hostname'), /not an ELF object/);
});
