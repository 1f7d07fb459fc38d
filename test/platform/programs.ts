// The platform tests' user-space target, lab-target (test/platform/programs): its USDT header
// from our own `dtrace -h`, compiled with the host's C compiler into build/test/platform/bin.
// The lab builds it on the host before it packs the initramfs (a guest has no compiler); on a
// development machine a test builds it when it is missing or older than its sources.
// Node built-ins only: lab/lab.ts imports this outside any test run.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** the project: build/test/platform/ is three folders down */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCES = join(ROOT, 'test', 'platform', 'programs');
export const BIN = join(ROOT, 'build', 'test', 'platform', 'bin');
export const LAB_TARGET = join(BIN, 'lab-target');

function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : -1;
}

/**
 * lab-target's path once it is built, or why it cannot be (no compiler, no sources). Built
 * again when a source is newer: `dtrace -h` prov.d > prov.h, then cc -O2 (frame pointers kept,
 * not stripped: ustack() walks and names its frames).
 */
export function labTarget(): { path: string } | { why: string } {
  const sources = ['lab-target.c', 'lab-prov.d'].map((f) => join(SOURCES, f));
  const built = mtime(LAB_TARGET);
  if (built >= 0 && sources.every((s) => mtime(s) <= built)) return { path: LAB_TARGET };
  if (!sources.every(existsSync)) return { why: `no ${LAB_TARGET} and no sources in ${SOURCES}` };
  mkdirSync(BIN, { recursive: true });
  const header = join(BIN, 'lab-prov.h');
  const h = spawnSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), '-h', '-s', sources[1], '-o', header], { encoding: 'latin1' });
  if (h.status !== 0) return { why: `dtrace -h failed: ${h.stderr}` };
  const cc = spawnSync('cc', ['-O2', '-fno-omit-frame-pointer', '-Wall', '-Werror', '-I', BIN, '-o', `${LAB_TARGET}.tmp`, sources[0]], { encoding: 'latin1' });
  if (cc.error || cc.status !== 0) return { why: `no C compiler to build lab-target: ${cc.error?.message ?? cc.stderr}` };
  renameSync(`${LAB_TARGET}.tmp`, LAB_TARGET);
  return { path: LAB_TARGET };
}
