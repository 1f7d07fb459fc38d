// /proc/<pid>/maps as the pid provider reads it: which objects hold code, and their module names.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { inCode, mappedObjects, moduleName, parseLoaderList, parseMaps, processObjects } from '../../src/kernel/procmaps.js';

const MAPS = `5581c6a00000-5581c6a01000 r--p 00000000 fe:00 2146459                    /tmp/prog
5581c6a01000-5581c6a02000 r-xp 00001000 fe:00 2146459                    /tmp/prog
5581c6a03000-5581c6a04000 rw-p 00002000 fe:00 2146459                    /tmp/prog
5581c7000000-5581c7021000 rw-p 00000000 00:00 0                          [heap]
7f0a1c028000-7f0a1c1b0000 r-xp 00028000 fe:00 338950                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0a1c1b0000-7f0a1c1ff000 r--p 001b0000 fe:00 338950                     /usr/lib/x86_64-linux-gnu/libc.so.6
7f0a1c300000-7f0a1c301000 r-xp 00000000 fe:00 4444                       /tmp/old.so (deleted)
7f0a1c400000-7f0a1c401000 r--p 00000000 fe:00 5555                       /usr/lib/locale/C.utf8/LC_CTYPE
7f0a1c403000-7f0a1c429000 r-xp 00001000 fe:00 338944                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
7ffd5a9f2000-7ffd5a9f4000 r-xp 00000000 00:00 0                          [vdso]
`;

test('maps lines are parsed, anonymous ones included', () => {
  const m = parseMaps(MAPS);
  assert.equal(m.length, 10);
  assert.deepEqual(m[1], { start: 0x5581c6a01000, end: 0x5581c6a02000, perms: 'r-xp', offset: 0x1000, inode: 2146459, path: '/tmp/prog' });
  assert.equal(m[3].path, '[heap]');
});

test('objects are the files mapped executable, named by their base names; deleted files and data files are left out', () => {
  const objs = mappedObjects(parseMaps(MAPS), '/tmp/prog');
  assert.deepEqual(objs.map((o) => [o.module, o.isExec]), [['prog', true], ['libc.so.6', false], ['ld-linux-x86-64.so.2', false]]);
  assert.deepEqual(objs[1].code, [[0x28000, 0x1b0000]]);
  assert.equal(inCode(objs[1], 0x28000), true);
  assert.equal(inCode(objs[1], 0x1b0000), false);
  assert.equal(moduleName('/a/b/libc.so.6'), 'libc.so.6');
});

test('the dynamic loader\'s --list names the objects a command loads', () => {
  const text = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0a)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f0b)\n';
  assert.deepEqual(parseLoaderList(text), ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
});

test('a running process: its own objects (this node)', () => {
  const objs = processObjects(process.pid)!;
  assert.ok(objs.some((o) => o.isExec));
  assert.equal(processObjects(0x7ffffff0), null);
});
