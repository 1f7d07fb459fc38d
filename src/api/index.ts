// The library: compile D, run it, and read what it records as JavaScript values, on the code
// path the dtrace command takes (api/engine.ts, session, runtime with -x oformat=json). Records
// are the JSON schema's objects (doc/json.md, api/records.ts).
//
//   import { compile } from 'dtrace-ts';
//   for await (const r of compile('BEGIN { printf("hi\n"); exit(0); }').run()) console.log(r);

import { writeFileSync } from 'node:fs';
import type { ProgramSource } from '../compile/compile.js';
import { DFatalError, errnoMessage } from '../errors.js';
import { DCompileError } from '../lang/diagnostics.js';
import { OptionError, Options } from '../runtime/options.js';
import { OutputSink } from '../runtime/output.js';
import type { Session } from '../session/session.js';
import { Engine, macroEnv, reapLeftovers } from './engine.js';
import { type Exporters, startExporters } from './export.js';
import type { ExportedAggregation } from './metrics.js';
import type { Runtime } from '../runtime/runtime.js';
import type { DRecord } from './records.js';

export type * from './records.js';

/** A failure, in DTrace's words (the text after "dtrace: "), with DTrace's tag where it has one. */
export class DTraceError extends Error {
  constructor(
    message: string,
    /** the compile error's tag (D_SYNTAX, D_PDESC_ZERO, ...), or null */
    readonly tag: string | null = null,
  ) {
    super(message);
    this.name = 'DTraceError';
  }
}

export interface CompileOptions {
  /** DTrace options, as -x name=value (true: set a flag, false: leave it unset) */
  options?: Record<string, string | number | boolean>;
  /** macro arguments $1, $2, ... */
  args?: string[];
}

export interface RunOptions {
  /** aborting it stops tracing as stop() does */
  signal?: AbortSignal;
  /** what dtrace would print on standard error as "dtrace: MSG" (default: that) */
  onWarning?: (message: string) => void;
  /**
   * How many records may wait to be read (default 16384): past it, dtrace stops reading the
   * kernel's buffers until half of them are read, so the kernel drops what does not fit and the
   * drops come as `drop` records, as with a slow DTrace consumer; memory does not grow.
   */
  highWaterMark?: number;
}

function toError(e: unknown): unknown {
  if (e instanceof DCompileError) return new DTraceError(`failed to compile program: ${e.format(false, true)}`, e.tag);
  if (e instanceof DFatalError) return new DTraceError(e.message);
  return e;
}

/** Compiles a D program (a script's text); throws DTraceError. */
export function compile(program: string, options: CompileOptions = {}): Program {
  const opts = new Options();
  opts.setDefault('bufsize', '4m');
  opts.setDefault('aggsize', '4m');
  for (const [name, value] of Object.entries(options.options ?? {})) {
    if (value === false) continue;
    try {
      opts.set(name, value === true ? null : String(value));
    } catch (e) {
      throw new DTraceError(`failed to set -x ${name}: ${e instanceof OptionError ? e.reason : String(e)}`);
    }
  }
  opts.set('oformat', 'json');
  const engine = new Engine(opts, macroEnv(['dtrace', ...(options.args ?? [])], opts.flag('defaultargs'), 0), false);
  const src: ProgramSource = { text: program, fromFile: true, name: 'program', level: 3 };
  try {
    engine.compile(src);
  } catch (e) {
    throw toError(e);
  }
  return new Program(engine);
}

/** compile(program, options).run(options) */
export function run(program: string, options: CompileOptions & RunOptions = {}): Trace {
  return compile(program, options).run(options);
}

export class Program {
  private ran = false;

  /** @internal */
  constructor(private readonly engine: Engine) {}

  /** how many probes the program matched */
  get matches(): number {
    return this.engine.total;
  }

  /** Enables the probes and starts tracing (once per program); throws DTraceError. */
  run(options: RunOptions = {}): Trace {
    if (this.ran) throw new DTraceError('a program runs once: compile it again');
    this.ran = true;
    const warn = options.onWarning ?? ((m: string) => process.stderr.write(`dtrace: ${m}\n`));
    const refusal = this.engine.refusal(1, warn);
    if (refusal !== null) throw new DTraceError(refusal);
    reapLeftovers();
    return new Trace(this.engine, warn, options.signal, options.highWaterMark);
  }
}

/** The runtime's output, as JSON lines, handed to a Trace record by record. */
class RecordSink extends OutputSink {
  private text = '';

  constructor(
    private readonly deliver: (lines: string) => void,
    warn: (msg: string) => void,
  ) {
    // output-side actions (system(), freopen()) write to standard output, as the command's
    super(1, warn, () => {});
  }

