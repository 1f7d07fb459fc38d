// What this machine is and what its kernel lets dtrace do, read from what Linux publishes in
// /sys and /proc (never from privileged instructions: cpuid-style probing is what broke the
// old ports under hypervisors). `dtrace -vV` prints it; providers that cannot work give the
// same reasons in their errors. Every path is read under `fsRoot`, so a copy of another
// system's files (test/kernel/fixtures/platform) is judged exactly as that system would be.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { machine, release } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Platform {
  /** e.g. "Xen PV, dom0", "KVM", "Firecracker", "none (bare metal)" */
  hypervisor: string;
  /** the files and values the hypervisor was told from */
  evidence: string;
  kernel: string;
  machine: string;
  cpus: number;
  root: boolean;
  /** "none", "integrity", "confidentiality", or null: the kernel has no lockdown LSM */
  lockdown: string | null;
  /** tracefs's directory (as seen from fsRoot), or null */
  tracefs: string | null;
  tracepoints: number;
  syscallEvents: boolean;
  kprobeEvents: boolean;
  uprobeEvents: boolean;
  eprobeEvents: boolean;
  /** null: bpf() works; otherwise why not */
  bpf: string | null;
}

export interface PlatformProbe {
  euid?: number;
  machine?: string;
  /** why bpf() does not work here, or null; not asked when undefined is returned by default */
  bpfUnavailable?: () => string | null;
}

function read(fsRoot: string, path: string): string | null {
  try {
    return readFileSync(join(fsRoot, path), 'latin1').trim();
  } catch {
    return null;
  }
}

function dmi(fsRoot: string, field: string): string {
  return read(fsRoot, `sys/class/dmi/id/${field}`) ?? '';
}

/** The 6-byte OEM ID of an ACPI table (Firecracker's are "FIRECK"). */
function acpiOemId(fsRoot: string, table: string): string {
  try {
    return readFileSync(join(fsRoot, 'sys/firmware/acpi/tables', table)).subarray(10, 16).toString('latin1').replace(/\0+$/, '').trim();
  } catch {
    return '';
  }
}

/** Which hypervisor, if any, and how that was told, from the most specific evidence down. */
function classify(fsRoot: string): { hypervisor: string; evidence: string } {
  const xen = read(fsRoot, 'sys/hypervisor/type');
  const vendor = dmi(fsRoot, 'sys_vendor');
  const product = dmi(fsRoot, 'product_name');
  const productVersion = dmi(fsRoot, 'product_version');
  const biosVendor = dmi(fsRoot, 'bios_vendor');
  const biosVersion = dmi(fsRoot, 'bios_version');
  const clocks = read(fsRoot, 'sys/devices/system/clocksource/clocksource0/available_clocksource') ?? '';
  const cpuinfo = read(fsRoot, 'proc/cpuinfo') ?? '';
  const hypervisorFlag = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo);
  const dmiText = vendor ? `DMI: ${[vendor, product, productVersion].filter((x) => x !== '').join(', ')}` : '';

  if (xen === 'xen') {
    const guestType = read(fsRoot, 'sys/hypervisor/guest_type');
    // dom0: xenfs says control_d; without xenfs mounted, dom0's is the all-zero domain UUID
    const caps = read(fsRoot, 'proc/xen/capabilities');
    const uuid = read(fsRoot, 'sys/hypervisor/uuid');
    const dom0 = caps !== null ? /\bcontrol_d\b/.test(caps) : uuid !== null && /^[0-]+$/.test(uuid);
    const dom0Evidence = caps !== null ? '/proc/xen/capabilities: control_d' : `/sys/hypervisor/uuid: ${uuid}`;
    // kernels before 4.15 have no guest_type: an HVM guest has firmware (DMI) tables, a PV one none
    const mode = guestType ?? (vendor !== '' ? 'HVM' : 'PV');
    const how = guestType !== null ? `guest_type: ${guestType}` : `no guest_type; ${vendor !== '' ? dmiText : 'no DMI tables'}`;
    const amazon = /amazon/i.test(`${productVersion} ${biosVersion}`);
    const name = `${amazon ? 'Amazon EC2 ' : ''}Xen ${mode}${dom0 ? ', dom0' : ''}`;
    return { hypervisor: name, evidence: `/sys/hypervisor/type: xen, ${how}${amazon ? `; ${dmiText}` : ''}${dom0 ? `; ${dom0Evidence}` : ''}` };
  }
  if (/^Amazon EC2$/.test(vendor) || /^Amazon EC2$/.test(biosVendor)) {
    return { hypervisor: 'Amazon EC2 Nitro (KVM)', evidence: `${dmiText}${clocks.includes('kvm-clock') ? '; clocksource kvm-clock' : ''}` };
  }
  if (/^VMware/.test(vendor) || /^VMware/.test(product)) return { hypervisor: 'VMware', evidence: dmiText };
  if (vendor === 'innotek GmbH' || product === 'VirtualBox') return { hypervisor: 'VirtualBox', evidence: dmiText };
  if (vendor === 'Microsoft Corporation' && product === 'Virtual Machine') {
    const vmbus = existsSync(join(fsRoot, 'sys/bus/vmbus'));
    return { hypervisor: 'Hyper-V', evidence: `${dmiText}${vmbus ? '; /sys/bus/vmbus' : ''}${clocks.includes('hyperv') ? '; clocksource hyperv_clocksource_tsc_page' : ''}` };
  }
  const kvmClock = /\bkvm-clock\b/.test(clocks);
  if (acpiOemId(fsRoot, 'DSDT') === 'FIRECK' || (kvmClock && vendor === '' && /virtio_mmio\.device=/.test(read(fsRoot, 'proc/cmdline') ?? ''))) {
    return { hypervisor: 'Firecracker', evidence: `${acpiOemId(fsRoot, 'DSDT') === 'FIRECK' ? 'ACPI OEM ID FIRECK' : 'virtio_mmio devices on the kernel command line, no DMI tables'}${kvmClock ? '; clocksource kvm-clock' : ''}` };
  }
  if (kvmClock) return { hypervisor: 'KVM', evidence: `clocksource kvm-clock${dmiText ? `; ${dmiText}` : ''}` };
  if (vendor === 'QEMU' || /^QEMU/.test(product)) {
    // QEMU's machine without KVM: every instruction emulated
    return { hypervisor: 'QEMU (emulated, no KVM)', evidence: `${dmiText}; no kvm-clock` };
  }
  if (hypervisorFlag) return { hypervisor: 'unknown hypervisor', evidence: `/proc/cpuinfo: hypervisor flag${dmiText ? `; ${dmiText}` : ''}` };
  return { hypervisor: 'none (bare metal)', evidence: `no hypervisor flag in /proc/cpuinfo${dmiText ? `; ${dmiText}` : ''}` };
}

