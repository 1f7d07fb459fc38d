// dtrace(1): the command line. Parses options, compiles the programs, lists or runs them,
// and maps every failure to DTrace's message and exit status.                  [cmd/dtrace.c]

import { closeSync, existsSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { ProgramSource } from '../compile/compile.js';
import { disassemble } from '../compile/disassemble.js';
import { programHeader } from '../compile/usdt-header.js';
import { elfMachine, readHead, semaphoreObject, semaphoresOf } from '../compile/usdt-object.js';
import type { ProviderDecl } from '../lang/ast.js';
import { detectPlatform, formatReport } from '../kernel/platform.js';
import { DCompileError } from '../lang/diagnostics.js';
import { DFatalError, errnoMessage } from '../errors.js';
import { Options, OptionError } from '../runtime/options.js';
import { OutputSink } from '../runtime/output.js';
import { openOutputFile } from '../runtime/output-file.js';
import type { Session } from '../session/session.js';
import { Engine, macroEnv, reapLeftovers } from '../api/engine.js';
import { type Exporters, startExporters } from '../api/export.js';
import { runChild } from './child.js';
import { UsageError, getopt } from './getopt.js';
import { listProbes } from './list.js';
import { atExit, closeInspector, onInterrupt } from './signals.js';
import { Targets } from './targets.js';
import { usage } from './usage.js';

const OPTSTRING = '3:6:aAb:Bc:CD:ef:FGhHi:I:lL:m:n:o:p:P:qs:SU:vVwx:X:Z';
const PROG = 'dtrace';
export const VERSION = 'dtrace-ts 0.1.0';
const D_VERSION = 'Oracle D 2.0';

const E_SUCCESS = 0;
const E_ERROR = 1;
const E_USAGE = 2;
/** the status a shell reports for a process SIGPIPE killed (dtrace(1)'s fate when its reader goes) */
const EXIT_SIGPIPE = 128 + 13;

function stderr(s: string): void {
  try {
    writeSync(2, s);
  } catch {
    // stderr gone: nothing to tell
  }
}

/** A program to compile, as dtrace(1) records each -n/-P/-m/-f/-i/-s. */
interface Command {
  kind: 's' | 'n' | 'P' | 'm' | 'f' | 'i';
  arg: string;
}

const LEVEL: Record<string, number> = { n: 3, i: 3, f: 2, m: 1, P: 0, s: 3 };

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0) {
    stderr(usage(PROG));
    return E_USAGE;
  }
  let parsed;
  try {
    parsed = getopt(argv, OPTSTRING, PROG);
  } catch (e) {
    if (e instanceof UsageError) {
      stderr(e.message + '\n');
      stderr(usage(PROG));
      return E_USAGE;
    }
    throw e;
  }
  const testing = process.env._DTRACE_TESTING !== undefined;
  let mode: 'exec' | 'list' | 'version' | 'header' | 'link' = 'exec';
  let modes = 0;
  let exec = true;
  let verbose = 0;
  for (const [c, v] of parsed.opts) {
    if (c === 'l') {
      mode = 'list';
      modes++;
    } else if (c === 'V') {
      mode = 'version';
      modes++;
    } else if (c === 'G' || c === 'h') {
      mode = c === 'h' ? 'header' : 'link';
      modes++;
    } else if (c === 'e') exec = false;
    else if (c === 'v') verbose++;
    else if ((c === '3' && v !== '2') || (c === '6' && v !== '4')) {
      stderr(`${PROG}: illegal option -- ${c}${v}\n`);
      stderr(usage(PROG));
      return E_USAGE;
    } else if (c === '3') {
      // -64 is what dtrace-ts always does; -32 would give D's long and pointers 4 bytes
      stderr(`${PROG}: failed to initialize dtrace: -32 is not supported: dtrace-ts compiles D for the LP64 data model only\n`);
      return E_ERROR;
    } else if (c === 'L') {
      stderr(`${PROG}: failed to set -L ${v}: dtrace-ts does not load D libraries from a directory yet\n`);
      return E_ERROR;
    }
  }
  if (modes > 1) {
    stderr(`${PROG}: only one of the [-GhlV] options can be specified at a time\n`);
    return E_USAGE;
  }
  if (mode === 'version') {
    // -V reports the version of the D language and API, as DTrace's own does
    process.stdout.write(`${PROG}: ${D_VERSION}\n`);
    if (verbose > 0) {
      // -vV: everything about this dtrace, and what the machine in front of it lets it do
      process.stdout.write(`This is ${VERSION}\n\n`);
      process.stdout.write(formatReport(detectPlatform()));
    }
    return E_SUCCESS;
  }

  const opts = new Options();
  opts.setDefault('bufsize', '4m');
  opts.setDefault('aggsize', '4m');
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DTRACE_OPT_') || v === undefined) continue;
    const name = k.slice(11).toLowerCase();
    try {
      opts.set(name, v === '' ? null : v);
    } catch {
      // dtrace_setoptenv ignores bad environment options
    }
  }

  const commands: Command[] = [];
  const targetArgs: Array<{ kind: 'c' | 'p'; arg: string }> = [];
  const macros0 = { target: 0 };
  let outFile: string | null = null;
  // -h and -G read the providers a script defines: its clauses may match nothing here
  let zdefs = mode === 'list' || mode === 'header' || mode === 'link';
  let cpp = false;
  /** -S: each clause's code on standard error, as it compiles */
  let showCode = false;
  const cppDefs: string[] = [];
  const fail = (msg: string): number => {
    stderr(`${PROG}: ${msg}\n`);
    return E_ERROR;
  };
  for (const [c, v] of parsed.opts) {
    const val = v ?? '';
    const setopt = (name: string, arg: string | null, flag: string): number | null => {
      try {
        opts.set(name, arg);
        return null;
      } catch (e) {
        const reason = e instanceof OptionError ? e.reason : String(e);
        return fail(`failed to set ${flag}: ${reason}`);
      }
    };
    let r: number | null = null;
    switch (c) {
      case 'b':
        r = setopt('bufsize', val, `-b ${val}`);
        break;
      case 'C':
        cpp = true;
        break;
      case 'D':
        cppDefs.push(`-D${val}`);
        break;
      case 'U':
        cppDefs.push(`-U${val}`);
        break;
      case 'I':
        cppDefs.push(`-I${val}`);
        break;
      case 'F':
        r = setopt('flowindent', null, '-F');
        break;
      case 'H':
        r = setopt('cpphdrs', null, '-H');
        break;
      case 'q':
        r = setopt('quiet', null, '-q');
        break;
      case 'S':
        showCode = true;
        break;
      case 'w':
        r = setopt('destructive', null, '-w');
        break;
      case 'o':
        outFile = val;
        break;
      case 'x': {
        const eq = val.indexOf('=');
        const name = eq < 0 ? val : val.slice(0, eq);
        const arg = eq < 0 ? null : val.slice(eq + 1);
        if (name === 'cpp') cpp = true;
        if (name === 'define' && arg) cppDefs.push(`-D${arg}`);
        if (name === 'undef' && arg) cppDefs.push(`-U${arg}`);
        if (name === 'incdir' && arg) cppDefs.push(`-I${arg}`);
        if (name === 'zdefs') zdefs = true;
        r = setopt(name, arg, `-x ${name}`);
        break;
      }
      case 'X':
        r = setopt('stdc', val, `-X ${val}`);
        break;
      case 'Z':
        zdefs = true;
        break;
      case 's':
      case 'n':
      case 'P':
      case 'm':
      case 'f':
      case 'i':
        commands.push({ kind: c, arg: val });
        break;
      case 'c':
      case 'p':
        targetArgs.push({ kind: c, arg: val });
        break;
    }
    if (r !== null) return r;
  }

  // before anything privileged: an inspector that a SIGUSR1 sent while node started opened
  closeInspector();
  // -c/-p processes exist before the programs compile: $target names the first
  const targets = new Targets();
  atExit(() => targets.release());
  for (const t of targetArgs) {
    try {
      const pid = t.kind === 'c' ? targets.create(t.arg) : targets.grab(t.arg);
      if (targets.pids.length === 1) macros0.target = pid;
    } catch (e) {
      if (e instanceof DFatalError) return fail(e.message);
      throw e;
    }
  }

  // -G's operands are the objects to link, not macro arguments
  const macros = macroEnv([PROG, ...(mode === 'link' ? [] : parsed.operands)], opts.flag('defaultargs'), macros0.target);
  const engine = new Engine(opts, macros, zdefs, targets.commands);
  const { compiler, registry } = engine;

  // compile every program, in command-line order
  for (const cmd of commands) {
    let src: ProgramSource;
    let desc: string;
    let name: string;
    if (cmd.kind === 's') {
      let text: string;
      try {
        text = readFileSync(cmd.arg, 'latin1');
      } catch (e) {
        return fail(`failed to open ${cmd.arg}: ${errnoMessage(e)}`);
      }
      if (cpp) {
        // DTrace's cppargs (-x cppargs=..., DTRACE_OPT_CPPARGS): more arguments, split at blanks
        const cppArgs = (opts.text.get('cppargs') ?? []).flatMap((a) => a.split(/[ \t\n\r\f\v]+/)).filter((a) => a !== '');
        const r = await runCpp(text, [...cppArgs, ...cppDefs], opts.text.get('stdc')?.[0] === 's');
        if (typeof r !== 'string') return fail(`failed to compile script ${cmd.arg}: ${r.error}`);
        text = r;
      }
      src = { text, fromFile: true, name: cmd.arg, level: 3 };
      macros.args[0] = cmd.arg;
      desc = 'script';
      name = cmd.arg;
    } else {
      let text = cmd.arg;
      if (cmd.kind === 'i') {
        if (!/^\s*[0-9]+/.test(text)) return fail(`invalid probe specifier ${cmd.arg}: invalid probe identifier ${cmd.arg}`);
      }
      if (cmd.kind !== 'n' && cmd.kind !== 'i' && text === '') text = '';
      src = { text, fromFile: false, name: cmd.arg, level: LEVEL[cmd.kind] };
      macros.args[0] = PROG;
      desc = 'description';
      const cut = cmd.arg.search(/[{/;]/);
      name = cut >= 0 ? cmd.arg.slice(0, cut) : cmd.arg;
    }
    try {
      const prog = engine.compile(src);
      if (showCode) for (const c of prog.clauses) stderr(disassemble(c));
      // dtrace announces the match when it enables the program (so not with -e)
      if (mode === 'exec' && exec && !opts.flag('quiet')) {
        stderr(`${PROG}: ${desc} '${name}' matched ${prog.matches} probe${prog.matches === 1 ? '' : 's'}\n`);
      }
    } catch (e) {
      if (e instanceof DCompileError) {
        const head = cmd.kind === 's' ? `failed to compile script ${cmd.arg}` : `invalid probe specifier ${cmd.arg}`;
        return fail(`${head}: ${e.format(opts.flag('errtags'), src.fromFile)}`);
      }
      if (e instanceof DFatalError) return fail(e.message);
      throw e;
    }
  }

  if (mode === 'header' || mode === 'link') {
    const scripts = commands.filter((c) => c.kind === 's').map((c) => c.arg);
    return mode === 'header'
      ? writeHeader(compiler.providerDecls, commands.length, scripts[0] ?? null, outFile)
      : linkObject(compiler.providerDecls, commands.length, scripts[0] ?? null, outFile, parsed.operands);
  }

  reapLeftovers();

  // -o: appended to, as DTrace's fopen(..., "a"); null once the failure is reported
  const openOut = (): number | null => {
    if (outFile === null) return 1;
    try {
      return openOutputFile(outFile);
    } catch (e) {
      fail(`failed to open output file '${outFile}': ${(e as Error).message}`);
      return null;
    }
  };

  if (mode === 'list') {
    const out = openOut();
    if (out === null) return E_ERROR;
    // as dtrace -l says of each description that lists nothing (its status stays 0)
    for (const d of compiler.unmatched) stderr(`${PROG}: failed to match ${d}: No probe matches description\n`);
    const text = listProbes(registry, engine.clauses, commands.length > 0, verbose > 0);
    writeSync(out, text);
    return E_SUCCESS;
  }

  if (!exec) return E_SUCCESS;

  const refusal = engine.refusal(commands.length, (m) => stderr(`${PROG}: ${m}\n`));
  if (refusal !== null) return fail(refusal);

  const outFd = openOut();
  if (outFd === null) return E_ERROR;
  // -x flamegraph=FILE: made (or emptied) now, so that a path that cannot be written is said
  // before tracing rather than after it; written at exit
  let flameFd: number | null = null;
  if (opts.flag('flamegraph')) {
    const path = opts.text.get('flamegraph')?.at(-1) ?? '';
    try {
      flameFd = openSync(path, 'w');
    } catch (e) {
      return fail(`failed to open flame graph file '${path}': ${errnoMessage(e)}`);
    }
  }

  const warn = (m: string) => stderr(`${PROG}: ${m}\n`);
  let session: Session | null = null;
  // as dtrace(1): a reader that went away (EPIPE) ends it as SIGPIPE would; any other write
  // failure is "processing aborted"; either way the kernel is left as it was found
  const outputFailed = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') stderr(`${PROG}: processing aborted: ${errnoMessage(e)}\n`);
    session?.teardown();
    process.exit(e.code === 'EPIPE' ? EXIT_SIGPIPE : E_ERROR);
  };
  const out = new OutputSink(outFd, warn, outputFailed);
  const started = engine.start(out, warn, testing, macros0.target);
  const live = (session = started.session);
  if (showCode) live.showKernelCode = stderr;
  if (flameFd !== null) {
    const fd = flameFd;
    started.rt.flameGraphOut = (svg) => {
      try {
        writeSync(fd, svg);
        closeSync(fd);
      } catch (e) {
        warn(`failed to write flame graph: ${errnoMessage(e)}`);
      }
    };
  }
  if (opts.flag('destructive') && !opts.flag('quiet')) stderr(`${PROG}: allowing destructive actions\n`);

  // -x prometheus, -x otlp: the aggregations served and pushed while tracing, from before BEGIN fires
  let exporters: Exporters | null = null;
  try {
    exporters = await startExporters(started.rt, engine.exportedAggregations(), warn);
  } catch (e) {
    live.teardown();
    return fail((e as Error).message);
  }
  const promSpec = opts.text.get('prometheus')?.[0];
  if (promSpec !== undefined && /(^|:)0$/.test(promSpec)) warn(`serving aggregations at http://${exporters!.address}/metrics`);

  live.onLive = () => targets.resume(() => live.end());
  onInterrupt(() => live.interrupt());
  // whatever ends the process, the kernel is left as it was found
  const cancelTeardown = atExit(() => live.teardown());
  // once more before tracing starts: Node opens the inspector some time after the SIGUSR1
  closeInspector();
  try {
    const status = await live.run();
    return status;
  } catch (e) {
    if (e instanceof DFatalError) return fail(e.message);
    throw e;
  } finally {
    live.teardown();
    await exporters?.close();
    cancelTeardown();
    onInterrupt(null);
  }
}

