import { test } from 'node:test';
import { strict as assert } from 'node:assert';

import { fitLabel, flameGraphSvg, frameColor } from '../../src/runtime/flamegraph.js';
import { FoldedStack, FrameKind, flameStacks } from '../../src/runtime/folded.js';
import { sample } from './folded.test.js';

const K = FrameKind.Kernel;

function frames(svg: string): string {
  const m = /<g id="frames">\n([\s\S]*?)<\/g>\n<script/.exec(svg);
  assert.ok(m, 'a frames group');
  return m[1];
}

test('a flame graph of a small aggregation, exactly', () => {
  const svg = flameGraphSvg(flameStacks([sample()]), { title: 'Flame Graph', unit: 'samples' });
  assert.equal(
    frames(svg),
    [
      '<g class="f" data-s="0" data-n="10" data-d="0"><title>all (10 samples, 100.00%)</title><rect x="10" y="84" width="1180" height="15" fill="rgb(200,200,200)" rx="2" ry="2"/><text x="13" y="95">all</text></g>',
      '<g class="f" data-s="0" data-n="6" data-d="1"><title>bash (6 samples, 60.00%)</title><rect x="10" y="68" width="708" height="15" fill="rgb(111,209,243)" rx="2" ry="2"/><text x="13" y="79">bash</text></g>',
      '<g class="f" data-s="0" data-n="6" data-d="2"><title>vmlinux`a (6 samples, 60.00%)</title><rect x="10" y="52" width="708" height="15" fill="rgb(249,142,34)" rx="2" ry="2"/><text x="13" y="63">vmlinux`a</text></g>',
      '<g class="f" data-s="0" data-n="5" data-d="3"><title>vmlinux`b (5 samples, 50.00%)</title><rect x="10" y="36" width="590" height="15" fill="rgb(233,169,18)" rx="2" ry="2"/><text x="13" y="47">vmlinux`b</text></g>',
      '<g class="f" data-s="5" data-n="1" data-d="3"><title>vmlinux`c (1 sample, 10.00%)</title><rect x="600" y="36" width="118" height="15" fill="rgb(218,125,3)" rx="2" ry="2"/><text x="603" y="47">vmlinux`c</text></g>',
      '<g class="f" data-s="6" data-n="4" data-d="1"><title>cc (4 samples, 40.00%)</title><rect x="718" y="68" width="472" height="15" fill="rgb(126,184,253)" rx="2" ry="2"/><text x="721" y="79">cc</text></g>',
      '',
    ].join('\n'),
  );
  assert.match(svg, /^<\?xml version="1.0" standalone="no"\?>\n<svg version="1.1" width="1200" height="134" viewBox="0 0 1200 134" /);
  assert.match(svg, /<text id="title" [^>]*>Flame Graph<\/text>/);
  assert.ok(svg.endsWith(']]></script>\n</svg>\n'));
});

test('a frame is as wide as its share; children start where their elder siblings end', () => {
  const stacks = [new FoldedStack(['m', 'hot'], [K, K], 90n), new FoldedStack(['m', 'cold'], [K, K], 10n)];
  const svg = flameGraphSvg(stacks, { title: 't', unit: '' });
  const rect = (name: string) => {
    const m = new RegExp(`<title>${name} [^<]*</title><rect x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)"`).exec(svg);
    assert.ok(m, name);
    return { x: Number(m[1]), y: Number(m[2]), w: Number(m[3]) };
  };
  assert.deepEqual(rect('all'), { x: 10, y: 68, w: 1180 });
  assert.deepEqual(rect('m'), { x: 10, y: 52, w: 1180 });
  // siblings in name order: cold first
  assert.deepEqual(rect('cold'), { x: 10, y: 36, w: 118 });
  assert.deepEqual(rect('hot'), { x: 128, y: 36, w: 1062 });
  assert.match(svg, /<title>hot \(90, 90.00%\)<\/title>/);
});

test('frames narrower than 0.1 pixel are left out; names are escaped', () => {
  const stacks = [new FoldedStack(['<big>&'], [K], 1_000_000n), new FoldedStack(['tiny'], [K], 1n)];
  const svg = flameGraphSvg(stacks, { title: 'a "quoted" title', unit: 'samples' });
  assert.ok(!svg.includes('tiny'));
  assert.ok(svg.includes('<title>&lt;big&gt;&amp; (1000000 samples, 100.00%)</title>'));
  assert.ok(svg.includes('>a &quot;quoted&quot; title</text>'));
});

test('no stacks: an empty graph that says so', () => {
  const svg = flameGraphSvg([], { title: 'Flame Graph', unit: 'samples' });
  assert.equal(frames(svg), '');
  assert.ok(svg.includes('>No stacks were recorded</text>'));
});

test('labels fit their frames', () => {
  const cases: Array<[string, number, string]> = [
    ['vmlinux`read_zero', 1000, 'vmlinux`read_zero'],
    ['vmlinux`read_zero', 70, 'vmlinux..'],
    ['vmlinux`read_zero', 21.3, 'v..'],
    ['vmlinux`read_zero', 20, ''],
  ];
  for (const [name, w, want] of cases) assert.equal(fitLabel(name, w), want, `${name} in ${w}`);
});

test('colours depend on the name and kind only', () => {
  assert.equal(frameColor('vmlinux`f', K), frameColor('vmlinux`f', K));
  assert.equal(frameColor('libc.so.6`memcpy', FrameKind.User), frameColor('memcpy', FrameKind.User));
  assert.notEqual(frameColor('f', FrameKind.User), frameColor('f', FrameKind.Kernel));
  assert.equal(frameColor('all', -1), 'rgb(200,200,200)');
});
