// DTrace options (-x, #pragma D option, setopt()): names, value syntax, defaults.   [dt_options.c]

export const UNSET = -2n;

type Parser = 'runtime' | 'size' | 'rate' | 'strsize' | 'scratch' | 'printsize' | 'pcapsize' | 'cflag' | 'text' | 'ignored' | 'bufpolicy' | 'encoding' | 'bufresize' | 'regs' | 'stdc' | 'version' | 'oformat' | 'hostport' | 'url' | 'stackformat';

interface OptionDef {
  parse: Parser;
  /** compile-time options may not be set by setopt() from within a running program */
  when: 'compile' | 'runtime' | 'dynamic';
  def: bigint;
}

const DEFS: Record<string, OptionDef> = {
  // compile-time
  aggpercpu: { parse: 'cflag', when: 'compile', def: UNSET },
  amin: { parse: 'text', when: 'compile', def: UNSET },
  argref: { parse: 'cflag', when: 'compile', def: UNSET },
  core: { parse: 'text', when: 'compile', def: UNSET },
  cpp: { parse: 'cflag', when: 'compile', def: UNSET },
  cppargs: { parse: 'text', when: 'compile', def: UNSET },
  cpphdrs: { parse: 'cflag', when: 'compile', def: UNSET },
  cpppath: { parse: 'text', when: 'compile', def: UNSET },
  ctypes: { parse: 'text', when: 'compile', def: UNSET },
  defaultargs: { parse: 'cflag', when: 'compile', def: UNSET },
  debug: { parse: 'cflag', when: 'compile', def: UNSET },
  define: { parse: 'text', when: 'compile', def: UNSET },
  disasm: { parse: 'text', when: 'compile', def: UNSET },
  droptags: { parse: 'cflag', when: 'compile', def: UNSET },
  dtypes: { parse: 'text', when: 'compile', def: UNSET },
  empty: { parse: 'cflag', when: 'compile', def: UNSET },
  errtags: { parse: 'cflag', when: 'compile', def: UNSET },
  evaltime: { parse: 'text', when: 'compile', def: UNSET },
  incdir: { parse: 'text', when: 'compile', def: UNSET },
  iregs: { parse: 'regs', when: 'compile', def: UNSET },
  kdefs: { parse: 'cflag', when: 'compile', def: UNSET },
  knodefs: { parse: 'cflag', when: 'compile', def: UNSET },
  late: { parse: 'text', when: 'compile', def: UNSET },
  lazyload: { parse: 'cflag', when: 'compile', def: UNSET },
  ldpath: { parse: 'text', when: 'compile', def: UNSET },
  libdir: { parse: 'text', when: 'compile', def: UNSET },
  linkmode: { parse: 'text', when: 'compile', def: UNSET },
  linktype: { parse: 'text', when: 'compile', def: UNSET },
  modpath: { parse: 'text', when: 'compile', def: UNSET },
  nolibs: { parse: 'cflag', when: 'compile', def: UNSET },
  pgmax: { parse: 'text', when: 'compile', def: UNSET },
  preallocate: { parse: 'text', when: 'compile', def: UNSET },
  procfspath: { parse: 'text', when: 'compile', def: UNSET },
  pspec: { parse: 'cflag', when: 'compile', def: UNSET },
  stdc: { parse: 'stdc', when: 'compile', def: UNSET },
  strip: { parse: 'cflag', when: 'compile', def: UNSET },
  syslibdir: { parse: 'text', when: 'compile', def: UNSET },
  tree: { parse: 'text', when: 'compile', def: UNSET },
  tregs: { parse: 'regs', when: 'compile', def: UNSET },
  udefs: { parse: 'cflag', when: 'compile', def: UNSET },
  undef: { parse: 'text', when: 'compile', def: UNSET },
  unodefs: { parse: 'cflag', when: 'compile', def: UNSET },
  useruid: { parse: 'text', when: 'compile', def: UNSET },
  verbose: { parse: 'cflag', when: 'compile', def: UNSET },
  version: { parse: 'version', when: 'compile', def: UNSET },
  zdefs: { parse: 'cflag', when: 'compile', def: UNSET },
  // run-time (fixed once tracing starts)
  aggsize: { parse: 'size', when: 'runtime', def: UNSET },
  bufsize: { parse: 'size', when: 'runtime', def: 4n * 1024n * 1024n },
  bufpolicy: { parse: 'bufpolicy', when: 'runtime', def: 0n },
  bufresize: { parse: 'bufresize', when: 'runtime', def: 0n },
  cleanrate: { parse: 'rate', when: 'runtime', def: 101010101n },
  cpu: { parse: 'runtime', when: 'runtime', def: UNSET },
  destructive: { parse: 'runtime', when: 'runtime', def: UNSET },
  dynvarsize: { parse: 'size', when: 'runtime', def: 1024n * 1024n },
  grabanon: { parse: 'runtime', when: 'runtime', def: UNSET },
  jstackframes: { parse: 'runtime', when: 'runtime', def: 50n },
  jstackstrsize: { parse: 'size', when: 'runtime', def: 512n },
  lockmem: { parse: 'size', when: 'runtime', def: UNSET },
  maxframes: { parse: 'runtime', when: 'runtime', def: 127n },
  nspec: { parse: 'runtime', when: 'runtime', def: 1n },
  pcapsize: { parse: 'pcapsize', when: 'runtime', def: 128n },
  // DTrace's default: 256 bytes, plus the 8 reserved at the start (dt_open.c)
  scratchsize: { parse: 'scratch', when: 'runtime', def: 256n + 8n },
  specsize: { parse: 'size', when: 'runtime', def: 4n * 1024n * 1024n },
  stackframes: { parse: 'runtime', when: 'runtime', def: 20n },
  statusrate: { parse: 'rate', when: 'runtime', def: 1_000_000_000n },
  strsize: { parse: 'strsize', when: 'runtime', def: 256n },
  ustackframes: { parse: 'runtime', when: 'runtime', def: 100n },
  noresolve: { parse: 'runtime', when: 'runtime', def: UNSET },
  // dtrace-ts: at exit, write a flame graph (SVG) of the stack-keyed aggregations to this file
  flamegraph: { parse: 'text', when: 'runtime', def: UNSET },
  // FreeBSD's output format: text (DTrace's own, the default; FreeBSD calls it none) or json
  oformat: { parse: 'oformat', when: 'runtime', def: 0n },
  // dtrace-ts: serve the aggregations at http://HOST:PORT/metrics (Prometheus' text format)
  prometheus: { parse: 'hostport', when: 'runtime', def: UNSET },
  // dtrace-ts: push the aggregations to an OTLP/HTTP endpoint (JSON), every otlpinterval
  otlp: { parse: 'url', when: 'runtime', def: UNSET },
  otlpinterval: { parse: 'rate', when: 'runtime', def: 0n },
  // dynamic (setopt() may change them while tracing)
  aggrate: { parse: 'rate', when: 'dynamic', def: 0n },
  // illumos's display options: count()/sum() as histograms, quantizations one line per key,
  // bars scaled to the tallest; the characters they draw with (ascii, utf8; unset: by $TERM)
  agghist: { parse: 'runtime', when: 'dynamic', def: UNSET },
  aggpack: { parse: 'runtime', when: 'dynamic', def: UNSET },
  aggzoom: { parse: 'runtime', when: 'dynamic', def: UNSET },
  encoding: { parse: 'encoding', when: 'dynamic', def: UNSET },
  aggsortkey: { parse: 'runtime', when: 'dynamic', def: UNSET },
  aggsortkeypos: { parse: 'runtime', when: 'dynamic', def: UNSET },
  aggsortpos: { parse: 'runtime', when: 'dynamic', def: UNSET },
  aggsortrev: { parse: 'runtime', when: 'dynamic', def: UNSET },
  flowindent: { parse: 'runtime', when: 'dynamic', def: UNSET },
  quiet: { parse: 'runtime', when: 'dynamic', def: UNSET },
  quietresize: { parse: 'runtime', when: 'dynamic', def: UNSET },
  rawbytes: { parse: 'runtime', when: 'dynamic', def: UNSET },
  stackindent: { parse: 'runtime', when: 'dynamic', def: 14n },
  // dtrace-ts: stack-keyed count()/sum() aggregations printed as DTrace does (dtrace, the
  // default) or one folded line per stack, root first (folded), as stackcollapse tools write them
  stackformat: { parse: 'stackformat', when: 'dynamic', def: 0n },
  switchrate: { parse: 'rate', when: 'dynamic', def: 0n },
  printsize: { parse: 'printsize', when: 'dynamic', def: 8192n },
};

