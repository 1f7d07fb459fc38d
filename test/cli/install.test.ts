// Installed like a tool: npm pack, npm install -g into a temporary prefix, then dtrace on PATH
// and its manual page.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { root } from '../live/harness.js';

const work = mkdtempSync(join(tmpdir(), 'dtrace-ts-install-'));
after(() => rmSync(work, { recursive: true, force: true }));
const npm = spawnSync('npm', ['--version'], { encoding: 'latin1' }).status === 0;

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(cmd, args, { cwd: work, encoding: 'latin1', env, timeout: 120_000 });
}

test('npm pack + npm install -g: dtrace on PATH, man dtrace', { skip: npm ? false : 'npm is not installed' }, () => {
  const pack = sh('npm', ['pack', root, '--silent']);
  assert.equal(pack.status, 0, pack.stderr);
  const tarball = join(work, pack.stdout.trim().split('\n').pop()!);
  const prefix = join(work, 'prefix');
  const install = sh('npm', ['install', '-g', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund']);
  assert.equal(install.status, 0, install.stderr);

  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH}`, MANPATH: join(prefix, 'share', 'man') };
  const v = sh('dtrace', ['-V'], env);
  assert.equal(v.stdout, 'dtrace: Oracle D 2.0\n', v.stderr);
  // the installed dtrace traces (its FFI, for BPF, came with it)
  const run = sh('dtrace', ['-qn', 'BEGIN { printf("installed\\n"); exit(0); }'], env);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'installed\n\n');

  const page = join(prefix, 'share', 'man', 'man1', 'dtrace.1');
  assert.ok(existsSync(page), 'the page is installed where man looks');
  if (spawnSync('man', ['--version']).status !== 0) return;
  assert.equal(sh('man', ['-w', 'dtrace'], env).stdout.trim().endsWith('dtrace.1'), true);
  const shown = sh('man', ['-l', page], { ...env, MANWIDTH: '100', MAN_KEEP_FORMATTING: '', MANPAGER: 'cat', PAGER: 'cat' });
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, /^DTRACE\(1\)/);
  const between = (from: string, to: string) => shown.stdout.slice(shown.stdout.indexOf(`\n${from}\n`), shown.stdout.indexOf(`\n${to}\n`));
  const options = between('OPTIONS', 'OPTIONS FOR -x');
  const providers = between('PROVIDERS', 'THE D LANGUAGE');
  // every option the command takes has its paragraph
  for (const opt of ['-b', '-c', '-C', '-D', '-e', '-f', '-F', '-H', '-i', '-I', '-l', '-m', '-n', '-o', '-p', '-P', '-q', '-s', '-S', '-U', '-v', '-V', '-w', '-x', '-X', '-Z']) {
    assert.match(options, new RegExp(`^ {7}${opt}\\b`, 'm'), `${opt} is described`);
  }
  for (const provider of ['dtrace', 'profile', 'syscall', 'fbt', 'sdt', 'proc', 'sched']) {
    assert.match(providers, new RegExp(`^ {7}${provider}\\b`, 'm'), `the ${provider} provider is described`);
  }
  const lint = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', page], { encoding: 'latin1' });
  if (lint.status === 0) assert.equal(lint.stderr, '', 'groff has no warnings');
});

test("npm pack + npm install: import { ... } from 'dtrace-ts' works, typed", { skip: npm ? false : 'npm is not installed' }, () => {
  const pack = sh('npm', ['pack', root, '--silent', '--json']);
  assert.equal(pack.status, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info.files.map((f) => f.path);
  // what package.json's exports and types point at is in the tarball
  for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/records.d.ts', 'dist/cli.js']) assert.ok(files.includes(f), `${f} is packed`);
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user', version: '1.0.0', type: 'module', private: true }));
  const install = spawnSync('npm', ['install', join(work, info.filename), '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, encoding: 'latin1', timeout: 120_000 });
  assert.equal(install.status, 0, install.stderr);
  const code = `import { run, DTraceError } from 'dtrace-ts';
const t = run('BEGIN { printf("lib %d", 1); @n = count(); exit(0); }');
const out: string[] = [];
for await (const r of t) {
  if (r.type === 'probe') for (const d of r.data) if (d.action === 'printf') out.push(d.text);
  if (r.type === 'aggregation') out.push(r.function + ' ' + String(r.entries[0].value));
}
console.log(out.join(','), await t.status, new DTraceError('x', 'D_SYNTAX').tag);
`;
  writeFileSync(join(project, 'use.mts'), code);
  // the types: the installed package's .d.ts check a strict user program
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (existsSync(tsc)) {
    const check = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), 'use.mts'], { cwd: project, encoding: 'latin1' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  }
  writeFileSync(join(project, 'use.mjs'), code.replace('const out: string[] = [];', 'const out = [];'));
  const r = spawnSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'latin1', timeout: 20_000 });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'lib 1,count 1 0 D_SYNTAX\n');
});
