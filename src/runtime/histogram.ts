// quantize(), lquantize() and llquantize(): bucket math and the ASCII histograms dtrace prints.
//   [bpf/agg_qbin.c, bpf/agg_lqbin.c, dt_cg.c (llquantize binning),
//    dt_consume.c (dt_print_quantize, dt_print_lquantize, dt_print_llquantize, dt_print_quantline),
//    dt_aggregate.c (the *quantizedsum / *quantizedzero sort keys)]
//
// Bucket counts are int64s (weights may be negative). A histogram is read through an `Int64Vector`,
// so the common case (every count a safe integer) never touches BigInt.
//
// DTrace computes bar lengths and the sort keys of histograms in x87 `long double` (64-bit
// mantissa, round-to-nearest-even). `LongDouble` below reproduces that arithmetic exactly, and is
// used whenever a Number could round differently (sums beyond 2^46, fractional llquantize scales).

// -- long double -------------------------------------------------------------------------------

const TWO63 = 1n << 63n;
const TWO64 = 1n << 64n;

/** An x87 extended-precision value: m * 2^e, with 2^63 <= |m| < 2^64 (or m = 0). */
export class LongDouble {
  constructor(
    readonly m: bigint,
    readonly e: number,
  ) {}
}

export const LD_ZERO = new LongDouble(0n, 0);
/** 0.5 */
export const LD_HALF = new LongDouble(TWO63, -64);

function bitLength(a: bigint): number {
  // a > 0
  const s = a.toString(16);
  return (s.length - 1) * 4 + (32 - Math.clz32(parseInt(s[0]!, 16)));
}

/** Rounds the exact value m * 2^e to a long double (round half to even). */
export function ldRound(m: bigint, e: number): LongDouble {
  if (m === 0n) return LD_ZERO;
  const neg = m < 0n;
  let a = neg ? -m : m;
  const n = bitLength(a);
  if (n > 64) {
    let sh = n - 64;
    const bsh = BigInt(sh);
    let q = a >> bsh;
    const rem = a - (q << bsh);
    const half = 1n << (bsh - 1n);
    if (rem > half || (rem === half && (q & 1n) === 1n)) {
      q += 1n;
      if (q === TWO64) {
        q = TWO63;
        sh += 1;
      }
    }
    a = q;
    e += sh;
  } else if (n < 64) {
    a <<= BigInt(64 - n);
    e -= 64 - n;
  }
  return new LongDouble(neg ? -a : a, e);
}

/** An integer (any size) as a long double, rounded if it needs more than 64 bits. */
export function ldFromInt(x: number | bigint): LongDouble {
  return ldRound(typeof x === 'bigint' ? x : BigInt(x), 0);
}

export function ldAdd(x: LongDouble, y: LongDouble): LongDouble {
  if (x.m === 0n) return y;
  if (y.m === 0n) return x;
  const d = x.e - y.e;
  // beyond this gap the smaller operand is below a quarter ulp of the larger one
  if (d > 140) return x;
  if (d < -140) return y;
  if (d >= 0) return ldRound((x.m << BigInt(d)) + y.m, y.e);
  return ldRound(x.m + (y.m << BigInt(-d)), x.e);
}

export function ldMul(x: LongDouble, y: LongDouble): LongDouble {
  if (x.m === 0n || y.m === 0n) return LD_ZERO;
  return ldRound(x.m * y.m, x.e + y.e);
}

export function ldDiv(x: LongDouble, y: LongDouble): LongDouble {
  if (x.m === 0n) return LD_ZERO;
  if (y.m === 0n) throw new RangeError('long double division by zero');
  const neg = x.m < 0n !== y.m < 0n;
  const a = (x.m < 0n ? -x.m : x.m) << 66n;
  const b = y.m < 0n ? -y.m : y.m;
  const q = a / b;
  // one sticky bit below the quotient keeps round-half-even exact
  const q2 = (q << 1n) | (a - q * b === 0n ? 0n : 1n);
  return ldRound(neg ? -q2 : q2, x.e - y.e - 67);
}

