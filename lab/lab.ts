// The platform lab: boots other kernels, and a real Xen PV guest, under qemu's software
// emulation, with dtrace-ts and its platform tests (test/platform) in an initramfs, and
// reports what passed. `npm run lab` runs every platform; `npm run lab -- NAME` one of them.
// Everything it needs comes from Debian's archive (apt-get download) into lab/cache.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { labTarget } from '../test/platform/programs.js';
import { Initramfs } from './initramfs.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE = join(ROOT, 'lab', 'cache');
/** software emulation is slow: a platform's whole run may take this long (unless it says otherwise) */
const PLATFORM_TIMEOUT_MS = 15 * 60_000;
/**
 * The guest's own deadline (seconds of its uptime) for its benchmarks: they get what the tests
 * left of the platform's time, less a margin for what the guest's uptime does not see (qemu and
 * Xen starting, and a dom0 before its domU) and for powering off. A benchmark is cut short; it
 * never fails the run.
 */
/**
 * The benchmarks' own budget in each guest (seconds), within that deadline: figures, not
 * tests; every platform of a bare `npm run lab` must fit in CI's 45 minutes.
 */
const BENCH_SECONDS = 120;
const guestDeadline = (p: Platform) => ((p.timeoutMs ?? PLATFORM_TIMEOUT_MS) - (p.unseenMs ?? 150_000)) / 1000;

interface Kit {
  vmlinuz: string;
  kernelRelease: string;
  xen: string;
  initrd: string;
  /** the real-time kernel and an initramfs with its modules (the platforms of flavour 'rt') */
  rt?: { vmlinuz: string; kernelRelease: string; initrd: string };
  /** xen-domu's dom0 */
  dom0?: Dom0;
}

/**
 * xen-domu's dom0 runs Debian's generic kernel of the same version: the cloud kernel is built
 * without CONFIG_XEN_DOM0, so as Xen's domain 0 it runs unprivileged (no xenstore, no toolstack).
 */
interface Dom0 {
  vmlinuz: string;
  kernelRelease: string;
  /** busybox, Xen's toolstack and this kernel's modules for it, the domU's kernel, initramfs and configuration */
  initrd: string;
}

interface Platform {
  name: string;
  /** its CPUs (the tests check dtrace sees as many) */
  cpus: number;
  /** the Debian kernel it boots, if not the cloud kernel: 'rt' (PREEMPT_RT, same version) */
  flavour?: 'rt';
  what: (kit: Kit, self: Platform) => string;
  qemuArgs: (kit: Kit, self: Platform) => string[];
  /** this platform's own time limit (default PLATFORM_TIMEOUT_MS) */
  timeoutMs?: number;
  /** the part of that time the test guest's uptime does not see (default 150 s) */
  unseenMs?: number;
  /** the Xen PV domU (lab/xen-dom0.sh starts it) */
  domU?: boolean;
}

/** Guest kernel options: quiet; kmsg unthrottled (the results travel through it); the platform's name for the tests. */
const guestOptions = (p: Platform) => `panic=-1 quiet printk.devkmsg=on DTRACE_LAB=${p.name} LAB_CPUS=${p.cpus} LAB_DEADLINE=${guestDeadline(p)} LAB_BENCH=${BENCH_SECONDS}`;

/**
 * One host thread runs every vCPU in turn. With a thread per vCPU (qemu's default), guests
 * locked up now and then, with or without dtrace running: a Xen PV dom0 while booting
 * ("soft lockup - CPU#0 stuck" in a kworker), or a process enabling tracing waiting on CPU 0
 * ("rcu_preempt kthread timer wakeup didn't happen"): a cross-CPU call or timer lost.
 */
const TCG = ['-accel', 'tcg,thread=single'];