/** dtrace -h: the header for the providers the scripts define (DMODE_HEADER). */
function writeHeader(providers: ProviderDecl[], programs: number, script: string | null, outFile: string | null): number {
  if (programs === 0) {
    stderr(`${PROG}: -h requires one or more scripts or enabling options\n`);
    return E_USAGE;
  }
  let file = outFile;
  if (file === null) {
    if (programs > 1) {
      stderr(`${PROG}: -h requires an output file if multiple scripts are specified\n`);
      return E_USAGE;
    }
    if (script === null || !script.endsWith('.d')) {
      stderr(`${PROG}: -h requires an output file if no scripts are specified\n`);
      return E_USAGE;
    }
    file = `${basename(script).slice(0, -2)}.h`;
  }
  try {
    writeFileSync(file, programHeader(providers, file));
  } catch (e) {
    stderr(`${PROG}: failed to open header file '${file}': ${errnoMessage(e)}\n`);
    return E_ERROR;
  }
  return E_SUCCESS;
}

/** dtrace -G: the object that holds the semaphores of the providers' probes (DMODE_LINK). */
function linkObject(providers: ProviderDecl[], programs: number, script: string | null, outFile: string | null, objects: string[]): number {
  if (programs === 0) {
    stderr(`${PROG}: -G requires one or more scripts or enabling options\n`);
    return E_USAGE;
  }
  const what = script !== null ? `script ${script}` : 'description';
  const file = outFile ?? (script !== null && script.endsWith('.d') ? `${basename(script).slice(0, -2)}.o` : 'd.out');
  let machine: number | undefined;
  for (const o of objects) {
    let head: Buffer;
    try {
      head = readHead(o);
    } catch (e) {
      stderr(`${PROG}: failed to link ${what}: failed to open ${o}: ${errnoMessage(e)}\n`);
      return E_ERROR;
    }
    const m = elfMachine(head);
    if (m === null) {
      stderr(`${PROG}: failed to link ${what}: ${o} is not an ELF object\n`);
      return E_ERROR;
    }
    machine ??= m;
  }
  try {
    writeFileSync(file, semaphoreObject(semaphoresOf(providers), machine));
  } catch (e) {
    stderr(`${PROG}: failed to link ${what}: failed to open ${file}: ${errnoMessage(e)}\n`);
    return E_ERROR;
  }
  return E_SUCCESS;
}

