// What -x flamegraph and -x stackformat=folded cost at exit (a benchmark, not a test: it never
// fails): an aggregation of N distinct kernel stacks, 20 frames each, over a vocabulary of 2,000
// functions (a profile of a busy machine has a few thousand), folded, drawn as an SVG, and the
// SVG's size. Medians of BENCH_RUNS (default 3). Needs nothing from the kernel.

import { performance } from 'node:perf_hooks';
import { AggFn, createAggregation, type OpaqueKeyType } from '../src/runtime/aggregate.js';
import { flameGraphSvg } from '../src/runtime/flamegraph.js';
import { flameStacks, formatFolded } from '../src/runtime/folded.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STACK: OpaqueKeyType = { opaque: true, stack: true, size: 8 * 20, compare: (a, b) => (a < b ? -1 : a > b ? 1 : 0), format: (v) => String(v) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** A deterministic pseudo-random number generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function aggregation(n: number) {
  const a = createAggregation({ name: '', id: 1, fn: AggFn.Count, keys: [STACK] });
  const r = rng(12345);
  for (let i = 0; i < n; i++) {
    // stacks share their roots, as real ones do: the frame at depth d is one of 2^(d/2+1)
    let s = '';
    for (let d = 19; d >= 0; d--) {
      const f = Math.floor(r() * Math.min(2000, 2 ** (d / 2 + 1)));
      s = `vmlinux\`fn_${d}_${f}+0x${(f * 7).toString(16)}` + (s === '' ? '' : '\n' + s);
    }
    const slot = a.slot1(s);
    const hits = 1 + Math.floor(r() * 50);
    for (let k = 0; k < hits; k++) a.add(slot, 1, 1);
  }
  return a;
}

console.log('stacks   folded (ms)   svg (ms)   svg (KiB)   frames drawn');
for (const n of [1_000, 10_000, 50_000]) {
  const a = aggregation(n);
  const folded: number[] = [];
  const svg: number[] = [];
  let size = 0;
  let frames = 0;
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    formatFolded(a);
    folded.push(performance.now() - t);
    t = performance.now();
    const text = flameGraphSvg(flameStacks([a]), { title: 'Flame Graph', unit: 'samples' });
    svg.push(performance.now() - t);
    size = text.length;
    frames = text.split('<g class="f"').length - 1;
  }
  console.log(`${String(n).padStart(6)} ${median(folded).toFixed(0).padStart(13)} ${median(svg).toFixed(0).padStart(10)} ${(size / 1024).toFixed(0).padStart(11)} ${String(frames).padStart(14)}`);
}
