// The dtrace executable: runs main() and turns anything unexpected into a one-line message.

// first: its signal handlers and the inspector's closing come before anything else runs
import './signals.js';
import { writeSync } from 'node:fs';
import { main } from './main.js';

// BEGIN and END fire in dtrace itself: its execname is "dtrace", as in DTrace
process.title = 'dtrace';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    writeSync(2, `dtrace: internal error: ${msg}\n`);
    if (process.env.DTRACE_TS_DEBUG) writeSync(2, `${(err as Error).stack}\n`);
    process.exit(1);
  },
);
