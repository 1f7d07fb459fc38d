// Dynamic variables: associative arrays and thread-locals, with D's rules: a missing element
// reads as zero, storing zero deletes it, and space is bounded by dynvarsize (drops beyond).

import type { Value } from './values.js';
import type { DynArrayAbi } from './abi.js';

type Key = number | bigint | string;

/**
 * Whether a value is D's zero (assigning it deletes a dynamic variable): an integer 0, or null
 * for a string or struct (the generated code passes null for a literal 0; DTrace stores the
 * address of any other string or struct value, so "" and zeroed bytes are kept).
 */
export function isZero(v: Value | null): boolean {
  return v === 0 || v === 0n || v === null;
}

/**
 * The shared dynamic variable space (dynvarsize): counts bytes in use and drops. Oracle's
 * dynamic variable map never holds fewer than three variables, however small dynvarsize is.
 */
export class DynSpace {
  used = 0;
  drops = 0;
  private minEntries = 3;
  constructor(public limit: number) {}

  /** Reserves room for one variable; false (and a drop) when full. */
  take(size: number): boolean {
    if (this.used + size > Math.max(this.limit, size * this.minEntries)) {
      this.drops++;
      return false;
    }
    this.used += size;
    return true;
  }

  give(size: number): void {
    this.used -= size;
  }
}

/** An associative array keyed by tuples of N values: N levels of nested Maps. */
export class DynArray implements DynArrayAbi {
  private readonly root = new Map<Key, unknown>();

  constructor(
    readonly nkeys: number,
    private readonly space: DynSpace,
    /** bytes each element takes in dynvar space */
    private readonly elemSize: number,
  ) {}

  get(k0: Key, k1?: Key, k2?: Key, ...rest: Key[]): Value | undefined {
    let m: unknown = this.root.get(k0);
    if (this.nkeys === 1) return m as Value | undefined;
    if (m === undefined) return undefined;
    m = (m as Map<Key, unknown>).get(k1!);
    if (this.nkeys === 2 || m === undefined) return m as Value | undefined;
    m = (m as Map<Key, unknown>).get(k2!);
    for (let i = 0; i < rest.length && m !== undefined; i++) m = (m as Map<Key, unknown>).get(rest[i]);
    return m as Value | undefined;
  }

  /**
   * Stores (or, for zero, deletes) an element; returns the value stored. A new element takes its
   * room first: when there is none (a dynamic variable drop) nothing is left behind for it.
   */
  set<V extends Value | null>(v: V, ...keys: Key[]): V {
    const zero = isZero(v);
    const n = keys.length;
    let m: Map<Key, unknown> | undefined = this.root;
    for (let i = 0; i < n - 1 && m !== undefined; i++) m = m.get(keys[i]) as Map<Key, unknown> | undefined;
    const last = keys[n - 1];
    if (m !== undefined && m.has(last)) {
      if (zero) this.remove(keys);
      else m.set(last, v);
      return v;
    }
    if (zero || !this.space.take(this.elemSize)) return v;
    m = this.root;
    for (let i = 0; i < n - 1; i++) {
      let next = m.get(keys[i]) as Map<Key, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        m.set(keys[i], next);
      }
      m = next;
    }
    m.set(last, v);
    return v;
  }

  /** Deletes an element that exists, and the levels it leaves empty. */
  private remove(keys: Key[]): void {
    const path: Array<Map<Key, unknown>> = [];
    let m = this.root;
    for (let i = 0; i < keys.length - 1; i++) {
      path.push(m);
      m = m.get(keys[i]) as Map<Key, unknown>;
    }
    m.delete(keys[keys.length - 1]);
    this.space.give(this.elemSize);
    for (let i = path.length - 1; i >= 0 && m.size === 0; i--) {
      path[i].delete(keys[i]);
      m = path[i];
    }
  }
}

/** Thread-local variables of every thread: per thread, an array of slots by variable id. */
export class ThreadLocals {
  private readonly threads = new Map<number, Array<Value | undefined>>();
  private readonly arrays = new Map<number, Map<number, DynArray>>();

  constructor(
    private readonly space: DynSpace,
    /** bytes each thread-local variable takes in dynvar space, by id */
    private readonly sizes: number[],
    private readonly keyCounts: number[],
  ) {}

  get(tid: number, id: number): Value | undefined {
    const t = this.threads.get(tid);
    return t === undefined ? undefined : t[id];
  }

  set<V extends Value | null>(tid: number, id: number, v: V): V {
    let t = this.threads.get(tid);
    if (isZero(v)) {
      if (t !== undefined && t[id] !== undefined) {
        t[id] = undefined;
        this.space.give(this.sizes[id] ?? 64);
        // a thread with no variable left takes no room (threads come and go)
        if (t.every((x) => x === undefined)) this.threads.delete(tid);
      }
      return v;
    }
    if ((t === undefined || t[id] === undefined) && !this.space.take(this.sizes[id] ?? 64)) return v;
    if (t === undefined) {
      t = [];
      this.threads.set(tid, t);
    }
    t[id] = v as Value;
    return v;
  }

  /** self->a[...]: a thread's associative array. */
  array(tid: number, id: number): DynArray {
    let m = this.arrays.get(tid);
    if (m === undefined) {
      m = new Map();
      this.arrays.set(tid, m);
    }
    let a = m.get(id);
    if (a === undefined) {
      a = new DynArray(this.keyCounts[id] ?? 1, this.space, this.sizes[id] ?? 64);
      m.set(id, a);
    }
    return a;
  }
}