const PLATFORMS: Platform[] = [
  {
    // the seeds' multi-CPU lock-ups wanted more than 2 CPUs
    name: 'linux-6.1',
    cpus: 4,
    what: (k, self) => `Linux ${k.kernelRelease}, ${self.cpus} CPUs, qemu (TCG)`,
    qemuArgs: (k, self) => [
      ...TCG, '-m', '1024', '-smp', String(self.cpus), '-nographic', '-no-reboot',
      '-kernel', k.vmlinuz, '-initrd', k.initrd,
      '-append', `console=ttyS0 ${guestOptions(self)}`,
    ],
  },
  {
    // Debian's PREEMPT_RT flavour of the same kernel: sleeping spinlocks, threaded interrupts
    name: 'linux-6.1-rt',
    cpus: 2,
    flavour: 'rt',
    what: (k, self) => `Linux ${k.rt!.kernelRelease} (PREEMPT_RT), ${self.cpus} CPUs, qemu (TCG)`,
    qemuArgs: (k, self) => [
      ...TCG, '-m', '1024', '-smp', String(self.cpus), '-nographic', '-no-reboot',
      '-kernel', k.rt!.vmlinuz, '-initrd', k.rt!.initrd,
      '-append', `console=ttyS0 ${guestOptions(self)}`,
    ],
  },
  {
    name: 'xen-pv',
    cpus: 2,
    what: (k, self) => `Xen 4.17, Linux ${k.kernelRelease} as PV dom0, ${self.cpus} CPUs, qemu (TCG)`,
    // -cpu max crashes the PV dom0 early; qemu64 boots it
    qemuArgs: (k, self) => [
      ...TCG, '-cpu', 'qemu64', '-m', '2048', '-smp', '2', '-nographic', '-no-reboot',
      '-kernel', k.xen,
      '-append', 'console=com1 dom0_mem=1536M dom0_max_vcpus=2 guest_loglvl=all',
      '-initrd', `${k.vmlinuz} console=hvc0 earlyprintk=xen ${guestOptions(self)},${k.initrd}`,
    ],
    // its 30 tests took 12 of the 15 minutes on a loaded host (the PV kernel under Xen under TCG
    // is the slowest of the three): room, which an idle host does not use
    timeoutMs: 20 * 60_000,
  },
  {
    // EC2's own shape: an unprivileged PV guest that a dom0's toolstack (xl) created, with only
    // Xen's paravirtual console. dom0 (1 vCPU) runs lab/xen-dom0.sh; the domU lab/init.sh.
    name: 'xen-domu',
    cpus: 2,
    what: (k, self) => `Xen 4.17, Linux ${k.kernelRelease} as PV domU (${DOMU_MIB} MiB, ${self.cpus} vCPUs) created by xl in a PV dom0 (Linux ${k.dom0!.kernelRelease}), 2 CPUs, qemu (TCG)`,
    qemuArgs: (k) => [
      ...TCG, '-cpu', 'qemu64', '-m', '3072', '-smp', '2', '-nographic', '-no-reboot',
      '-kernel', k.xen,
      '-append', 'console=com1 dom0_mem=768M,max:768M dom0_max_vcpus=1 guest_loglvl=all bootscrub=0',
      '-initrd', `${k.dom0!.vmlinuz} console=hvc0 earlyprintk=xen panic=-1 quiet printk.devkmsg=on,${k.dom0!.initrd}`,
    ],
    // its 22 tests took 16 minutes on a loaded host (Xen, a dom0 and the domU under TCG)
    timeoutMs: 30 * 60_000,
    // Xen and dom0 boot, and xl builds the domU, before the domU's uptime starts
    unseenMs: 300_000,
    domU: true,
  },
];

/** the domU's memory: what the 3 GiB machine has left beside Xen and dom0's 768 MiB */
const DOMU_MIB = 1792;