export function ldAbs(x: LongDouble): LongDouble {
  return x.m < 0n ? new LongDouble(-x.m, x.e) : x;
}

export function ldCmp(x: LongDouble, y: LongDouble): number {
  const sx = x.m < 0n ? -1 : x.m > 0n ? 1 : 0;
  const sy = y.m < 0n ? -1 : y.m > 0n ? 1 : 0;
  if (sx !== sy || sx === 0) return sx < sy ? -1 : sx > sy ? 1 : 0;
  // same sign, both non-zero: normalised mantissas make the exponent decide first
  if (x.e !== y.e) return (x.e > y.e ? 1 : -1) * sx;
  return x.m < y.m ? -1 : x.m > y.m ? 1 : 0;
}

/** C's conversion of a long double to an integer type: truncation toward zero. */
export function ldTrunc(x: LongDouble): bigint {
  if (x.e >= 0) return x.m << BigInt(x.e);
  if (x.e <= -64) return 0n;
  const s = BigInt(-x.e);
  return x.m < 0n ? -(-x.m >> s) : x.m >> s;
}

/** A sort key of a histogram: an exact integer, or a long double once rounding happened. */
export type SortNum = number | bigint | LongDouble;

export function sortNumCmp(a: SortNum, b: SortNum): number {
  if (typeof a === 'object' || typeof b === 'object') {
    return ldCmp(typeof a === 'object' ? a : ldFromInt(a), typeof b === 'object' ? b : ldFromInt(b));
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

const SAFE = 9007199254740992; // 2^53
const SAFE_BIG = 4503599627370496n; // 2^52

/**
 * A running long double sum of products, as DTrace writes `total += (long double)a * b`.
 * Stays in exact Number arithmetic until a value could need rounding.
 */
class LdSum {
  n = 0;
  x: LongDouble | null = null;

  /** total += a * b, both integers */
  addIntProduct(a: number | bigint, b: number | bigint): void {
    if (typeof a === 'bigint' && a < SAFE_BIG && a > -SAFE_BIG) a = Number(a);
    if (typeof b === 'bigint' && b < SAFE_BIG && b > -SAFE_BIG) b = Number(b);
    if (this.x === null && typeof a === 'number' && typeof b === 'number') {
      const p = a * b;
      const s = this.n + p;
      if (p < SAFE && p > -SAFE && s < SAFE && s > -SAFE) {
        this.n = s;
        return;
      }
    }
    this.addLD(ldMul(ldFromInt(a), ldFromInt(b)));
  }

  addLD(v: LongDouble): void {
    if (this.x === null) this.x = ldFromInt(this.n);
    this.x = ldAdd(this.x, v);
  }

  result(): SortNum {
    return this.x === null ? this.n : this.x;
  }
}

// -- bucket storage view -----------------------------------------------------------------------

/**
 * The int64 bucket counts of one histogram. When `big` is null, `num` holds the exact counts;
 * otherwise `big` holds them and `num[i]` is Number(big[i]) (exact in sign and zero-ness only).
 */
export interface Int64Vector {
  num: Float64Array;
  big: BigInt64Array | null;
}

function exactAt(d: Int64Vector, i: number): number | bigint {
  return d.big !== null ? d.big[i]! : d.num[i]!;
}

/** `(long long)val / normal` with DTrace's unsigned division by the normalisation factor. */
export function normalizeCount(val: number | bigint, normal: bigint): string {
  if (normal === 1n) return String(val);
  if (normal === 0n) return String(val);
  return String(BigInt.asIntN(64, BigInt.asUintN(64, BigInt(val)) / normal));
}

// -- quantize() --------------------------------------------------------------------------------

export const QUANTIZE_NBUCKETS = 127;
export const QUANTIZE_ZEROBUCKET = 63;

/** quantize() bucket of a value held in a Number (any integer of at most 32 bits). */
export function quantizeBucket(v: number): number {
  if (v === 0) return QUANTIZE_ZEROBUCKET;
  if (v > 0) return v < 4294967296 ? 95 - Math.clz32(v) : quantizeBucketBig(BigInt(v));
  return v > -4294967296 ? 31 + Math.clz32(-v) : quantizeBucketBig(BigInt(v));
}

/** quantize() bucket of a 64-bit value (unsigned values >= 2^63 count as negative). */
export function quantizeBucketBig(v: bigint): number {
  v = BigInt.asIntN(64, v);
  if (v > -4294967296n && v < 4294967296n) return quantizeBucket(Number(v));
  if (v === -TWO63) return 0;
  const a = v < 0n ? -v : v;
  const hi = Number(a >> 32n);
  const off = 64 - Math.clz32(hi);
  return v < 0n ? QUANTIZE_ZEROBUCKET - off : QUANTIZE_ZEROBUCKET + off;
}

/** The value a quantize() bucket is labelled with (its lower bound in magnitude). */
export function quantizeBucketValue(i: number): bigint {
  if (i < QUANTIZE_ZEROBUCKET) return -(1n << BigInt(QUANTIZE_ZEROBUCKET - 1 - i));
  if (i === QUANTIZE_ZEROBUCKET) return 0n;
  return 1n << BigInt(i - QUANTIZE_ZEROBUCKET - 1);
}

const QUANTIZE_LABELS: string[] = [];
for (let i = 0; i < QUANTIZE_NBUCKETS; i++) {
  QUANTIZE_LABELS.push(String(quantizeBucketValue(i)).padStart(16) + ' ');
}

// -- lquantize() -------------------------------------------------------------------------------

/** lquantize(value, base, limit, step) as DTrace encodes it: levels = (limit - base) / step. */
export class LQuantizeParams {
  readonly levels: number;
  constructor(
    readonly base: number,
    readonly limit: number,
    readonly step: number,
  ) {
    this.levels = Math.floor((limit - base) / step);
  }
  /** number of buckets: one below base, `levels` in range, one at or above the top */
  get nbuckets(): number {
    return this.levels + 2;
  }
}

export function lquantizeBucket(v: number, p: LQuantizeParams): number {
  if (v < p.base) return 0;
  const level = Math.floor((v - p.base) / p.step);
  return (level > p.levels ? p.levels : level) + 1;
}

export function lquantizeBucketBig(v: bigint, p: LQuantizeParams): number {
  v = BigInt.asIntN(64, v);
  if (v > -SAFE_BIG && v < SAFE_BIG) return lquantizeBucket(Number(v), p);
  if (v < 0n) return 0; // below any 32-bit base
  const level = (v - BigInt(p.base)) / BigInt(p.step);
  return (level > BigInt(p.levels) ? p.levels : Number(level)) + 1;
}


// -- llquantize() ------------------------------------------------------------------------------

/** llquantize(value, factor, low magnitude, high magnitude, steps per magnitude). */
export class LLQuantizeParams {
  /** steps / factor: linear steps of a magnitude that fall into lower magnitudes */
  readonly stepsFactor: number;
  /** the middle bucket: |value| < factor^lmag */
  readonly bin0: number;
  readonly nbuckets: number;
  /** factor^lmag, the smallest magnitude */
  readonly max0: bigint;
  readonly max0Num: number;

  constructor(
    readonly factor: number,
    readonly lmag: number,
    readonly hmag: number,
    readonly steps: number,
  ) {
    this.stepsFactor = Math.floor(steps / factor);
    const perSide = (hmag - lmag + 1) * (steps - this.stepsFactor);
    this.bin0 = 1 + perSide;
    this.nbuckets = perSide * 2 + 3;
    this.max0 = BigInt(factor) ** BigInt(lmag);
    this.max0Num = Number(this.max0);
  }
}

/** llquantize() bucket of a value held in a Number; -1 if DTrace would drop it. */
export function llquantizeBucket(v: number, p: LLQuantizeParams): number {
  const tmp = v < 0 ? -v : v;
  if (tmp >= 4294967296) return llquantizeBucketBig(BigInt(v), p);
  if (tmp < p.max0Num) return p.bin0;
  const factor = p.factor;
  const steps = p.steps;
  let mag = p.lmag;
  let max = p.max0Num;
  let ind = 0;
  let found = false;
  for (;;) {
    max *= factor;
    if (tmp < max) {
      found = true;
      break;
    }
    mag++;
    if (mag > p.hmag) break;
  }
  if (found) {
    ind = mag !== 0 ? Math.floor(tmp / Math.floor(max / steps)) : Math.floor((tmp * steps) / max);
    ind -= p.stepsFactor;
  }
  let bin = (mag - p.lmag) * (steps - p.stepsFactor) + ind + 1;
  if (v < 0) bin = -bin;
  bin += p.bin0;
  return bin >= 0 && bin < p.nbuckets ? bin : -1;
}

/** llquantize() bucket of a 64-bit value; -1 if DTrace would drop it. */
export function llquantizeBucketBig(v: bigint, p: LLQuantizeParams): number {
  v = BigInt.asIntN(64, v);
  if (v > -4294967296n && v < 4294967296n) return llquantizeBucket(Number(v), p);
  const tmp = BigInt.asUintN(64, v < 0n ? -v : v);
  if (tmp < p.max0) return p.bin0;
  const factor = BigInt(p.factor);
  const steps = BigInt(p.steps);
  let mag = p.lmag;
  let max = p.max0;
  let ind = 0n;
  let found = false;
  for (;;) {
    max = BigInt.asUintN(64, max * factor);
    if (tmp < max) {
      found = true;
      break;
    }
    mag++;
    if (mag > p.hmag) break;
  }
  if (found) {
    ind = mag !== 0 ? tmp / (max / steps) : BigInt.asUintN(64, tmp * steps) / max;
    ind -= BigInt(p.stepsFactor);
  }
  let bin = (mag - p.lmag) * (p.steps - p.stepsFactor) + Number(ind) + 1;
  if (v < 0n) bin = -bin;
  bin += p.bin0;
  return bin >= 0 && bin < p.nbuckets ? bin : -1;
}

// -- drawing -----------------------------------------------------------------------------------

const HEADER =
  '\n' +
  'value'.padStart(16) +
  ' ' +
  '------------- Distribution -------------'.padStart(41) +
  ' ' +
  'count'.padEnd(9) +
  '\n';

const ATS = '@'.repeat(40);
/** aggzoom: the tallest bar's share of the full length (DTRACE_AGGZOOM_MAX) */
export const AGGZOOM_MAX = 0.95;
const SPACES = ' '.repeat(40);

/** What every bar of one histogram shares: the sum of |counts| and which signs occur. */
class BarScale {
  positives = false;
  negatives = false;
  /** exact Number total, valid when `ld` is null */
  total = 0;
  ld: LongDouble | null = null;

  constructor(d: Int64Vector, first: number, last: number, zoom = false) {
    const num = d.num;
    if (zoom) {
      // aggzoom: the tallest bar is 95% of the full length (dt_quantize_total)
      for (let i = first; i <= last; i++) {
        const v = num[i]!;
        if (v > 0) this.positives = true;
        else if (v < 0) this.negatives = true;
        const z = (v < 0 ? -v : v) * (1 / AGGZOOM_MAX);
        if (this.total < z) this.total = z;
      }
      this.zoomed = true;
      return;
    }
    let t = 0;
    let exact = d.big === null;
    for (let i = first; i <= last; i++) {
      const v = num[i]!;
      if (v > 0) this.positives = true;
      else if (v < 0) this.negatives = true;
      if (exact) {
        t += v < 0 ? -v : v;
        if (t > 70368744177664) exact = false; // 2^46: beyond it, do what long double does
      }
    }
    if (exact) {
      this.total = t;
      return;
    }
    let ld = LD_ZERO;
    for (let i = first; i <= last; i++) {
      if (num[i] === 0) continue;
      ld = ldAdd(ld, ldAbs(ldFromInt(exactAt(d, i))));
    }
    this.ld = ld;
  }

  /** the total is the zoomed tallest bar's (a double, not a sum) */
  private zoomed = false;

  /** (uint_t)(fabsl(val) * len / total + 0.5) */
  depth(d: Int64Vector, i: number, len: number): number {
    if (this.zoomed) {
      const t = this.total;
      if (t === 0) return 0;
      const v = d.num[i]!;
      return Math.floor(((v < 0 ? -v : v) * len) / t + 0.5);
    }
    if (this.ld === null) {
      const t = this.total;
      if (t === 0) return 0;
      const v = d.num[i]!;
      const a = v < 0 ? -v : v;
      return Math.floor((2 * len * a + t) / (2 * t));
    }
    const v = ldAbs(ldFromInt(exactAt(d, i)));
    const f = ldDiv(ldMul(v, ldFromInt(len)), this.ld);
    return Number(ldTrunc(ldAdd(f, LD_HALF)));
  }
}

/** One row's bar and count, after its 16-column label and a space. [dt_print_quantline] */
function quantline(d: Int64Vector, i: number, normal: bigint, s: BarScale): string {
  const v = d.num[i]!;
  const count = normalizeCount(exactAt(d, i), normal).padEnd(9);
  if (!s.negatives) {
    const depth = s.positives ? s.depth(d, i, 40) : 0;
    return '|' + ATS.slice(40 - depth) + SPACES.slice(depth) + ' ' + count + '\n';
  }
  if (!s.positives) {
    const depth = s.depth(d, i, 40);
    return SPACES.slice(depth) + ATS.slice(40 - depth) + '| ' + count + '\n';
  }
  // both signs: half-length bars either side of a centre line
  const depth = s.depth(d, i, 20);
  if (v <= 0) return SPACES.slice(20 + depth) + ATS.slice(40 - depth) + '|' + SPACES.slice(20) + ' ' + count + '\n';
  return SPACES.slice(20) + '|' + ATS.slice(40 - depth) + SPACES.slice(20 + depth) + ' ' + count + '\n';
}

function firstNonZero(num: Float64Array, from: number, to: number): number {
  let i = from;
  while (i <= to && num[i] === 0) i++;
  return i;
}

function lastNonZero(num: Float64Array, from: number, to: number): number {
  let i = to;
  while (i > from && num[i] === 0) i--;
  return i;
}

/**
 * quantize() output, as dtrace prints it (starting with a newline, the header, then one row per
 * bucket from the one before the first non-zero bucket to the one after the last).
 */
export function formatQuantize(d: Int64Vector, normal: bigint, zoom = false): string {
  const num = d.num;
  const n = QUANTIZE_NBUCKETS;
  let first = firstNonZero(num, 0, n - 1);
  let last: number;
  if (first > n - 1) {
    // no data (only possible with negative increments summing to zero): show around 0
    first = QUANTIZE_ZEROBUCKET - 1;
    last = QUANTIZE_ZEROBUCKET + 1;
  } else {
    if (first > 0) first--;
    last = lastNonZero(num, 0, n - 1);
    if (last < n - 1) last++;
  }
  const s = new BarScale(d, first, last, zoom);
  let out = HEADER;
  for (let i = first; i <= last; i++) out += QUANTIZE_LABELS[i]! + quantline(d, i, normal, s);
  return out;
}

/** lquantize() output, as dtrace prints it ("< base" and ">= top" for the outer buckets). */
export function formatLQuantize(d: Int64Vector, normal: bigint, p: LQuantizeParams, zoom = false): string {
  const num = d.num;
  const levels = p.levels;
  let first = firstNonZero(num, 0, levels + 1);
  let last: number;
  if (first > levels + 1) {
    first = 0;
    last = 2;
  } else {
    if (first > 0) first--;
    last = lastNonZero(num, 0, levels + 1);
    if (last < levels + 1) last++;
  }
  const s = new BarScale(d, first, last, zoom);
  let out = HEADER;
  for (let i = first; i <= last; i++) {
    let label: string;
    if (i === 0) label = `< ${p.base}`;
    else if (i === levels + 1) label = `>= ${(p.base + levels * p.step) | 0}`;
    else label = String((p.base + (i - 1) * p.step) | 0);
    out += label.padStart(16) + ' ' + quantline(d, i, normal, s);
  }
  return out;
}

const UINT64_MASK = TWO64 - 1n;

/** llquantize() output, as dtrace prints it (bucket labels computed as dt_print_llquantize does). */
export function formatLLQuantize(d: Int64Vector, normal: bigint, p: LLQuantizeParams, zoom = false): string {
  const num = d.num;
  const { factor, lmag, hmag, steps, stepsFactor: sf, bin0, nbuckets: nbins } = p;
  let first = firstNonZero(num, 0, nbins - 1);
  let last: number;
  if (first > nbins - 1) {
    first = bin0 + 1;
    last = bin0 + 1;
  } else {
    last = nbins - 1;
    while (num[last] === 0) last--;
  }
  const s = new BarScale(d, first, last, zoom);
  if (first > 0) first--;
  if (last < nbins - 1) last++;

  // Labels for bins first-pad .. last+pad; unlabelled ("ghost") bins are not printed. Labels are
  // cut to 15 characters, as DTrace formats them into 16-byte buffers.
  const pad = lmag === 0 && steps > factor ? sf : 0;
  const labels: (string | null)[] = new Array<string | null>(last - first + 1 + 2 * pad).fill(null);
  const put = (bin: number, text: string): void => {
    if (bin >= first - pad && bin <= last + pad) labels[bin - first + pad] = text.length > 15 ? text.slice(0, 15) : text;
  };
  let scale = p.max0;
  if (scale === 1n) put(bin0, '0');
  else if (first >= bin0) put(bin0, `< ${scale}`);
  else put(bin0, `abs() < ${scale}`);
  put(bin0 - 1, `-${scale}`);
  put(bin0 + 1, `${scale}`);
  let mag = lmag;
  let i = 1;
  if (lmag === 0 && steps > factor) {
    for (let step = 2; step <= factor; step++) {
      i += sf;
      put(bin0 - i, `-${step}`);
      put(bin0 + i, `${step}`);
    }
    mag++;
  }
  const bfactor = BigInt(factor);
  scale = BigInt.asUintN(64, bfactor ** BigInt(mag + 1)) / BigInt(steps);
  for (; mag <= hmag; mag++) {
    for (let step = sf + 1; step <= steps; step++) {
      i++;
      const v = (BigInt(step) * scale) & UINT64_MASK;
      put(bin0 - i, `-${v}`);
      put(bin0 + i, `${v}`);
    }
    scale = (scale * bfactor) & UINT64_MASK;
  }
  scale = BigInt.asUintN(64, bfactor ** BigInt(hmag + 1));
  put(0, `<= -${scale}`);
  put(nbins - 1, `>= ${scale}`);

  if (pad > 0) {
    // first or last may have landed on a ghost bin: borrow the nearest label within pad
    let j = pad;
    if (labels[j] === null) {
      let k = 1;
      for (; k < pad; k++) if (labels[j - k] !== null) break;
      if (k < pad) labels[j] = labels[j - k]!;
    }
    j = last - first + pad;
    if (labels[j] === null) {
      let k = 1;
      for (; k < pad; k++) if (labels[j + k] !== null) break;
      if (k < pad) labels[j] = labels[j + k]!;
    }
  }

  let out = HEADER;
  for (let b = first; b <= last; b++) {
    const label = labels[b - first + pad];
    if (label === null || label === undefined) continue;
    out += label.padStart(16) + ' ' + quantline(d, b, normal, s);
  }
  return out;
}

// -- sort keys ---------------------------------------------------------------------------------

/** How DTrace orders histograms: by a weighted sum of the buckets, then by the "zero" bucket. */
export interface HistSortKey {
  total: SortNum;
  zero: number | bigint;
}

/** Σ bucketvalue(i) * count(i) in long double; zero = count of bucket 0. [dt_aggregate_quantizedcmp] */
export function quantizeSortKey(d: Int64Vector): HistSortKey {
  const sum = new LdSum();
  const num = d.num;
  for (let i = 0; i < QUANTIZE_NBUCKETS; i++) {
    if (num[i] === 0 || i === QUANTIZE_ZEROBUCKET) continue;
    const bv = i < QUANTIZE_ZEROBUCKET ? -(2 ** (QUANTIZE_ZEROBUCKET - 1 - i)) : 2 ** (i - QUANTIZE_ZEROBUCKET - 1);
    sum.addIntProduct(bv > -SAFE && bv < SAFE ? bv : quantizeBucketValue(i), exactAt(d, i));
  }
  return { total: sum.result(), zero: exactAt(d, QUANTIZE_ZEROBUCKET) };
}

/** [dt_aggregate_lquantizedsum, dt_aggregate_lquantizedzero] */
export function lquantizeSortKey(d: Int64Vector, p: LQuantizeParams): HistSortKey {
  const sum = new LdSum();
  const levels = p.levels;
  let base = p.base;
  sum.addIntProduct(exactAt(d, 0), (base - 1) | 0);
  for (let i = 0; i < levels; i++) {
    sum.addIntProduct(exactAt(d, i + 1), base);
    base = (base + p.step) | 0;
  }
  sum.addIntProduct(exactAt(d, levels + 1), (base + 1) | 0);

  let zero: number | bigint = 0;
  base = p.base;
  if (((base - 1) | 0) === 0) zero = exactAt(d, 0);
  else {
    let found = false;
    for (let i = 0; i < levels; i++, base = (base + p.step) | 0) {
      if (base !== 0) continue;
      zero = exactAt(d, i + 1);
      found = true;
      break;
    }
    if (!found && ((base + 1) | 0) === 0) zero = exactAt(d, levels + 1);
  }
  return { total: sum.result(), zero };
}

/** [dt_aggregate_llquantizedsum, dt_aggregate_llquantizedzero] */
export function llquantizeSortKey(d: Int64Vector, p: LLQuantizeParams): HistSortKey {
  const { factor, hmag, steps, stepsFactor: sf, bin0, nbuckets } = p;
  let lmag = p.lmag;
  const at = (i: number): bigint => (i >= 0 && i < nbuckets ? BigInt(exactAt(d, i)) : 0n);
  const diff = (i: number): bigint => BigInt.asIntN(64, at(bin0 + i) - at(bin0 - i));
  const bfactor = BigInt(factor);

  const sum = new LdSum();
  sum.addIntProduct(p.max0 <= 9007199254740992n ? Number(p.max0) : p.max0, diff(1));
  let i = 1;
  if (lmag === 0 && steps > factor) {
    for (let step = 2; step <= factor; step++) {
      i += sf;
      sum.addIntProduct(BigInt.asIntN(64, BigInt(step) * diff(i)), 1);
    }
    lmag = 1;
  }
  const top = bfactor ** BigInt(lmag + 1);
  const bsteps = BigInt(steps);
  if (top % bsteps === 0n) {
    // integral scale: every product is an integer
    let scale = top / bsteps;
    for (let mag = lmag; mag <= hmag; mag++) {
      for (let step = sf + 1; step <= steps; step++) {
        i++;
        const dv = diff(i);
        if (dv !== 0n) sum.addIntProduct(BigInt(step) * scale, dv);
      }
      scale *= bfactor;
    }
  } else {
    let scale = ldDiv(ldFromInt(top), ldFromInt(steps));
    const ldf = ldFromInt(factor);
    for (let mag = lmag; mag <= hmag; mag++) {
      for (let step = sf + 1; step <= steps; step++) {
        i++;
        const dv = diff(i);
        if (dv !== 0n) sum.addLD(ldMul(ldMul(ldFromInt(step), scale), ldFromInt(dv)));
      }
      scale = ldMul(scale, ldf);
    }
  }
  return { total: sum.result(), zero: exactAt(d, bin0) };
}
