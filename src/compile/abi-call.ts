// Calls from generated code into the runtime, built through the interfaces of runtime/abi.ts:
// the entry point is named by a key of the interface and given one code string per parameter,
// so tsc rejects a name the runtime does not have or a call with too many or too few arguments,
// and `grep "rtCall('NAME'"` finds every place that generates a call to NAME.

import type { AggregationAbi, ClauseAbi, DynArrayAbi, MemoryAbi } from '../runtime/abi.js';

/** The names of T's methods. */
type Methods<T> = { [K in keyof T]-?: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T];

/**
 * An argument of a generated call: JavaScript source text, or a number or boolean that stands for
 * its own literal (a variable id, a size, a flag).
 */
export type Code = string | number | boolean;

/** One Code per parameter of F; optional parameters stay optional. */
type ArgCode<F> = F extends (...args: infer P) => unknown ? { [I in keyof P]: Code } : never;

function call(target: string, args: readonly Code[]): string {
  return `${target}(${args.join(', ')})`;
}

/** Code that calls the runtime entry point rt.NAME. */
export function rtCall<K extends Methods<ClauseAbi>>(name: K, ...args: ArgCode<ClauseAbi[K]>): string {
  return call(`rt.${name}`, args as readonly Code[]);
}

/** Code that calls rt.mem.NAME (memory by address). */
export function memCall<K extends Methods<MemoryAbi>>(name: K, ...args: ArgCode<MemoryAbi[K]>): string {
  return call(`rt.mem.${name}`, args as readonly Code[]);
}

/** Code that calls NAME on the aggregation `agg` (code such as AG[3]). */
export function aggCall<K extends Methods<AggregationAbi>>(agg: string, name: K, ...args: ArgCode<AggregationAbi[K]>): string {
  return call(`${agg}.${name}`, args as readonly Code[]);
}

/** Code that calls NAME on the associative array `store` (code such as D[2] or rt.tlsArray(ctx, 2)). */
export function dynCall<K extends Methods<DynArrayAbi>>(store: string, name: K, ...args: ArgCode<DynArrayAbi[K]>): string {
  return call(`${store}.${name}`, args as readonly Code[]);
}