/** Debian's Xen toolstack: the packages of what dom0 runs (xl, xenstored, xenconsoled) and the libraries they load. */
const XEN_TOOLSTACK = [
  'xen-utils-4.17', 'libxenmisc4.17', 'libxenstore4', 'libxencall1', 'libxenevtchn1', 'libxenforeignmemory1',
  'libxengnttab1', 'libxentoollog1', 'libxentoolcore1', 'libxendevicemodel1', 'libxenhypfs1', 'libyajl2',
];
const XEN_BIN = 'usr/lib/xen-4.17/bin';
const XEN_PROGRAMS = ['xl', 'xenstored', 'xenconsoled', 'xen-init-dom0', 'libxl-save-helper'];
/** dom0's device drivers for the toolstack (modules in Debian's cloud kernel), in load order (xenfs needs xen-privcmd), with their options */
const XEN_MODULES = ['xen-privcmd', 'xenfs/xenfs', 'xen-evtchn', 'xen-gntdev', 'xen-gntalloc'];

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
function sharedLibraries(binary: string, libraryPath?: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8', env: libraryPath ? { ...process.env, LD_LIBRARY_PATH: libraryPath } : process.env });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** The guest kernel's modules the tests load (lab/init.sh insmods them): loop devices for io. */
const GUEST_MODULES = ['block/loop'];

function buildInitramfs(busybox: string, kernel: { vmlinuz: string; kernelRelease: string }, name: string): string {
  const img = new Initramfs();
  img.file('init', readFileSync(join(ROOT, 'lab', 'init.sh')), 0o755);
  img.copy(busybox, 'bin/busybox');
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'root', 'etc']) img.dir(d);
  const libs = new Set<string>();
  const withLibraries = (binary: string) => {
    for (const lib of sharedLibraries(binary)) {
      if (!libs.has(lib)) img.copy(lib, lib.slice(1));
      libs.add(lib);
    }
  };
  img.copy(process.execPath, 'usr/bin/node');
  withLibraries(process.execPath);
  // the project as installed: the bundled command, its one dependency, the platform tests
  // (and the sources they ask what the kernel offers), their user-space target built here
  img.copy(join(ROOT, 'package.json'), 'project/package.json');
  img.tree(join(ROOT, 'dist'), 'project/dist');
  const target = labTarget();
  if ('why' in target) throw new Error(`the platform tests' program: ${target.why}`);
  withLibraries(target.path);
  img.tree(join(ROOT, 'build', 'test', 'platform'), 'project/build/test/platform');
  img.tree(join(ROOT, 'build', 'src'), 'project/build/src');
  img.copy(join(ROOT, 'build', 'bench', 'fbt.js'), 'project/build/bench/fbt.js');
  img.tree(join(ROOT, 'build', 'test', 'live'), 'project/build/test/live', (n) => n.endsWith('.test.js'));
  img.tree(join(ROOT, 'node_modules', 'koffi'), 'project/node_modules/koffi', (n) => n === 'doc' || n === 'vendor');
  img.tree(join(ROOT, 'node_modules', '@koromix'), 'project/node_modules/@koromix');
  const modules = join(dirname(dirname(kernel.vmlinuz)), 'lib', 'modules', kernel.kernelRelease, 'kernel', 'drivers');
  for (const m of GUEST_MODULES) img.copy(join(modules, `${m}.ko`), `lab/modules/${m.split('/').pop()}.ko`);
  const path = join(CACHE, name);
  writeFileSync(path, img.build());
  return path;
}

/**
 * The toolstack's files for dom0's initramfs: its programs and every library they load, each at
 * its own path (a library of the toolstack's packages where it is unpacked, the others, the C
 * library's kind, from this machine, as node's are), found with ldd.
 */
function toolstackFiles(): Map<string, string> {
  const roots = XEN_TOOLSTACK.map(unpacked);
  const files = new Map<string, string>(); // path in the archive -> file here
  const libPath = roots.map((r) => join(r, 'usr/lib/x86_64-linux-gnu')).filter(existsSync).join(':');
  const relative = (file: string) => {
    const root = roots.find((r) => file.startsWith(`${r}/`));
    return root ? file.slice(root.length + 1) : file.slice(1);
  };
  for (const program of XEN_PROGRAMS) {
    const root = roots.find((r) => existsSync(join(r, XEN_BIN, program)));
    if (!root) throw new Error(`no ${XEN_BIN}/${program} in ${XEN_TOOLSTACK.join(', ')}`);
    const binary = join(root, XEN_BIN, program);
    files.set(join(XEN_BIN, program), binary);
    const r = spawnSync('ldd', [binary], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: libPath } });
    const missing = /^\s*(\S+) => not found/m.exec(r.stdout ?? '');
    if (missing) throw new Error(`${program} needs ${missing[1]}, which none of ${XEN_TOOLSTACK.join(', ')} has`);
    for (const lib of sharedLibraries(binary, libPath)) files.set(relative(lib), lib);
  }
  // what the C library loads by name when a thread is cancelled (ldd does not show it)
  const libc = [...files.values()].find((f) => /\/libc\.so\.6$/.test(f));
  if (libc) files.set(relative(join(dirname(libc), 'libgcc_s.so.1')), join(dirname(libc), 'libgcc_s.so.1'));
  return files;
}