/** A kernel build option: from /proc/config.gz or /boot/config-RELEASE; null if neither is there. */
function kernelConfig(fsRoot: string, option: string): boolean | null {
  let text: string | null = null;
  try {
    text = gunzipSync(readFileSync(join(fsRoot, 'proc/config.gz'))).toString('latin1');
  } catch {
    const rel = read(fsRoot, 'proc/sys/kernel/osrelease');
    if (rel !== null) text = read(fsRoot, `boot/config-${rel}`);
  }
  if (text === null) return null;
  return new RegExp(`^${option}=[ym]$`, 'm').test(text);
}

/**
 * Event probes (5.15+): the build option says, where the kernel's configuration is readable;
 * else, on this machine and as root, making one (and removing it at once) tells. Their
 * syntax in tracefs's README is there whether the kernel has them or not.
 */
function eprobesWork(fsRoot: string, tracefs: string, events: string, root: boolean): boolean {
  const configured = kernelConfig(fsRoot, 'CONFIG_EPROBE_EVENTS');
  if (configured !== null) return configured;
  const file = join(fsRoot, tracefs, 'dynamic_events');
  const first = events.split('\n')[0]?.replace(':', '.');
  if (fsRoot !== '/' || !root || !existsSync(file) || !first) return false;
  const name = `dtrace_ts_${process.pid}/eprobe_check`;
  try {
    writeFileSync(file, `e:${name} ${first}\n`, { flag: 'a' });
  } catch {
    return false;
  }
  try {
    writeFileSync(file, `-:${name}\n`, { flag: 'a' });
  } catch {
    // removed by the next dtrace's reaping (its group is this process's)
  }
  return true;
}

function findTracefs(fsRoot: string): string | null {
  for (const dir of ['sys/kernel/tracing', 'sys/kernel/debug/tracing']) {
    if (existsSync(join(fsRoot, dir, 'events'))) return `/${dir}`;
  }
  return null;
}

