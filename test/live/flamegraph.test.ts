// -x flamegraph and -x stackformat=folded on samples of the live kernel: profile-997 of a
// CPU-bound process that spends its time in one kernel function (dd reading /dev/zero: the
// kernel zeroes its buffer in read_zero), drawn and checked in headless chromium.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instancesOf, liveUnavailable, runDtrace } from './harness.js';
import { samplingUnavailable } from '../../src/kernel/perf-sampler.js';
import { chromium, flameChecks, outputFolder, runInBrowser } from '../browser.js';

const live = liveUnavailable();
const noPerf = live === null ? samplingUnavailable() : null;
const skip = live ?? (noPerf !== null ? `no perf sampling here: ${noPerf}` : false);

const dir = mkdtempSync(join(tmpdir(), 'dtrace-ts-flame-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Frame {
  name: string;
  s: number;
  n: number;
  d: number;
}

/** The frames an SVG flame graph draws. */
function framesOf(svg: string): Frame[] {
  const out: Frame[] = [];
  const re = /<g class="f" data-s="(\d+)" data-n="(\d+)" data-d="(\d+)"><title>(.*?) \(\d+/g;
  for (let m = re.exec(svg); m !== null; m = re.exec(svg)) out.push({ s: Number(m[1]), n: Number(m[2]), d: Number(m[3]), name: m[4] });
  return out;
}

/** The frame with the most value of its own (not its callees'): where the time went. */
function hottest(frames: Frame[]): { frame: Frame; self: number } {
  let best: { frame: Frame; self: number } | null = null;
  for (const f of frames) {
    let self = f.n;
    for (const c of frames) if (c.d === f.d + 1 && c.s >= f.s && c.s + c.n <= f.s + f.n) self -= c.n;
    if (best === null || self > best.self) best = { frame: f, self };
  }
  return best!;
}

test('profile-997 of a process busy in the kernel: the flame graph and the folded stacks agree on its hot function', { skip }, () => {
  const svgPath = join(dir, 'dd.svg');
  const r = runDtrace(
    ['-q', '-x', `flamegraph=${svgPath}`, '-x', 'stackformat=folded', '-n', 'profile-997 /execname == "dd"/ { @[stack()] = count(); }', '-c', 'timeout 2 dd if=/dev/zero of=/dev/null bs=1M'],
    { timeout: 30_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(instancesOf(r.pid), []);
  const svg = readFileSync(svgPath, 'latin1');
  const frames = framesOf(svg);
  const root = frames.find((f) => f.d === 0)!;
  // ~997 samples a second for 2 s, less what the (shared) CPU spent elsewhere: a wide range
  assert.ok(root.n >= 50, `${root.n} samples`);
  const hot = hottest(frames);
  assert.match(hot.frame.name, /^vmlinux`(read_zero|iov_iter_zero|clear_user|rep_stos_alternative|__clear_user|memset)/, JSON.stringify(hot));
  assert.ok(hot.self > root.n * 0.4, `${hot.self} of ${root.n}`);

  // the folded lines: one per stack, root first, values adding up to the stacks the graph drew
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  let sum = 0;
  for (const l of lines) {
    const m = /^(\S(?:.*\S)?) (\d+)$/.exec(l);
    assert.ok(m, `folded line: ${JSON.stringify(l)}`);
    assert.ok(!/\+0x/.test(m[1]), l);
    sum += Number(m[2]);
  }
  const hotLine = lines.find((l) => l.includes(`;${hot.frame.name} `) || l.startsWith(`${hot.frame.name} `));
  assert.ok(hotLine !== undefined && hotLine.startsWith('vmlinux`entry_SYSCALL_64'), hotLine);
  // samples with no kernel stack (dd in user mode) have no folded line, but count in "all"
  assert.ok(sum <= root.n && sum >= root.n - frames.filter((f) => f.d === 0).length * root.n, `${sum} vs ${root.n}`);
  const tops = frames.filter((f) => f.d === 1).reduce((a, f) => a + f.n, 0);
  assert.equal(sum, tops);

  if (chromium() === null) return;
  const escaped = hot.frame.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const b = runInBrowser(svg, flameChecks(`^${escaped}$`, '^vmlinux`do_syscall_64$'), join(outputFolder('flamegraph'), 'live-dd.png')) as Record<string, unknown>;
  assert.equal(b.error, undefined, String(b.error));
  assert.equal(b.widest, hot.frame.name);
  assert.equal(b.rootWidth, 1180);
  assert.equal(b.zoomWidthAfter, 1180);
  assert.equal(b.hotShownWhenZoomed, true);
  assert.equal(b.zoomWidthReset, b.zoomWidthBefore);
  assert.equal(b.hotFill, 'rgb(230,0,230)');
});

test('-x flamegraph: a file that cannot be made is said before tracing, in one line', () => {
  const r = runDtrace(['-q', '-x', 'flamegraph=/nonexistent/dir/f.svg', '-n', 'BEGIN { exit(0); }']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, "dtrace: failed to open flame graph file '/nonexistent/dir/f.svg': No such file or directory\n");
  assert.equal(r.stdout, '');
});

test('-x stackformat takes dtrace or folded', () => {
  const r = runDtrace(['-x', 'stackformat=flat', '-n', 'BEGIN { exit(0); }']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'dtrace: failed to set -x stackformat: Invalid value for specified option\n');
});

test('-x stackframes sets the frames of stack(); -x maxframes caps every stack, stack(n) included', { skip: live ?? false }, () => {
  const script = join(dir, 'getppid.sh');
  writeFileSync(script, '#!/bin/sh\nsleep 0.3\nexec perl -e "getppid()"\n', { mode: 0o755 });
  const frames = (out: string) => out.split('\n').filter((l) => /^ {14}\S/.test(l)).length;
  const run = (args: string[], clause: string) => runDtrace(['-q', ...args, '-n', `syscall::getppid:entry /pid == $target/ { ${clause} exit(0); }`, '-c', script]);
  let r = run(['-x', 'stackframes=2'], 'stack();');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(frames(r.stdout), 2, r.stdout);
  r = run(['-x', 'stackframes=2'], 'stack(3);');
  assert.equal(frames(r.stdout), 3, r.stdout);
  r = run(['-x', 'maxframes=1'], 'stack(3);');
  assert.equal(frames(r.stdout), 1, r.stdout);
  r = run(['-x', 'stackframes=2'], '@[stack()] = count();');
  assert.equal(frames(r.stdout), 2, r.stdout);
});
