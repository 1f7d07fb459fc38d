// The records of -x oformat=json and of the library API: one schema, doc/json.md. The API's
// records are the JSON lines the runtime writes (runtime/json.ts), parsed.

/** An integer: a JSON number when a double holds it exactly (|v| <= 2^53 - 1), else a decimal string. */
export type Int = number | string;

/** A traced value: an integer (as Int), a string (D's bytes read as UTF-8), or bytes (struct, union, array). */
export type Value = Int | number[];

export interface ProbeDesc {
  id: number;
  provider: string;
  module: string;
  function: string;
  name: string;
}

/** A histogram bucket: the values it counts, min..max inclusive (null: unbounded). */
export interface Bucket {
  min: Int | null;
  max: Int | null;
  count: Int;
}

export interface Aggregation {
  /** without '@' ('' for the anonymous @) */
  name: string;
  function: 'count' | 'sum' | 'avg' | 'min' | 'max' | 'stddev' | 'quantize' | 'lquantize' | 'llquantize';
  /** in the order dtrace prints them (aggsort* options apply) */
  entries: Array<{ keys: Value[]; value: Int | Bucket[] }>;
}

export type Datum =
  | { action: 'printf'; text: string }
  | { action: 'trace'; type: string; value: Value }
  | { action: 'print'; type: string; value: Value | null; text: string }
  | { action: 'printa'; text: string | null; aggregations: Aggregation[] }
  | { action: 'stack' | 'ustack' | 'jstack'; frames: string[] }
  | { action: 'tracemem'; bytes: number[] }
  | { action: 'exit'; status: number }
  | { action: 'sym' | 'mod'; address: Int }
  | { action: 'usym' | 'ufunc' | 'umod' | 'uaddr'; address: Int; symbol: string };

/** What one clause recorded when its probe fired. */
export interface ProbeRecord {
  type: 'probe';
  /** the probe's timestamp (ns), always a decimal string */
  timestamp: string;
  cpu: number;
  /** the enabled probe (clause on probe) ID */
  epid: number;
  probe: ProbeDesc;
  data: Datum[];
}

/** An aggregation dtrace prints when tracing ends (one not printed by printa()). */
export interface AggregationRecord extends Aggregation {
  type: 'aggregation';
}

/** Data lost: kind is DTrace's drop tag (DTRACEDROP_PRINCIPAL, DTRACEDROP_AGGREGATION, ...). */
export interface DropRecord {
  type: 'drop';
  kind: string;
  /** DTrace's message, as text output prints it */
  message: string;
  count: number;
  /** the CPU whose buffer dropped, or null where DTrace names none */
  cpu: number | null;
}

/** An error on an enabled probe (a fault, or a record the consumer could not format). */
export interface ErrorRecord {
  type: 'error';
  message: string;
  epid: number;
  /** the probe's ID */
  id: number;
  /** the fault ("invalid address (0x0)", ...), null when the error was no fault */
  fault: string | null;
}

/** The last record: tracing has ended with this exit status. */
export interface ExitRecord {
  type: 'exit';
  status: number;
}

export type DRecord = ProbeRecord | AggregationRecord | DropRecord | ErrorRecord | ExitRecord;