/** The D language versions this compiler implements (dt_version.h's list). */
const D_VERSIONS = new Set([
  '1.0', '1.1', '1.2', '1.2.1', '1.2.2', '1.3', '1.4', '1.4.1', '1.5', '1.6', '1.6.1', '1.6.2', '1.6.3',
  '1.6.4', '1.7', '1.7.1', '1.8', '1.8.1', '1.9', '1.9.1', '1.10', '1.11', '1.12', '1.12.1', '1.13', '1.14',
  '1.14.1', '2.0',
]);

export class OptionError extends Error {
  constructor(
    /** "Invalid option name", "Invalid value for specified option", ... (dtrace_errmsg) */
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const BAD_NAME = 'Invalid option name';
export const BAD_VALUE = 'Invalid value for specified option';
export const ACTIVE = 'Operation illegal when tracing is active';
export const BAD_CONTEXT = 'Option cannot be used from within a D program';
const EOVERFLOW = 'Value too large for defined data type';

const UINT64_LIMIT = 1n << 64n;

/**
 * The largest strsize: Apple's DTrace bounds it by dtrace_strsize_max (64 KiB), and Oracle's by
 * the BPF map that holds its string temporaries. Every string, key record and hex dump the
 * consumer handles is strsize bytes, so a larger value is refused as too large for the string
 * type, as Oracle refuses one above UINT_MAX (EOVERFLOW).
 */
export const STRSIZE_MAX = 65536n;

/** strtoull(s, &end, 0): the number and where it stopped. */
function strtoull(s: string): { v: bigint; rest: string; neg: boolean } {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?(.*)$/s.exec(s)!;
  const neg = m[1] === '-';
  const d = m[2];
  if (d === undefined) return { v: 0n, rest: s, neg };
  const v = /^0[xX]/.test(d) ? BigInt(d) : d.length > 1 && d[0] === '0' ? BigInt('0o' + d.slice(1)) : BigInt(d);
  return { v, rest: m[3], neg };
}

function parseRuntime(arg: string | null): bigint {
  if (arg === null) return 0n;
  if (arg === '') return UNSET;
  const lower = arg.toLowerCase();
  for (const [pos, neg] of [
    ['yes', 'no'],
    ['enable', 'disable'],
    ['enabled', 'disabled'],
    ['true', 'false'],
    ['on', 'off'],
    ['set', 'unset'],
  ]) {
    if (lower === pos) return 1n;
    if (lower === neg) return UNSET;
  }
  const { v, rest, neg } = strtoull(arg);
  // strtoull's ERANGE, and values an int64 option cannot hold (dt_opt_runtime)
  if (rest !== '' || neg || v >= UINT64_LIMIT || BigInt.asIntN(64, v) < 0n) throw new OptionError(BAD_VALUE);
  return v;
}

/** dt_optval_parse: sizes with k/m/g/t suffixes. */
export function parseSize(arg: string): bigint {
  let mul = 1n;
  const last = arg[arg.length - 1]?.toLowerCase();
  const units: Record<string, bigint> = { k: 1024n, m: 1024n ** 2n, g: 1024n ** 3n, t: 1024n ** 4n };
  let body = arg;
  if (last !== undefined && units[last] !== undefined) {
    mul = units[last];
    body = arg.slice(0, -1);
  }
  const { v, rest, neg } = strtoull(body);
  if (rest !== '' || neg || body === '' || v >= UINT64_LIMIT) throw new OptionError(BAD_VALUE);
  // the product is an int64 (dt_optval_parse): it wraps, and a negative result is refused
  const size = BigInt.asIntN(64, v * mul);
  if (size < 0n) throw new OptionError(BAD_VALUE);
  return size;
}

const RATE_SUFFIX: Record<string, bigint> = {
  ns: 1n, nsec: 1n, us: 1000n, usec: 1000n, ms: 1_000_000n, msec: 1_000_000n, s: 1_000_000_000n, sec: 1_000_000_000n,
  m: 60_000_000_000n, min: 60_000_000_000n, h: 3_600_000_000_000n, hour: 3_600_000_000_000n,
  d: 86_400_000_000_000n, day: 86_400_000_000_000n, hz: 0n,
};

/** dt_opt_rate: a time interval in ns ("10ms", "5hz", bare numbers are ns). */
export function parseRate(arg: string): bigint {
  const { v, rest, neg } = strtoull(arg);
  if (neg) throw new OptionError(BAD_VALUE);
  if (rest === '') return v;
  const mul = RATE_SUFFIX[rest.toLowerCase()];
  if (mul === undefined) throw new OptionError(BAD_VALUE);
  if (mul === 0n) {
    // a frequency: the interval between events
    if (v === 0n) throw new OptionError(BAD_VALUE);
    return 1_000_000_000n / v;
  }
  return v * mul;
}

export class Options {
  private readonly values = new Map<string, bigint>();
  /** compile-time options with a text value (define, incdir, ...) */
  readonly text = new Map<string, string[]>();
  /** listeners for option changes made while tracing (quiet, switchrate, ...) */
  onChange: ((name: string) => void) | null = null;
  /** changes with every value set: the runtime caches what it reads per event until it does */
  version = 0;
  /** options given a value (by -x, -b, a pragma, setopt(), DTRACE_OPT_*), not left at a default */
  private readonly given = new Set<string>();

  constructor() {
    for (const [k, d] of Object.entries(DEFS)) this.values.set(k, d.def);
  }

  static isKnown(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(DEFS, name);
  }

  /**
   * Sets an option from its text form (-x name=value, #pragma D option, setopt()).
   * `phase` says who asks: the command line and pragmas may set anything; setopt() in a
   * running program only dynamic options.
   */
  set(name: string, arg: string | null, phase: 'command' | 'pragma' | 'running' = 'command'): void {
    const d = DEFS[name];
    if (d === undefined) throw new OptionError(BAD_NAME);
    if (phase === 'running' && d.when !== 'dynamic') {
      throw new OptionError(d.when === 'compile' ? BAD_CONTEXT : ACTIVE);
    }
    let v: bigint;
    switch (d.parse) {
      case 'runtime':
      case 'cflag':
        v = parseRuntime(arg);
        if (d.parse === 'cflag') v = v === UNSET ? UNSET : 1n;
        break;
      case 'size':
        v = arg === null ? 0n : parseSize(arg);
        break;
      case 'scratch':
        v = arg === null ? 0n : parseSize(arg);
        if (v > 0n) v = ((v + 8n + 7n) / 8n) * 8n;
        break;
      case 'strsize':
        if (arg === null) throw new OptionError(BAD_VALUE);
        v = parseSize(arg);
        if (v < 2n) throw new OptionError(BAD_VALUE);
        if (v > STRSIZE_MAX) throw new OptionError(EOVERFLOW);
        break;
      case 'printsize':
        // dt_opt_printsize: out of (0, 64k] means the default; rounded up to 8 bytes
        v = arg === null ? 8192n : parseSize(arg);
        if (v <= 0n || v > 65536n) v = 8192n;
        v = ((v + 7n) / 8n) * 8n;
        break;
      case 'pcapsize':
        // dt_opt_pcapsize: out of (0, 65535] means the default packet size; rounded up to 8
        v = arg === null ? 128n : parseSize(arg);
        if (v <= 0n || v > 65535n) v = 128n;
        v = ((v + 7n) / 8n) * 8n;
        break;
      case 'rate':
        v = arg === null ? 0n : parseRate(arg);
        break;
      case 'bufpolicy':
        if (arg === 'ring') v = 1n;
        else if (arg === 'fill') v = 2n;
        else if (arg === 'switch') v = 0n;
        else throw new OptionError(BAD_VALUE);
        break;
      case 'encoding':
        if (arg === 'ascii') v = 1n;
        else if (arg === 'utf8') v = 2n;
        else throw new OptionError(BAD_VALUE);
        break;
      case 'oformat':
        if (arg === 'text' || arg === 'none') v = 0n;
        else if (arg === 'json') v = 1n;
        else throw new OptionError(BAD_VALUE);
        break;
      case 'stackformat':
        if (arg === 'dtrace') v = 0n;
        else if (arg === 'folded') v = 1n;
        else throw new OptionError(BAD_VALUE);
        break;
      case 'bufresize':
        if (arg === 'auto') v = 0n;
        else if (arg === 'manual') v = 1n;
        else throw new OptionError(BAD_VALUE);
        break;
      case 'regs': {
        // the D machine has 8 registers of each kind (DIF_DIR_NREGS, DIF_DTR_NREGS)
        const n = arg === null ? 0 : parseInt(arg, 10) || 0;
        if (n <= 0 || n > 8) throw new OptionError(BAD_VALUE);
        if (n < 8) throw new OptionError('Insufficient registers to generate code');
        v = BigInt(n);
        break;
      }
      case 'stdc':
        if (arg !== 'a' && arg !== 'c' && arg !== 't' && arg !== 's') throw new OptionError(BAD_VALUE);
        this.text.set('stdc', [arg]);
        v = 1n;
        break;
      case 'version': {
        if (arg === null) throw new OptionError(BAD_VALUE);
        const m = /^([0-9]+)\.([0-9]+)(?:\.([0-9]+))?$/.exec(arg);
        if (!m || Number(m[1]) > 255 || Number(m[2]) > 4095 || Number(m[3] ?? 0) > 4095) {
          throw new OptionError('Version is not properly formatted or is too large');
        }
        const canonical = m[3] === '0' ? `${m[1]}.${m[2]}` : arg;
        if (!D_VERSIONS.has(canonical)) throw new OptionError('Requested version is not supported by compiler');
        this.text.set('version', [canonical]);
        v = 1n;
        break;
      }
      case 'hostport': {
        if (arg === null || parseHostPort(arg) === null) throw new OptionError(BAD_VALUE);
        this.text.set(name, [arg]);
        v = 1n;
        break;
      }
      case 'url': {
        if (arg === null || !validUrl(arg)) throw new OptionError(BAD_VALUE);
        this.text.set(name, [arg]);
        v = 1n;
        break;
      }
      case 'text': {
        const list = this.text.get(name) ?? [];
        list.push(arg ?? '');
        this.text.set(name, list);
        v = 1n;
        break;
      }
      default:
        v = 1n;
    }
    this.values.set(name, v);
    this.given.add(name);
    this.version++;
    if (phase === 'running' && this.onChange) this.onChange(name);
  }

  /** Sets an option's default value (as set() parses it), which isGiven() does not report. */
  setDefault(name: string, arg: string): void {
    this.set(name, arg);
    this.given.delete(name);
  }

  /** Whether an option was given a value rather than left at its default. */
  isGiven(name: string): boolean {
    return this.given.has(name);
  }

  get(name: string): bigint {
    return this.values.get(name) ?? UNSET;
  }

  /** Lowers a size option to what could be had (bufresize=auto). */
  setSize(name: string, v: bigint): void {
    this.values.set(name, v);
    this.version++;
  }

  /** A set boolean-ish option (anything but UNSET). */
  flag(name: string): boolean {
    return this.get(name) !== UNSET;
  }

  num(name: string): number {
    const v = this.get(name);
    return v === UNSET ? -1 : Number(v);
  }
}

/** An http: or https: URL with a host (-x otlp's value). */
export function validUrl(arg: string): boolean {
  try {
    const u = new URL(arg);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * HOST:PORT, [IPv6]:PORT or PORT alone (on 127.0.0.1) as a listening address, or null if it is
 * none (a port of 0 asks the system for a free one).
 */
export function parseHostPort(arg: string): { host: string; port: number } | null {
  const m = /^(?:(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9_.-]*)):)?([0-9]{1,5})$/.exec(arg);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}