/**
 * What cpp may take (-C): a script can #include /dev/zero or a file that includes itself twice,
 * so cpp gets a wall-clock limit, an address-space limit (inherited by cc1) and a cap on its
 * output. DTrace has no such limits; a script that needs more than this is not a D script.
 */
export const CPP_LIMITS = { seconds: 10, memoryMB: 512, outputMB: 64 };

const EDT_CPPERR = 'Preprocessor failed to process input program';

/**
 * Runs cpp(1) on a script (-C), as dt_preproc does: the script on standard input, cpp's
 * diagnostics straight to our standard error (dt_preproc names the input /dev/stdin; Node's
 * stdin for a child is a socket, which /dev/stdin cannot open, so cpp reads "-" and a line
 * marker gives the name). Returns the preprocessed text or an error.
 *
 * cpp runs under timeout(1), which puts it and its cc1 in a process group of their own and
 * signals the whole group at the limit (killing cpp alone would leave cc1 running), and under
 * setpriv --pdeathsig, so the group is also signalled if dtrace dies first.
 */
export async function runCpp(
  text: string,
  defs: string[],
  stdcK: boolean,
  limits = CPP_LIMITS,
  diagnostics: 'inherit' | 'ignore' = 'inherit',
): Promise<string | { error: string }> {
  const cppPath = findProgram(['/usr/bin/cpp', '/bin/cpp']);
  if (!cppPath) return { error: 'cpp(1) is not installed: install the cpp package to use -C' };
  // an interpreter line (#!/usr/sbin/dtrace -Cs) would be a bad directive to cpp: dt_preproc
  // skips it but keeps its newline, so line numbers stay right
  if (text.startsWith('#!')) {
    const nl = text.indexOf('\n');
    text = nl < 0 ? '' : text.slice(nl);
  }
  const args = [
    // dt_open.c's definitions; cpp's own stay, but not __GNUC__ (system headers then declare
    // no GNU inline functions), and C99 mode drops the unreserved "linux" and "unix"
    '-E', '-x', 'c', '-D__linux', '-D__unix', '-D__SVR4', '-D__SUNW_D=1', '-U__GNUC__', '-D__SUNW_D_64', '-D__Linux',
    ...defs, '-D__SUNW_D_VERSION=0x02000000', stdcK ? '-traditional-cpp' : '-std=c99', '-',
  ];
  // the memory limit in sh (ulimit -v), inherited by cpp and cc1
  let cmd = ['sh', '-c', `ulimit -v ${limits.memoryMB * 1024} && exec "$0" "$@"`, cppPath, ...args];
  const timeoutPath = findProgram(['/usr/bin/timeout', '/bin/timeout']);
  if (timeoutPath) cmd = [timeoutPath, '-k', '2', String(limits.seconds), ...cmd];
  const setpriv = findProgram(['/usr/bin/setpriv', '/bin/setpriv']);
  if (timeoutPath && setpriv) cmd = [setpriv, '--pdeathsig', 'TERM', '--', ...cmd];
  // in a process group of its own that dies with dtrace, however dtrace ends
  const r = await runChild(cmd[0], cmd.slice(1), {
    // a line marker names the input /dev/stdin, as cpp's messages do under dtrace
    input: Buffer.from('# 1 "/dev/stdin"\n' + text, 'latin1'),
    stderr: diagnostics,
    maxBuffer: limits.outputMB << 20,
    // timeout(1) ends it first (this only backs it up); past the output cap Node sends SIGTERM,
    // which timeout(1) passes on to the group. Without timeout(1) (no coreutils), cpp is killed
    // alone and cc1 ends at its next write into the closed pipe.
    timeout: (limits.seconds + (timeoutPath ? 5 : 0)) * 1000,
  });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOBUFS') return { error: `${EDT_CPPERR}: output limit of ${limits.outputMB} MB exceeded` };
  if (code === 'ETIMEDOUT' || (timeoutPath && (r.status === 124 || r.status === 137))) {
    return { error: `${EDT_CPPERR}: time limit of ${limits.seconds} s exceeded` };
  }
  if (r.error) return { error: `failed to run cpp: ${r.error.message}` };
  if (r.status !== 0) return { error: EDT_CPPERR };
  return r.stdout.toString('latin1');
}

/** The first of these paths that exists. */
function findProgram(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}