export function detectPlatform(fsRoot = '/', probe: PlatformProbe = {}): Platform {
  const { hypervisor, evidence } = classify(fsRoot);
  const tracefs = findTracefs(fsRoot);
  const t = (f: string) => (tracefs ? join(fsRoot, tracefs, f) : '');
  const events = tracefs ? (read(fsRoot, `${tracefs}/available_events`) ?? '') : '';
  const lockdownText = read(fsRoot, 'sys/kernel/security/lockdown');
  const cpuinfo = read(fsRoot, 'proc/cpuinfo') ?? '';
  const isLive = fsRoot === '/';
  const euid = probe.euid ?? (process.geteuid ? process.geteuid() : 0);
  return {
    hypervisor,
    evidence,
    kernel: read(fsRoot, 'proc/sys/kernel/osrelease') ?? (isLive ? release() : 'unknown'),
    machine: probe.machine ?? (isLive ? machine() : 'unknown'),
    cpus: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    root: euid === 0,
    lockdown: lockdownText === null ? null : (/\[(\w+)\]/.exec(lockdownText)?.[1] ?? lockdownText),
    tracefs,
    tracepoints: events === '' ? 0 : events.split('\n').length,
    syscallEvents: tracefs !== null && existsSync(join(t('events'), 'syscalls')),
    kprobeEvents: tracefs !== null && existsSync(t('kprobe_events')),
    uprobeEvents: tracefs !== null && existsSync(t('uprobe_events')),
    eprobeEvents: tracefs !== null && eprobesWork(fsRoot, tracefs, events, euid === 0),
    bpf: probe.bpfUnavailable ? probe.bpfUnavailable() : isLive ? null : 'not checked',
  };
}

const PRIVILEGES = 'DTrace requires additional privileges (run it as root)';

/** Why fbt cannot work on a kernel without kprobe events (its error and the report say the same). */
export function noKprobeEvents(tracefs: string): string {
  return `the kernel has no kprobe events (${tracefs}/kprobe_events is missing: it was built without CONFIG_KPROBE_EVENTS)`;
}

/** Why a provider cannot work here, as a clause ("the kernel has no ..."), or null if it can. */
export function providerStatus(p: Platform, provider: string): string | null {
  if (provider === 'dtrace' || provider === 'profile') return null;
  if (!p.root) return PRIVILEGES;
  if (p.lockdown === 'confidentiality') {
    return 'the kernel is locked down (lockdown=confidentiality forbids tracefs, kprobes, perf and BPF reads of kernel memory)';
  }
  if (p.tracefs === null) return 'the kernel has no tracefs (built without CONFIG_FTRACE, or it cannot be mounted)';
  switch (provider) {
    case 'syscall':
      return p.syscallEvents ? null : `the kernel has no system call tracepoints (${p.tracefs}/events/syscalls is missing: it was built without CONFIG_FTRACE_SYSCALLS)`;
    case 'sdt':
    case 'proc':
    case 'sched':
      return p.tracepoints > 0 ? null : `the kernel lists no tracepoints (${p.tracefs}/available_events is empty)`;
    case 'fbt':
      return p.kprobeEvents ? null : noKprobeEvents(p.tracefs);
    case 'pid':
    case 'usdt':
      return p.uprobeEvents
        ? 'dtrace-ts does not implement it yet (the kernel has uprobe events it could use)'
        : `the kernel has no uprobe events (${p.tracefs}/uprobe_events is missing: it was built without CONFIG_UPROBE_EVENTS)`;
    default:
      return null;
  }
}

const PROVIDERS = ['dtrace', 'profile', 'syscall', 'sdt', 'proc', 'sched', 'fbt', 'pid', 'usdt'];

function yesNo(ok: boolean, why: string): string {
  return ok ? 'yes' : `no (${why})`;
}

/** The report `dtrace -vV` prints. */
export function formatReport(p: Platform): string {
  const row = (k: string, v: string) => `  ${k.padEnd(18)}${v}\n`;
  let s = 'Platform\n';
  s += row('hypervisor', `${p.hypervisor} (${p.evidence})`);
  s += row('kernel', `${p.kernel} ${p.machine}`);
  s += row('CPUs', String(p.cpus));
  s += row('privileges', p.root ? 'root' : `not root: ${PRIVILEGES}`);
  s += row('lockdown', p.lockdown ?? 'none (no lockdown LSM)');
  s += 'Kernel interfaces\n';
  s += row('tracefs', p.tracefs ?? 'not found');
  s += row('tracepoints', p.tracepoints > 0 ? `yes, ${p.tracepoints} events` : 'none');
  s += row('kprobe events', yesNo(p.kprobeEvents, 'no kprobe_events: CONFIG_KPROBE_EVENTS is off'));
  s += row('uprobe events', yesNo(p.uprobeEvents, 'no uprobe_events: CONFIG_UPROBE_EVENTS is off'));
  s += row('eprobe events', yesNo(p.eprobeEvents, 'the kernel predates them (5.15) or lacks CONFIG_EPROBE_EVENTS'));
  s += row('BPF', p.bpf === null ? 'yes' : `no (${p.bpf}): copyin() reads /proc/PID/mem when events are handled`);
  s += 'Providers\n';
  for (const name of PROVIDERS) {
    const why = providerStatus(p, name);
    s += row(name, why === null ? 'yes' : `no: ${why}`);
  }
  return s;
}

/** Top-level directories a fixture copy of a system holds (for tests that list them). */
export function fixtureNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'SOURCE.md')));
}
