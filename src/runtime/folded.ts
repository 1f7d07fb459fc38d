// Stack-keyed aggregations as stacks with a weight: the folded one-line format the stackcollapse
// tools write (-x stackformat=folded), and the input of the flame graph (flamegraph.ts).
//
// Which aggregations: those of count() or sum() (the only values that add up along a stack)
// that have a stack() or ustack() key. A row's stack is read root first: each key that is not a
// stack becomes a frame of its own (execname, pid, probefunc... in key order, so
// @[execname, stack()] draws one tower per program), then the user stack, then the kernel stack
// on top of it (the kernel was entered from user code), whatever their order in the key. Frame
// names lose their "+0x1c" offsets, as stackcollapse.pl's do, so that the samples of one
// function add up; rows that become the same stack are summed.

import { AggFn, type Aggregation, bytesToLatin1, KeyKind, type KeyField, keyUint } from './aggregate.js';
import type { Value } from './values.js';

/** What a frame stands for: it picks the frame's colour in a flame graph. */
export const enum FrameKind {
  /** a key that is not a stack (execname, pid, ...), or an aggregation's name */
  Key = 0,
  User = 1,
  Kernel = 2,
}

/** One stack with its weight, root first. */
export class FoldedStack {
  /** "root;...;leaf" */
  readonly text: string;

  constructor(
    readonly frames: string[],
    readonly kinds: FrameKind[],
    public value: bigint,
  ) {
    this.text = frames.join(';');
  }
}

/** Whether a key field holds stack() or ustack() values. */
export function isStackField(f: KeyField): boolean {
  return f.kind === KeyKind.Opaque && f.opaque !== null && f.opaque.stack === true;
}

/** Whether the aggregation has a folded form: count() or sum(), keyed by at least one stack. */
export function isFoldable(agg: Aggregation): boolean {
  return (agg.fn === AggFn.Count || agg.fn === AggFn.Sum) && agg.fields.some(isStackField);
}

/** A frame without its offset ("vmlinux`do_idle+0x1c" is "vmlinux`do_idle"); ';' would split it. */
export function frameName(frame: string): string {
  let f = frame.trim();
  const plus = f.lastIndexOf('+0x');
  if (plus > 0 && /^\+0x[0-9a-zA-Z]+$/.test(f.slice(plus))) f = f.slice(0, plus);
  return f.replace(/;/g, ':').replace(/\s+/g, ' ');
}

/** A kernel address in hex ("0xffffffff81000000"): the kernel's half of the address space. */
function isKernelHex(f: string): boolean {
  return /^0x[fF]{4}[0-9a-fA-F]{12}$/.test(f);
}

/** Whether a stack value (frames leaf first, one per line) was taken in the kernel. */
export function isKernelStack(frames: readonly string[]): boolean {
  for (const f of frames) {
    const t = f.trim();
    if (t.startsWith('vmlinux`') || isKernelHex(t)) return true;
  }
  return false;
}

/** A non-stack key as a frame name: what printa() prints of it, without the padding. */
function keyFrame(f: KeyField, v: Value): string {
  if (f.kind === KeyKind.Opaque) return frameName(f.opaque!.format(v));
  if (f.kind === KeyKind.Int || f.size === 1 || f.size === 2 || f.size === 4 || f.size === 8) {
    // as printa() prints them: 1 and 2 bytes unsigned, 4 and 8 signed
    const size = f.size === 1 || f.size === 2 || f.size === 4 ? f.size : 8;
    const u = keyUint(size, v);
    return size <= 2 ? String(u) : String(BigInt.asIntN(size * 8, BigInt(u)));
  }
  const s = typeof v === 'object' ? bytesToLatin1(v) : String(v);
  const nul = s.indexOf('\0');
  return frameName(nul < 0 ? s : s.slice(0, nul));
}

/**
 * The stacks of a foldable aggregation, merged where frames are the same, in DTrace's order
 * (ascending value, then by stack text). `prefix` frames (an aggregation's name) go first.
 */
export function foldAggregation(agg: Aggregation, prefix: readonly string[] = []): FoldedStack[] {
  const byText = new Map<string, FoldedStack>();
  const out: FoldedStack[] = [];
  for (const slot of agg.slots()) {
    const value = BigInt(agg.printfValue(slot, true));
    const frames: string[] = [...prefix];
    const kinds: FrameKind[] = prefix.map(() => FrameKind.Key);
    const user: string[] = [];
    const kernel: string[] = [];
    for (let i = 0; i < agg.nkeys; i++) {
      const f = agg.fields[i]!;
      const v = agg.key(slot, i);
      if (!isStackField(f)) {
        frames.push(keyFrame(f, v));
        kinds.push(FrameKind.Key);
        continue;
      }
      const lines = typeof v === 'string' && v !== '' ? v.split('\n') : [];
      const into = isKernelStack(lines) ? kernel : user;
      // stack values are leaf first; folded stacks are root first
      for (let j = lines.length - 1; j >= 0; j--) into.push(frameName(lines[j]!));
    }
    for (const u of user) {
      frames.push(u);
      kinds.push(FrameKind.User);
    }
    for (const k of kernel) {
      frames.push(k);
      kinds.push(FrameKind.Kernel);
    }
    const text = frames.join(';');
    const seen = byText.get(text);
    if (seen !== undefined) seen.value += value;
    else {
      const s = new FoldedStack(frames, kinds, value);
      byText.set(text, s);
      out.push(s);
    }
  }
  out.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  return out;
}

/**
 * One aggregation in the folded format: "root;...;leaf value" per line (a flame graph draws
 * the value of a row without frames as the part of "all" that nothing stands on).
 */
export function formatFolded(agg: Aggregation): string {
  let s = '';
  // a row without frames (stack() of a sample taken in user mode) has no folded line
  for (const f of foldAggregation(agg)) if (f.frames.length > 0) s += `${f.text} ${f.value}\n`;
  return s;
}

/**
 * What a flame graph draws of a program's aggregations: the foldable ones; if there are none,
 * every count() and sum() (its keys as frames). With more than one, each aggregation's stacks
 * stand on a frame named after it ("@name"), so that their values are not mixed up.
 */
export function flameStacks(aggs: readonly Aggregation[]): FoldedStack[] {
  let chosen = aggs.filter((a) => a.size > 0 && isFoldable(a));
  if (chosen.length === 0) chosen = aggs.filter((a) => a.size > 0 && a.nkeys > 0 && (a.fn === AggFn.Count || a.fn === AggFn.Sum));
  chosen = [...chosen].sort((a, b) => a.id - b.id);
  const out: FoldedStack[] = [];
  for (const a of chosen) out.push(...foldAggregation(a, chosen.length > 1 ? [`@${a.name}`] : []));
  return out.filter((s) => s.value > 0n);
}
