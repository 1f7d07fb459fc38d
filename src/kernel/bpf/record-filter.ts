// A tracefs event filter ("common_pid == 42 || (comm == \"sh\" && fd > 2)"), as the providers
// write them for the tracefs path (kernel-event.ts kernelFilter), made into tests a capture
// program makes before it sends a record: events that BPF captures (capture.ts) bypass tracefs
// and its filter, and without them every record of the event would reach dtrace. A filter this
// does not understand is no filter (dtrace still runs every predicate).

import type { EventFormat } from '../event-format.js';

export type TestOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

/** One comparison of a record's field, the thread's name or the CPU with a constant. */
export interface RecordTest {
  what: 'cpu' | 'comm' | { offset: number; size: 1 | 2 | 4 | 8; signed: boolean };
  op: TestOp;
  /** a 32-bit signed integer, or the name (at most 15 bytes) for comm */
  value: number | string;
}

/** An OR of ANDs (disjunctive normal form) of at most this many ANDs. */
const MAX_ORS = 16;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

type Dnf = RecordTest[][];

/** The filter as tests on the event's records, or null (unfiltered). */
export function recordFilter(filter: string, format: EventFormat): Dnf | null {
  const tokens = filter.match(/\(|\)|&&|\|\||==|!=|<=|>=|<|>|"[^"\\]*"|-?\d+|[A-Za-z_][A-Za-z0-9_]*|\S/g) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const or = (): Dnf | null => {
    let out = and();
    while (out !== null && peek() === '||') {
      i++;
      const r = and();
      out = r === null || out.length + r.length > MAX_ORS ? null : [...out, ...r];
    }
    return out;
  };
  const and = (): Dnf | null => {
    let out = atom();
    while (out !== null && peek() === '&&') {
      i++;
      const r = atom();
      if (r === null || out.length * r.length > MAX_ORS) return null;
      const o: Dnf = out;
      out = o.flatMap((a) => r.map((b) => [...a, ...b]));
    }
    return out;
  };
  const atom = (): Dnf | null => {
    if (peek() === '(') {
      i++;
      const inner = or();
      if (tokens[i++] !== ')') return null;
      return inner;
    }
    const t = leaf(tokens[i], tokens[i + 1], tokens[i + 2], format);
    i += 3;
    return t === null ? null : [[t]];
  };
  const out = or();
  return out !== null && i === tokens.length ? out : null;
}

function leaf(name: string | undefined, op: string | undefined, value: string | undefined, format: EventFormat): RecordTest | null {
  if (name === undefined || value === undefined || !['==', '!=', '<', '<=', '>', '>='].includes(op ?? '')) return null;
  const o = op as TestOp;
  if (name === 'comm') {
    if (!value.startsWith('"') || (o !== '==' && o !== '!=') || value.length - 2 > 15) return null;
    return { what: 'comm', op: o, value: value.slice(1, -1) };
  }
  if (!/^-?\d+$/.test(value)) return null;
  const n = Number(value);
  if (n < INT32_MIN || n > INT32_MAX) return null;
  if (name === 'CPU') return { what: 'cpu', op: o, value: n };
  const f = format.fields.find((x) => x.name === name) ?? format.common.find((x) => x.name === name);
  if (f === undefined || f.charArray || f.dataLoc || (f.size !== 1 && f.size !== 2 && f.size !== 4 && f.size !== 8)) return null;
  return { what: { offset: f.offset, size: f.size, signed: f.signed }, op: o, value: n };
}
