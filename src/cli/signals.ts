// Signals, and Node's inspector. Imported first by the dtrace executable, so that its handlers
// are in place before anything else runs.
//
// DTrace stops tracing on SIGINT and SIGTERM (and dtrace-ts on SIGHUP too): END fires and the
// aggregations print. Every other signal that ends a process ends DTrace by its default action,
// and the kernel drops DTrace's state with its file descriptors; ours is in tracefs, which keeps
// it, and in child processes. So every such signal here removes what dtrace created (atExit),
// then ends dtrace by that same signal: its parent sees what DTrace's parent would see.
//
// SIGUSR1 is one of them. Left to Node, it opens the inspector on 127.0.0.1:9229, through which
// any local user could run code in this root process; a listener of our own replaces Node's.
// An inspector opened before that (by --inspect in node's flags or NODE_OPTIONS, or a SIGUSR1
// sent while node was starting) is closed.

import * as inspector from 'node:inspector';
import { writeSync } from 'node:fs';
import { constants } from 'node:os';

/** Catchable signals whose default action ends the process. Not here: SIGSEGV, SIGBUS, SIGFPE
 *  and SIGILL (a real fault cannot be resumed into JavaScript), SIGPIPE and SIGXFSZ (Node
 *  ignores them: writes fail with EPIPE and EFBIG instead). */
export const FATAL_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTRAP', 'SIGABRT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM',
  'SIGSTKFLT', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPWR', 'SIGSYS',
];

/** The signals that stop tracing the DTrace way while a session runs. */
const INTERRUPTS = new Set<NodeJS.Signals>(['SIGINT', 'SIGTERM', 'SIGHUP']);

const cleanups = new Set<() => void>();
let interruptHandler: (() => void) | null = null;

function runCleanups(): void {
  for (const f of [...cleanups]) {
    cleanups.delete(f);
    try {
      f();
    } catch {
      // the others still run
    }
  }
}

/** Runs `fn` when dtrace ends, however: exit, error or signal. Returns a function that cancels it. */
export function atExit(fn: () => void): () => void {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** While a session runs, SIGINT, SIGTERM and SIGHUP call `fn` instead of ending dtrace; null ends that. */
export function onInterrupt(fn: (() => void) | null): void {
  interruptHandler = fn;
}

function onSignal(sig: NodeJS.Signals): void {
  closeInspector();
  if (interruptHandler !== null && INTERRUPTS.has(sig)) interruptHandler();
  else die(sig);
}

/** Removes what dtrace created, then ends it by `sig`'s default action. */
function die(sig: NodeJS.Signals): void {
  runCleanups();
  // without a listener, libuv puts back the default action (not Node's inspector trigger)
  process.removeListener(sig, onSignal);
  process.kill(process.pid, sig);
  // not reached: the default action of every signal here ends the process
  process.exit(128 + constants.signals[sig]);
}

/** Closes Node's inspector if something opened it (it must never be reachable in dtrace). */
export function closeInspector(): void {
  const url = inspector.url();
  if (url === undefined) return;
  inspector.close();
  const where = /^ws:\/\/([^/]+)/.exec(url)?.[1] ?? url;
  try {
    writeSync(2, `dtrace: closed the Node.js inspector on ${where}: through it, any local user could run code in dtrace\n`);
  } catch {
    // stderr gone
  }
}

// closed first: Node warns about a SIGPROF listener while the inspector is open
closeInspector();
for (const sig of FATAL_SIGNALS) process.on(sig, onSignal);
process.on('exit', runCleanups);
// a SIGUSR1 that came while node was starting opens the inspector a little later
setImmediate(closeInspector);
