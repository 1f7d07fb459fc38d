// Bundles the CLI into one module (and chunks only exports load): few modules to load keep
// start-up near node's own.
import { build } from 'esbuild';
import { chmodSync, copyFileSync, rmSync } from 'node:fs';

// The OpenTelemetry SDK (-x prometheus, -x otlp) is bundled too, preferring its packages' ES
// modules (mainFields); it is reached by dynamic import() only, so a program that exports nothing
// never evaluates it. A CommonJS module in the bundle may require() node's own modules:
const requireShim = "import { createRequire as __dtraceRequire } from 'node:module'; const require = __dtraceRequire(import.meta.url);";

// what only dynamic import() reaches (the SDK) goes to chunks of its own, so that start-up parses
// only what every run needs (about half of it)
rmSync('dist/chunks', { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli/dtrace.ts' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outdir: 'dist',
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  // run as a command, node starts without NODE_OPTIONS: its --inspect or --inspect-brk would
  // open the inspector (code execution as root for any local user) before dtrace's code runs
  banner: { js: `#!/usr/bin/env -S -u NODE_OPTIONS node\n${requireShim}` },
  mainFields: ['module', 'main'],
  // koffi loads its prebuilt .node binary from its own package
  external: ['koffi'],
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);

// the library (package.json "exports"): one module too, its types beside it (emitted by
// tsconfig.lib.json: index.d.ts needs only records.d.ts)
await build({
  entryPoints: ['src/api/index.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: 'dist/index.js',
  banner: { js: requireShim },
  mainFields: ['module', 'main'],
  external: ['koffi'],
  logLevel: 'warning',
});
for (const f of ['index.d.ts', 'records.d.ts']) copyFileSync(`build/types/api/${f}`, `dist/${f}`);