function buildDom0Initramfs(busybox: string, kit: Kit, dom0: { vmlinuz: string; kernelRelease: string }, domU: Platform): string {
  const img = new Initramfs();
  img.file('init', readFileSync(join(ROOT, 'lab', 'xen-dom0.sh')), 0o755);
  img.copy(busybox, 'bin/busybox');
  for (const d of ['proc', 'sys', 'dev', 'tmp', 'etc', 'var']) img.dir(d);
  for (const [path, file] of toolstackFiles()) img.copy(file, path);
  const modules = join(dirname(dirname(dom0.vmlinuz)), 'lib', 'modules', dom0.kernelRelease, 'kernel', 'drivers', 'xen');
  const module = (m: string) => m.split(' ')[0];
  for (const m of XEN_MODULES) img.copy(join(modules, `${module(m)}.ko`), `lab/modules/${module(m).split('/').pop()}.ko`);
  img.file('lab/modules/order', Buffer.from(XEN_MODULES.map((m) => `${m.split('/').pop()}\n`).join('')));
  // the domU never asks for more memory than it was given: dom0 keeps its own
  img.file('etc/xen/xl.conf', Buffer.from('autoballoon="off"\n'));
  img.copy(kit.vmlinuz, 'lab/vmlinuz');
  img.copy(kit.initrd, 'lab/domu.gz');
  img.file('lab/domu.cfg', Buffer.from([
    'name = "lab"',
    'type = "pv"',
    'kernel = "/lab/vmlinuz"',
    'ramdisk = "/lab/domu.gz"',
    `extra = "console=hvc0 ${guestOptions(domU)}"`,
    `memory = ${DOMU_MIB}`,
    `vcpus = ${domU.cpus}`,
    'on_poweroff = "destroy"',
    'on_reboot = "destroy"',
    'on_crash = "destroy"',
    '',
  ].join('\n')));
  const path = join(CACHE, 'dom0-initrd.gz');
  writeFileSync(path, img.build());
  return path;
}

/** A Debian kernel package's kernel. */
function kernelOf(pkg: string): { vmlinuz: string; kernelRelease: string } {
  const dir = unpacked(pkg);
  const vmlinuz = readdirSync(join(dir, 'boot')).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new Error(`${pkg} has no boot/vmlinuz-*`);
  return { vmlinuz: join(dir, 'boot', vmlinuz), kernelRelease: vmlinuz.slice('vmlinuz-'.length) };
}

function prepare(chosen: Platform[]): Kit {
  ensureQemu();
  const kernelPkg = cloudKernelPackage();
  const kernel = kernelOf(kernelPkg);
  const xenDir = unpacked('xen-hypervisor-4.17-amd64');
  const xen = join(CACHE, 'xen-4.17');
  if (!existsSync(xen)) writeFileSync(xen, gunzipSync(readFileSync(join(xenDir, 'boot', 'xen-4.17-amd64.gz'))));
  const busybox = join(unpacked('busybox-static'), 'bin', 'busybox');
  log('building the initramfs (busybox, node, dtrace-ts, test/platform)');
  const kit: Kit = { ...kernel, xen, initrd: buildInitramfs(busybox, kernel, 'initrd.gz') };
  if (chosen.some((p) => p.flavour === 'rt')) {
    // the PREEMPT_RT flavour of the same version: linux-image-6.1.0-50-cloud-amd64 -> linux-image-6.1.0-50-rt-amd64
    const rt = kernelOf(kernelPkg.replace(/-cloud-amd64$/, '-rt-amd64'));
    log(`building the initramfs for ${rt.kernelRelease} (its modules)`);
    kit.rt = { ...rt, initrd: buildInitramfs(busybox, rt, 'rt-initrd.gz') };
  }
  const domU = chosen.find((p) => p.domU);
  if (domU) {
    // the generic flavour of the same version: linux-image-6.1.0-50-cloud-amd64 -> linux-image-6.1.0-50-amd64
    const dom0Kernel = kernelOf(kernelPkg.replace(/-cloud-amd64$/, '-amd64'));
    log('building dom0\'s initramfs (busybox, Xen\'s toolstack, the domU\'s kernel and initramfs)');
    kit.dom0 = { ...dom0Kernel, initrd: buildDom0Initramfs(busybox, kit, dom0Kernel, domU) };
  }
  return kit;
}

interface Outcome {
  passed: number;
  failed: number;
  /** tests of a part this kernel lacks: they say why */
  skipped: number;
  seconds: number;
  problems: string[];
  /** each failed test's line and the start of its details, repeated in the run's summary (CI shows its end) */
  failures: string[];
}

