// The buffers a session's size options declare, checked before tracing starts as dtrace_go()
// and the kernel's dtrace_state_go() check DTrace's: a buffer too small for what the program
// stores is refused ("Enabling exceeds size of buffer"); one larger than can be had is halved
// until it fits, as bufresize=auto does, and dtrace says so ("aggregation size lowered to 256m"),
// or refused with bufresize=manual ("Cannot allocate memory"); more speculations than an int
// counts are refused as the kernel refuses them.
//
// DTrace allocates its buffers up front; here the aggregation table, dynamic variables and
// speculation buffers grow in the JS heap as they fill, up to their size option. What can be had
// is therefore V8's heap limit (past it V8 aborts the process, which no DTrace error could
// report): half of it is shared out among the buffers, by an estimate of the heap each declared
// byte can take.                [dtrace.c dtrace_state_go/dtrace_state_buffer, dt_bpf.c, dtrace.c go()]

import { totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { Options, UNSET } from './options.js';

/** What the program stores, as far as buffer sizes go. */
export interface BufferNeeds {
  /** the largest aggregation key record and data record (null: no aggregations) */
  aggRecord: { tuple: number; data: number; nkeys: number } | null;
  /** the program has dynamic variables (associative arrays, thread-locals) */
  dynvars: boolean;
  /** bytes one element of its associative arrays takes (0: it has none) */
  dynvarSlot: number;
  /** the program calls speculation() */
  speculates: boolean;
  /** some clause writes to the principal buffer */
  records?: boolean;
  /** what END's clauses reserve in a fill buffer (see session's endReserve) */
  endReserve?: number;
}

/** The smallest record a probe can write: DTrace refuses a principal buffer that cannot hold one. */
const MIN_RECORD = 64n;
const INT_MAX = 0x7fffffffn;

export const EDT_BUFTOOSMALL = 'Enabling exceeds size of buffer';
export const ENOMEM = 'Cannot allocate memory';
export const EDT_ENDTOOBIG = 'END enablings exceed size of principal buffer';

// Heap an entry or a byte can take beyond what DTrace's record sizes count (measured on Node 20:
// an int-keyed count() entry 49 bytes, a two-int key 246 with its Map per first key).
const AGG_ENTRY_HEAP = 64;
const AGG_KEY_LEVEL_HEAP = 160;
const DYNVAR_HEAP_FACTOR = 4n;
const SPEC_RECORD_HEAP_FACTOR = 2n;
/** one speculation's own state, allocated whether it is used or not (as DTrace's are) */
const SPEC_STATE_HEAP = 200n;

/** The heap the buffers may share: half of what V8 can allocate (the rest is dtrace's own). */
export function defaultBudget(): bigint {
  return BigInt(Math.floor(Math.min(getHeapStatistics().heap_size_limit, totalmem()) / 2));
}

/** Entries the aggregation buffer holds: Oracle's aggsize / (largest key + largest data record). */
export function aggCapacity(aggsize: bigint, rec: { tuple: number; data: number }): number {
  if (aggsize <= 0n) return 0;
  const n = aggsize / BigInt(rec.tuple + rec.data);
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** cmd/dtrace.c's report of a buffer its size option asked more of than could be had. */
function loweredMessage(name: string, size: bigint): string {
  let j = 0;
  let mul = 10n;
  while (1n << mul <= size) {
    j++;
    mul += 10n;
  }
  if ((size & ((1n << (mul - 10n)) - 1n)) === 0n) return `${name} lowered to ${size >> (mul - 10n)}${' kmgtpe'[j]}`;
  return `${name} lowered to ${size} bytes`;
}

/**
 * Checks and fits the buffer sizes in `opts` (lowering them in place); returns the reason
 * tracing cannot be enabled, or null. `warn` gets the "lowered" reports (unless quietresize).
 */
export function sizeBuffers(opts: Options, needs: BufferNeeds, warn: (msg: string) => void, budget = defaultBudget()): string | null {
  const bufsize = opts.get('bufsize');
  const policy = opts.get('bufpolicy');
  if (policy === 0n) {
    if (bufsize !== UNSET && bufsize < MIN_RECORD) return EDT_BUFTOOSMALL;
  } else if (bufsize !== UNSET) {
    // ring and fill are illumos's: a buffer too small for a record drops that record; only
    // one under 8 bytes (or, for fill, smaller than END's reserve) is refused
    const size = bufsize - (bufsize % 8n);
    if (needs.records && size < 8n) return EDT_BUFTOOSMALL;
    if (policy === 2n && size < BigInt(needs.endReserve ?? 0)) return EDT_ENDTOOBIG;
  }
  const nspec = opts.get('nspec');
  if (nspec > INT_MAX) return ENOMEM;
  const manual = opts.get('bufresize') === 1n;
  const quiet = opts.flag('quietresize');
  let left = budget;

  // taken in the order dtrace_state_go() allocates them; what cannot be lowered comes first
  const scratch = opts.get('scratchsize');
  if (scratch > 0n) left -= scratch;
  left -= (nspec > 0n ? nspec : 0n) * SPEC_STATE_HEAP;
  if (left < 0n) return ENOMEM;

  const fit = (option: string, name: string, heapOf: (size: bigint) => bigint, usable: (size: bigint) => boolean): string | null => {
    const asked = opts.get(option);
    if (asked === UNSET || asked <= 0n) return null;
    let size = asked;
    while (heapOf(size) > left) {
      if (manual) return ENOMEM;
      size /= 2n;
      size -= size & 7n;
      if (size < 8n || !usable(size)) return ENOMEM;
    }
    left -= heapOf(size);
    if (size < asked) {
      opts.setSize(option, size);
      if (!quiet && size < asked - 8n) warn(loweredMessage(name, size));
    }
    return null;
  };

  const rec = needs.aggRecord;
  if (rec !== null) {
    if (aggCapacity(opts.get('aggsize'), rec) === 0) return EDT_BUFTOOSMALL;
    const perEntry = BigInt(rec.tuple + rec.data + AGG_ENTRY_HEAP + AGG_KEY_LEVEL_HEAP * Math.max(0, rec.nkeys - 1));
    const r = fit('aggsize', 'aggregation size', (s) => BigInt(aggCapacity(s, rec)) * perEntry, (s) => aggCapacity(s, rec) > 0);
    if (r !== null) return r;
  }
  if (needs.speculates && nspec > 0n) {
    const r = fit('specsize', 'speculation size', (s) => nspec * s * SPEC_RECORD_HEAP_FACTOR, () => true);
    if (r !== null) return r;
  }
  if (needs.dynvars) {
    const slot = BigInt(needs.dynvarSlot);
    if (opts.get('dynvarsize') < slot) return EDT_BUFTOOSMALL;
    const r = fit('dynvarsize', 'dynamic variable size', (s) => s * DYNVAR_HEAP_FACTOR, (s) => s >= slot);
    if (r !== null) return r;
  }
  return null;
}
