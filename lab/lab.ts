// The platform lab: boots other kernels, and a real Xen PV guest, under qemu's software
// emulation, with dtrace-ts and its platform tests (test/platform) in an initramfs, and
// reports what passed. `npm run lab` runs every platform; `npm run lab -- NAME` one of them.
// Everything it needs comes from Debian's archive (apt-get download) into lab/cache.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Initramfs } from './initramfs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(ROOT, 'lab', 'cache');
/** software emulation is slow: a platform's whole run may take this long */
const PLATFORM_TIMEOUT_MS = 15 * 60_000;
/**
 * The guest's own deadline (seconds of its uptime) for its benchmarks: they get what the tests
 * left of the platform's time, less a margin for what the guest's uptime does not see (qemu and
 * Xen starting) and for powering off. A benchmark is cut short; it never fails the run.
 */
const GUEST_DEADLINE_S = PLATFORM_TIMEOUT_MS / 1000 - 150;

interface Kit {
  vmlinuz: string;
  kernelRelease: string;
  xen: string;
  initrd: string;
}

interface Platform {
  name: string;
  what: (kit: Kit) => string;
  qemuArgs: (kit: Kit) => string[];
}

/** Guest kernel options: quiet; kmsg unthrottled (the results travel through it); the platform's name for the tests. */
const guestOptions = (name: string) => `panic=-1 quiet printk.devkmsg=on DTRACE_LAB=${name} LAB_DEADLINE=${GUEST_DEADLINE_S}`;

/**
 * One host thread runs every vCPU in turn. With a thread per vCPU (qemu's default), guests
 * locked up now and then, with or without dtrace running: a Xen PV dom0 while booting
 * ("soft lockup - CPU#0 stuck" in a kworker), or a process enabling tracing waiting on CPU 0
 * ("rcu_preempt kthread timer wakeup didn't happen"): a cross-CPU call or timer lost.
 */
const TCG = ['-accel', 'tcg,thread=single'];

const PLATFORMS: Platform[] = [
  {
    name: 'linux-6.1',
    what: (k) => `Linux ${k.kernelRelease}, 2 CPUs, qemu (TCG)`,
    qemuArgs: (k) => [
      ...TCG, '-m', '1024', '-smp', '2', '-nographic', '-no-reboot',
      '-kernel', k.vmlinuz, '-initrd', k.initrd,
      '-append', `console=ttyS0 ${guestOptions('linux-6.1')}`,
    ],
  },
  {
    name: 'xen-pv',
    what: (k) => `Xen 4.17, Linux ${k.kernelRelease} as PV dom0, 2 CPUs, qemu (TCG)`,
    // -cpu max crashes the PV dom0 early; qemu64 boots it
    qemuArgs: (k) => [
      ...TCG, '-cpu', 'qemu64', '-m', '2048', '-smp', '2', '-nographic', '-no-reboot',
      '-kernel', k.xen,
      '-append', 'console=com1 dom0_mem=1536M dom0_max_vcpus=2 guest_loglvl=all',
      '-initrd', `${k.vmlinuz} console=hvc0 earlyprintk=xen ${guestOptions('xen-pv')},${k.initrd}`,
    ],
  },
];

function log(msg: string): void {
  process.stdout.write(`lab: ${msg}\n`);
}

function run(cmd: string, args: string[], cwd?: string): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  return { ok: r.status === 0, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

let aptUpdated = false;

function aptGet(args: string[], cwd?: string): void {
  let r = run('apt-get', args, cwd);
  if (!r.ok && !aptUpdated) {
    // a fresh machine may have no package lists yet
    aptUpdated = true;
    run('apt-get', ['update', '-qq']);
    r = run('apt-get', args, cwd);
  }
  if (!r.ok) throw new Error(`apt-get ${args.join(' ')} failed:\n${r.out}`);
}

function ensureQemu(): void {
  if (run('sh', ['-c', 'command -v qemu-system-x86_64']).ok) return;
  log('installing qemu-system-x86 (apt-get)');
  aptGet(['install', '-y', '-qq', '--no-install-recommends', 'qemu-system-x86']);
}

/** A Debian package unpacked into the cache (downloaded once). */
function unpacked(pkg: string): string {
  const dir = join(CACHE, 'pkgs', pkg);
  if (existsSync(join(dir, '.done'))) return dir;
  const debs = join(CACHE, 'debs');
  mkdirSync(debs, { recursive: true });
  let deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!deb) {
    log(`downloading ${pkg}`);
    aptGet(['download', '-qq', pkg], debs);
    deb = readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  }
  mkdirSync(dir, { recursive: true });
  const r = run('dpkg-deb', ['-x', join(debs, deb), dir]);
  if (!r.ok) throw new Error(`dpkg-deb -x ${deb} failed:\n${r.out}`);
  writeFileSync(join(dir, '.done'), deb);
  return dir;
}

