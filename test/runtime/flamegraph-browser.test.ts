// The flame graph in a real browser (headless chromium): it loads, the hot frame is the widest,
// hovering names a frame, clicking zooms, search highlights. Screenshots are left in
// build/test-output/flamegraph/.

import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';

import { flameGraphSvg } from '../../src/runtime/flamegraph.js';
import { FoldedStack, FrameKind } from '../../src/runtime/folded.js';
import { chromium, flameChecks, outputFolder, runInBrowser } from '../browser.js';

const skip = chromium() === null ? 'chromium is not installed (apt-get install chromium)' : false;
const U = FrameKind.User;
const K = FrameKind.Kernel;

test('a flame graph in chromium: loads, hot frame widest, hover, zoom, reset, search', { skip }, () => {
  const stacks = [
    new FoldedStack(['a.out`main', 'a.out`work', 'a.out`hot'], [U, U, U], 700n),
    new FoldedStack(['a.out`main', 'a.out`work', 'a.out`cold'], [U, U, U], 150n),
    new FoldedStack(['a.out`main', 'a.out`setup'], [U, U], 100n),
    new FoldedStack(['a.out`main', 'libc.so.6`write', 'vmlinux`ksys_write', 'vmlinux`vfs_write'], [U, U, K, K], 50n),
  ];
  const svg = flameGraphSvg(stacks, { title: 'Flame Graph', unit: 'samples' });
  const r = runInBrowser(svg, flameChecks('^a\\.out`hot$', '^a\\.out`cold$'), join(outputFolder('flamegraph'), 'unit.png')) as Record<string, unknown>;
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.frames, 9);
  assert.equal(r.rootWidth, 1180);
  assert.equal(r.widest, 'a.out`hot');
  assert.equal(r.details, 'a.out`hot (700 samples, 70.00%)');
  assert.equal(r.zoomWidthBefore, 177);
  assert.equal(r.zoomWidthAfter, 1180);
  assert.equal(r.zoomX, 10);
  assert.equal(r.hotShownWhenZoomed, false);
  assert.equal(r.rootDimmed, true);
  assert.equal(r.unzoomShown, true);
  assert.equal(r.zoomWidthReset, 177);
  assert.equal(r.hotShownAfterReset, true);
  assert.equal(r.unzoomShownAfterReset, false);
  assert.equal(r.badSearch, -1);
  assert.equal(r.badSearchText, 'Invalid regular expression: (');
  assert.equal(r.searchPercent, 70);
  assert.equal(r.hotFill, 'rgb(230,0,230)');
  assert.equal(r.matched, 'Matched: 70.0%');
});