/** Boots one platform and collects the TAP lines its init reports ("LAB: ..."). */
function boot(p: Platform, kit: Kit): Promise<Outcome> {
  const started = Date.now();
  const consoleLog: string[] = [];
  const seen = new Set<string>();
  const problems: string[] = [];
  let passed = -1;
  let failed = -1;
  let skipped = 0;
  // the tests' own lines, for a guest cut short before its summary
  let oks = 0;
  let notOks = 0;
  let done = false;
  let yaml = false;
  const failures: string[] = [];
  // the console as it comes (tail -f it to watch a guest), and whole when qemu has gone
  const live = createWriteStream(join(CACHE, `${p.name}.console.log`));
  const onLine = (raw: string) => {
    const line = raw.replace(/\r/g, '');
    consoleLog.push(line);
    live.write(`${line}\n`);
    const m = /(\[\s*[\d.]+\]\s*)?LAB: (.*)$/.exec(line);
    // under Xen the console may repeat a line: the kernel's timestamp tells repeats apart
    if (!m || seen.has(line)) return;
    seen.add(line);
    const text = m[2];
    const summary = /^# (pass|fail|skipped) (\d+)$/.exec(text);
    if (summary) {
      if (summary[1] === 'pass') passed = Number(summary[2]);
      else if (summary[1] === 'fail') failed = Number(summary[2]);
      else skipped = Number(summary[2]);
    }
    if (text === 'DONE') done = true;
    if (/^BOOTED|^LEFT|^BENCH|^DOM0/.test(text)) log(`${p.name}: ${text}`);
    // each test's line, and a failure's details
    if (/^\s*(not )?ok \d+/.test(text) && !/^\s{8,}/.test(text)) {
      process.stdout.write(`  ${p.name}: ${text.trim()}\n`);
      if (/^(not )?ok \d+/.test(text)) {
        if (text.startsWith('not')) notOks++;
        else oks++;
      }
      yaml = text.trimStart().startsWith('not ok');
      if (yaml) failures.push(text.trim());
    } else if (yaml && /^\s+(---|\.\.\.|\w+:|\S)/.test(text)) {
      process.stdout.write(`  ${p.name}:     ${text}\n`);
      if (failures.length > 0 && failures.length < 200) failures.push(`    ${text}`);
      if (text.trim() === '...') yaml = false;
    }
    if (text.startsWith('LEFT') && !/^LEFT instances=\s*kprobes=0\s*$/.test(text)) problems.push(`left behind: ${text}`);
  };
  return new Promise((resolve) => {
    const q = spawn('qemu-system-x86_64', p.qemuArgs(kit, p), { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const timeoutMs = p.timeoutMs ?? PLATFORM_TIMEOUT_MS;
    const timer = setTimeout(() => {
      problems.push(`timed out after ${timeoutMs / 60_000} minutes`);
      q.kill('SIGKILL');
    }, timeoutMs);
    q.on('close', (code) => {
      clearTimeout(timer);
      if (pending !== '') onLine(pending);
      live.end();
      if (!done) {
        const last = consoleLog.filter((l) => l.trim() !== '').slice(-15).map((l) => `\n    | ${l}`).join('');
        problems.push(`the guest did not finish (qemu exit ${code}; console: lab/cache/${p.name}.console.log); its last lines:${last}`);
      }
      if (passed < 0 || failed < 0) {
        problems.push(`no test summary came back (${oks} tests passed and ${notOks} failed before that)`);
        passed = oks;
        failed = notOks;
      }
      resolve({
        passed: Math.max(0, passed),
        failed: Math.max(0, failed) + (problems.length > 0 ? 1 : 0),
        skipped,
        seconds: (Date.now() - started) / 1000,
        problems,
        failures,
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
  const chosen = wanted.length > 0 ? PLATFORMS.filter((p) => wanted.includes(p.name)) : PLATFORMS;
  let kit: Kit;
  try {
    kit = prepare(chosen);
  } catch (e) {
    process.stderr.write(`lab: ${(e as Error).message}\n`);
    return 1;
  }
  const lines = new Map<Platform, string>();
  let failures = 0;
  const started = Date.now();
  // guests side by side, one a host CPU (each is one TCG thread), the longest first
  const queue = [...chosen].sort((a, b) => (b.timeoutMs ?? PLATFORM_TIMEOUT_MS) - (a.timeoutMs ?? PLATFORM_TIMEOUT_MS));
  const jobs = Math.max(1, Math.min(queue.length, Number(process.env.LAB_JOBS ?? availableParallelism())));
  const worker = async (): Promise<void> => {
    for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
      log(`${p.name}: booting ${p.what(kit, p)}`);
      const o = await boot(p, kit);
      for (const problem of o.problems) log(`${p.name}: ${problem}`);
      failures += o.failed;
      log(`${p.name}: ${o.seconds.toFixed(0)} s`);
      const line = `lab ${p.name}: ${o.passed} passed, ${o.failed} failed${o.skipped > 0 ? `, ${o.skipped} skipped` : ''} (${o.seconds.toFixed(0)} s)`;
      // the failures again under the summary line, where the end of a long log shows them
      const details = [...o.failures.slice(0, 40), ...o.problems].map((f) => `\n    ${f}`).join('');
      lines.set(p, line + details);
      process.stdout.write(`${line}\n`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  if (chosen.length > 1) process.stdout.write(`\n${chosen.map((p) => lines.get(p)).join('\n')}\nlab: ${chosen.length} platforms in ${((Date.now() - started) / 60_000).toFixed(1)} minutes, ${jobs} at a time\n`);
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main();