/** The current Debian cloud kernel's package (what linux-image-cloud-amd64 depends on). */
function cloudKernelPackage(): string {
  const find = () => /Depends: (linux-image-[\w.-]+-cloud-amd64)\b/.exec(run('apt-cache', ['depends', 'linux-image-cloud-amd64']).out)?.[1];
  let pkg = find();
  if (!pkg && !aptUpdated) {
    aptUpdated = true;
    run('apt-get', ['update', '-qq']);
    pkg = find();
  }
  if (!pkg) throw new Error('no Debian cloud kernel package found (apt-cache depends linux-image-cloud-amd64)');
  return pkg;
}

/** The shared libraries a binary loads (ldd), the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const out = run('ldd', [binary]).out;
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function buildInitramfs(busybox: string): string {
  const img = new Initramfs();
  img.file('init', readFileSync(join(ROOT, 'lab', 'init.sh')), 0o755);
  img.copy(busybox, 'bin/busybox');
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'root', 'etc']) img.dir(d);
  img.copy(process.execPath, 'usr/bin/node');
  for (const lib of sharedLibraries(process.execPath)) img.copy(lib, lib.slice(1));
  // the project as installed: the bundled command, its one dependency, the platform tests
  img.copy(join(ROOT, 'package.json'), 'project/package.json');
  img.tree(join(ROOT, 'dist'), 'project/dist');
  img.tree(join(ROOT, 'build', 'test', 'platform'), 'project/build/test/platform');
  img.copy(join(ROOT, 'build', 'bench', 'fbt.js'), 'project/build/bench/fbt.js');
  img.tree(join(ROOT, 'build', 'test', 'live'), 'project/build/test/live', (n) => n.endsWith('.test.js'));
  img.tree(join(ROOT, 'node_modules', 'koffi'), 'project/node_modules/koffi', (n) => n === 'doc' || n === 'vendor');
  img.tree(join(ROOT, 'node_modules', '@koromix'), 'project/node_modules/@koromix');
  const path = join(CACHE, 'initrd.gz');
  writeFileSync(path, img.build());
  return path;
}

function prepare(): Kit {
  ensureQemu();
  const kernelPkg = cloudKernelPackage();
  const kernelDir = unpacked(kernelPkg);
  const vmlinuz = readdirSync(join(kernelDir, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${kernelPkg} has no boot/vmlinuz-*`);
  const xenDir = unpacked('xen-hypervisor-4.17-amd64');
  const xen = join(CACHE, 'xen-4.17');
  if (!existsSync(xen)) writeFileSync(xen, gunzipSync(readFileSync(join(xenDir, 'boot', 'xen-4.17-amd64.gz'))));
  const busybox = join(unpacked('busybox-static'), 'bin', 'busybox');
  log('building the initramfs (busybox, node, dtrace-ts, test/platform)');
  return {
    vmlinuz: join(kernelDir, 'boot', vmlinuz),
    kernelRelease: vmlinuz.slice('vmlinuz-'.length),
    xen,
    initrd: buildInitramfs(busybox),
  };
}

interface Outcome {
  passed: number;
  failed: number;
  seconds: number;
  problems: string[];
}

/** Boots one platform and collects the TAP lines its init reports ("LAB: ..."). */
function boot(p: Platform, kit: Kit): Promise<Outcome> {
  const started = Date.now();
  const consoleLog: string[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  let passed = -1;
  let failed = -1;
  let done = false;
  let yaml = false;
  const onLine = (raw: string) => {
    const line = raw.replace(/\r/g, '');
    consoleLog.push(line);
    const m = /(\[\s*[\d.]+\]\s*)?LAB: (.*)$/.exec(line);
    // under Xen the console may repeat a line: the kernel's timestamp tells repeats apart
    if (!m || seen.has(line)) return;
    seen.add(line);
    const text = m[2];
    const summary = /^# (pass|fail) (\d+)$/.exec(text);
    if (summary) {
      if (summary[1] === 'pass') passed = Number(summary[2]);
      else failed = Number(summary[2]);
    }
    if (text === 'DONE') done = true;
    if (/^BOOTED|^LEFT|^BENCH/.test(text)) log(`${p.name}: ${text}`);
    // each test's line, and a failure's details
    if (/^\s*(not )?ok \d+/.test(text) && !/^\s{8,}/.test(text)) {
      process.stdout.write(`  ${p.name}: ${text.trim()}\n`);
      yaml = text.trimStart().startsWith('not ok');
    } else if (yaml && /^\s+(---|\.\.\.|\w+:|\S)/.test(text)) {
      process.stdout.write(`  ${p.name}:     ${text}\n`);
      if (text.trim() === '...') yaml = false;
    }
    if (text.startsWith('LEFT') && !/^LEFT instances=\s*kprobes=0\s*$/.test(text)) problems.push(`left behind: ${text}`);
  };
  return new Promise((resolve) => {
    const q = spawn('qemu-system-x86_64', p.qemuArgs(kit), { stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    const take = (b: Buffer) => {
      pending += b.toString('latin1');
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
    };
    q.stdout.on('data', take);
    q.stderr.on('data', take);
    const timer = setTimeout(() => {
      problems.push(`timed out after ${PLATFORM_TIMEOUT_MS / 60_000} minutes`);
      q.kill('SIGKILL');
    }, PLATFORM_TIMEOUT_MS);
    q.on('close', (code) => {
      clearTimeout(timer);
      if (pending !== '') onLine(pending);
      writeFileSync(join(CACHE, `${p.name}.console.log`), consoleLog.join('\n'));
      if (!done) problems.push(`the guest did not finish (qemu exit ${code}; console: lab/cache/${p.name}.console.log)`);
      if (passed < 0 || failed < 0) problems.push('no test summary came back');
      resolve({
        passed: Math.max(0, passed),
        failed: Math.max(0, failed) + (problems.length > 0 ? 1 : 0),
        seconds: (Date.now() - started) / 1000,
        problems,
      });
    });
  });
}

async function main(): Promise<number> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((w) => !PLATFORMS.some((p) => p.name === w));
  if (unknown.length > 0) {
    process.stderr.write(`lab: no platform ${unknown.join(', ')} (there are: ${PLATFORMS.map((p) => p.name).join(', ')})\n`);
    return 2;
  }
  if (process.geteuid && process.geteuid() !== 0) {
    process.stderr.write('lab: needs root (apt-get download and install)\n');
    return 2;
  }
  mkdirSync(CACHE, { recursive: true });
  let kit: Kit;
  try {
    kit = prepare();
  } catch (e) {
    process.stderr.write(`lab: ${(e as Error).message}\n`);
    return 1;
  }
  const chosen = wanted.length > 0 ? PLATFORMS.filter((p) => wanted.includes(p.name)) : PLATFORMS;
  const lines: string[] = [];
  let failures = 0;
  for (const p of chosen) {
    log(`${p.name}: booting ${p.what(kit)}`);
    const o = await boot(p, kit);
    for (const problem of o.problems) log(`${p.name}: ${problem}`);
    failures += o.failed;
    log(`${p.name}: ${o.seconds.toFixed(0)} s`);
    lines.push(`lab ${p.name}: ${o.passed} passed, ${o.failed} failed`);
    process.stdout.write(`${lines[lines.length - 1]}\n`);
  }
  if (chosen.length > 1) process.stdout.write(`\n${lines.join('\n')}\n`);
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main();
