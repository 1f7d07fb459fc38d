// Bundles the CLI into one file: one module to load keeps start-up near node's own.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';

await build({
  entryPoints: ['src/cli/dtrace.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  outfile: 'dist/cli.js',
  // run as a command, node starts without NODE_OPTIONS: its --inspect or --inspect-brk would
  // open the inspector (code execution as root for any local user) before dtrace's code runs
  banner: { js: '#!/usr/bin/env -S -u NODE_OPTIONS node' },
  // koffi loads its prebuilt .node binary from its own package
  external: ['koffi'],
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);