  override write(text: string): void {
    this.text += text;
    if (this.text.length >= 65536) this.flush();
  }

  override flush(): void {
    if (this.text === '') return;
    const t = this.text;
    this.text = '';
    this.deliver(t);
  }
}

/**
 * A running program: an async iterator of its records, ending after the exit record (exit(),
 * stop(), the signal). Records wait in memory until they are read, up to highWaterMark of them
 * (and what one read of the kernel's buffers gives): a reader that falls behind gets drops.
 */
export class Trace implements AsyncIterableIterator<DRecord> {
  private queue: DRecord[] = [];
  private head = 0;
  private wake: (() => void) | null = null;
  private finished = false;
  private failure: unknown = null;
  private stopped = false;
  private readonly session: Session;
  /** dtrace's exit status, once tracing has ended */
  readonly status: Promise<number>;
  /** -x prometheus: where the metrics are served (HOST:PORT), once the server listens */
  metricsAddress: string | null = null;

  private held = false;
  private readonly highWater: number;

  /** @internal */
  constructor(engine: Engine, warn: (msg: string) => void, signal?: AbortSignal, highWaterMark = 16384) {
    this.highWater = Math.max(1, Math.floor(highWaterMark));
    const sink = new RecordSink((t) => this.take(t), warn);
    let session: Session;
    let metrics: { rt: Runtime; aggs: ExportedAggregation[] } | null = null;
    const exported = engine.opts.text.has('prometheus') || engine.opts.text.has('otlp');
    try {
      const started = engine.start(sink, warn, false, 0);
      session = started.session;
      if (exported) metrics = { rt: started.rt, aggs: engine.exportedAggregations() };
      // -x flamegraph=FILE: the SVG is written to FILE when tracing ends, as the command does
      const flame = engine.opts.flag('flamegraph') ? (engine.opts.text.get('flamegraph')?.at(-1) ?? '') : null;
      if (flame !== null) {
        started.rt.flameGraphOut = (svg) => {
          try {
            writeFileSync(flame, svg);
          } catch (e) {
            warn(`failed to write flame graph file '${flame}': ${errnoMessage(e)}`);
          }
        };
      }
    } catch (e) {
      throw toError(e);
    }
    this.session = session;
    const teardown = () => session.teardown();
    process.once('exit', teardown);
    const onAbort = () => this.stop();
    let exporters: Exporters | null = null;
    this.status = (async () => {
      try {
        if (metrics !== null) {
          try {
            exporters = await startExporters(metrics.rt, metrics.aggs, warn);
          } catch (e) {
            throw new DTraceError((e as Error).message);
          }
          this.metricsAddress = exporters?.address ?? null;
        }
        return await session.run();
      } catch (e) {
        this.failure = toError(e);
        return 1;
      } finally {
        session.teardown();
        await exporters?.close();
        process.removeListener('exit', teardown);
        signal?.removeEventListener('abort', onAbort);
        this.finished = true;
        this.wake?.();
      }
    })();
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
  }

  private take(text: string): void {
    let at = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', at)) {
      if (nl > at) this.queue.push(JSON.parse(text.slice(at, nl)) as DRecord);
      at = nl + 1;
    }
    if (!this.held && this.queue.length - this.head >= this.highWater) {
      this.held = true;
      this.session.hold(true);
    }
    this.wake?.();
  }

  /** how many records wait to be read */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Stops tracing as Ctrl-C stops dtrace: END fires, then the aggregations and the exit record come. */
  stop(): void {
    if (this.stopped || this.finished) return;
    this.stopped = true;
    this.session.interrupt();
  }

  async next(): Promise<IteratorResult<DRecord>> {
    for (;;) {
      if (this.head < this.queue.length) {
        const value = this.queue[this.head++]!;
        if (this.held && this.queue.length - this.head <= this.highWater >> 1) {
          this.held = false;
          this.session.hold(false);
        }
        if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        return { value, done: false };
      }
      if (this.failure !== null) {
        const f = this.failure;
        this.failure = null;
        throw f;
      }
      if (this.finished) return { value: undefined, done: true };
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  /** Leaving a for-await loop early stops tracing; the records not read are dropped. */
  async return(): Promise<IteratorResult<DRecord>> {
    this.stop();
    await this.status;
    this.queue = [];
    this.head = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Every record until the end, in an array. */
  async collect(): Promise<DRecord[]> {
    const all: DRecord[] = [];
    for await (const r of this) all.push(r);
    return all;
  }
}
