// What this machine is and what its kernel lets dtrace do, read from what Linux publishes in
// /sys and /proc (never from privileged instructions: cpuid-style probing is what broke the
// old ports under hypervisors). `dtrace -vV` prints it; providers that cannot work give the
// same reasons in their errors. Every path is read under `fsRoot`, so a copy of another
// system's files (test/kernel/fixtures/platform) is judged exactly as that system would be.

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { machine, release } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { bpfUnavailable } from './bpf/sys.js';
import { uprobeMultiSupported } from './bpf/objects.js';
import { hardwareCountersUnavailable } from './perf-events.js';
import { samplingUnavailable } from './perf-sampler.js';

export interface Platform {
  /** e.g. "Xen PV, dom0", "Xen PV, domU", "KVM", "Firecracker", "none (bare metal)" */
  hypervisor: string;
  /** the files and values the hypervisor was told from */
  evidence: string;
  kernel: string;
  machine: string;
  /**
   * the kernel's preemption model where it is a real-time one: "PREEMPT_RT" (its
   * /sys/kernel/realtime is 1, or uname -v, proc/sys/kernel/version, names it), else ""
   */
  preemption: string;
  cpus: number;
  /** /proc/cpuinfo's first model name, or "" */
  cpuModel: string;
  /** the clocksource in use and those available ("tsc", "tsc kvm-clock"); "" where not published */
  clocksource: string;
  clocksources: string;
  euid: number;
  root: boolean;
  /** the sysctls that keep users other than root from perf events and bpf(); null if unreadable */
  perfEventParanoid: number | null;
  unprivilegedBpfDisabled: number | null;
  /**
   * "none", "integrity", "confidentiality"; "unknown" when securityfs is not mounted (so neither
   * security/lockdown nor security/lsm can be read); null: the kernel runs no lockdown LSM
   */
  lockdown: string | null;
  /** tracefs's directory (as seen from fsRoot), or null */
  tracefs: string | null;
  /** false when tracefs is there but closed to this user (it is root's alone): its contents are unknown */
  tracefsReadable: boolean;
  tracepoints: number;
  syscallEvents: boolean;
  kprobeEvents: boolean;
  uprobeEvents: boolean;
  /** null: the kernel has event probes; otherwise why not (or why that is not known) */
  eprobes: string | null;
  /** null: bpf() works; otherwise why not */
  bpf: string | null;
  /** null: the kernel makes uprobe_multi links (Linux 6.6+); otherwise why not (or why that is not known) */
  uprobeMulti: string | null;
  /** the kernel's type information (BTF): modules with BTF of their own, or null if it has none */
  btfModules: number | null;
  /** null: perf cpu-clock events can sample every CPU (profile-N); otherwise why not */
  perfSampling: string | null;
  /** null: the CPUs count hardware events (CPU cycles) for perf events (cpc); otherwise why not */
  hardwareCounters: string | null;
}

export interface PlatformProbe {
  /** the effective user id to judge privileges by (default: this process's) */
  euid?: number;
  /** uname's machine (default: this machine's, or "unknown" under a fixture) */
  machine?: string;
  /**
   * Why bpf() does not work here, or null if it does. Default: on this machine and as root,
   * making a one-entry BPF array map tells (bpf/sys.js); otherwise it is not checked.
   */
  bpfUnavailable?: () => string | null;
  /** Why uprobe_multi links cannot be made here, or null if they can. Default: on this machine and as root, asking the kernel for one on a directory tells (bpf/objects.js). */
  uprobeMultiUnavailable?: () => string | null;
  /**
   * Why perf events cannot sample the CPUs here, or null if they can. Default: on this machine,
   * opening (and closing at once) one cpu-clock sampling event on a CPU tells.
   */
  samplingUnavailable?: () => string | null;
  /**
   * Why the CPUs cannot count hardware events, or null if they can. Default: on this machine,
   * opening (and closing at once) a CPU cycles counter on a CPU tells.
   */
  hardwareCountersUnavailable?: () => string | null;
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

/** The 6-byte OEM ID of an ACPI table (Firecracker's are "FIRECK"); "" if there is none, null if only root may read it. */
function acpiOemId(fsRoot: string, table: string): string | null {
  try {
    return readFileSync(join(fsRoot, 'sys/firmware/acpi/tables', table)).subarray(10, 16).toString('latin1').replace(/\0+$/, '').trim();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EACCES' ? null : '';
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
    // dom0 or a domU: xenfs says control_d in dom0 alone (a domU's capabilities are empty);
    // without xenfs mounted (a domU rarely loads it), dom0's domain UUID is the all-zero one
    const caps = read(fsRoot, 'proc/xen/capabilities');
    const uuid = read(fsRoot, 'sys/hypervisor/uuid');
    const dom0 = caps !== null ? /\bcontrol_d\b/.test(caps) : uuid !== null && /^[0-]+$/.test(uuid);
    const domU = caps !== null ? !dom0 : uuid !== null && !dom0;
    const domainEvidence = caps !== null ? `/proc/xen/capabilities: ${dom0 ? 'control_d' : 'no control_d'}` : `/sys/hypervisor/uuid: ${uuid}`;
    // kernels before 4.15 have no guest_type: an HVM guest has firmware (DMI) tables, a PV one none
    const mode = guestType ?? (vendor !== '' ? 'HVM' : 'PV');
    const how = guestType !== null ? `guest_type: ${guestType}` : `no guest_type; ${vendor !== '' ? dmiText : 'no DMI tables'}`;
    const amazon = /amazon/i.test(`${productVersion} ${biosVersion}`);
    // which domain matters where a guest could be either: PV and PVH (an HVM guest is a domU)
    const role = dom0 ? 'dom0' : domU && mode !== 'HVM' ? 'domU' : '';
    const name = `${amazon ? 'Amazon EC2 ' : ''}Xen ${mode}${role !== '' ? `, ${role}` : ''}`;
    return { hypervisor: name, evidence: `/sys/hypervisor/type: xen, ${how}${amazon && !how.includes(dmiText) ? `; ${dmiText}` : ''}${role !== '' ? `; ${domainEvidence}` : ''}` };
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
  // Firecracker gives no DMI tables; its ACPI tables (1.8+) say FIRECK, older ones had none
  // and listed their virtio devices on the kernel command line
  const oemId = acpiOemId(fsRoot, 'DSDT');
  const kvmClockText = kvmClock ? '; clocksource kvm-clock' : '';
  if (oemId === 'FIRECK') return { hypervisor: 'Firecracker', evidence: `ACPI OEM ID FIRECK${kvmClockText}` };
  if (kvmClock && vendor === '' && /virtio_mmio\.device=/.test(read(fsRoot, 'proc/cmdline') ?? '')) {
    return { hypervisor: 'Firecracker', evidence: `virtio_mmio devices on the kernel command line, no DMI tables${kvmClockText}` };
  }
  if (kvmClock && vendor === '' && oemId === null) {
    // the table that would say is root's: a KVM guest without DMI tables is most likely Firecracker
    return { hypervisor: 'Firecracker', evidence: `no DMI tables${kvmClockText}; its ACPI tables, which would confirm it, are readable by root only` };
  }
  if (kvmClock) return { hypervisor: 'KVM', evidence: `clocksource kvm-clock${dmiText ? `; ${dmiText}` : ''}` };
  if (vendor === 'QEMU' || /^QEMU/.test(product)) {
    // QEMU's machine without KVM: every instruction emulated
    return { hypervisor: 'QEMU (emulated, no KVM)', evidence: `${dmiText}; no kvm-clock` };
  }
  if (hypervisorFlag) return { hypervisor: 'unknown hypervisor', evidence: `/proc/cpuinfo: hypervisor flag${dmiText ? `; ${dmiText}` : ''}` };
  return { hypervisor: 'none (bare metal)', evidence: `no hypervisor flag in /proc/cpuinfo${dmiText ? `; ${dmiText}` : ''}` };
}

/** The kernel's build configuration, from /proc/config.gz or /boot/config-RELEASE; null if neither is there. */
function kernelConfig(fsRoot: string, release: string | null): string | null {
  try {
    return gunzipSync(readFileSync(join(fsRoot, 'proc/config.gz'))).toString('latin1');
  } catch {
    return release === null ? null : read(fsRoot, `boot/config-${release}`);
  }
}

/** A build option as a configuration sets it; null when the option is not there at all (the kernel predates it). */
function configOption(config: string, option: string): boolean | null {
  if (new RegExp(`^${option}=[ym]$`, 'm').test(config)) return true;
  if (new RegExp(`^# ${option} is not set$`, 'm').test(config)) return false;
  return null;
}

/** "6.1.0-18-amd64" is older than 6.17 */
function releaseBefore(release: string | null, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release ?? '');
  return m !== null && (Number(m[1]) < major || (Number(m[1]) === major && Number(m[2]) < minor));
}

/**
 * tracefs's README shows the eprobe syntax from 5.15 on (the kernel's own ftrace selftests
 * require this text); until 6.17 eprobes had no build option of their own and came with any
 * probe events, so that text was proof. Since then CONFIG_EPROBE_EVENTS can be off while the
 * README still shows the syntax (this development machine: 6.18, option off): the build
 * configuration says, where it is readable; else, on this machine and as root, making one (and
 * removing it at once) tells.
 */
function eprobeSupport(fsRoot: string, tracefs: string, events: string, release: string | null, root: boolean): string | null {
  const readme = read(fsRoot, `${tracefs}/README`);
  if (readme === null) return `unknown: ${tracefs}/README is missing`;
  if (!/<attached-group>\.<attached-event>/.test(readme)) {
    return `${tracefs}/README shows no eprobe syntax: the kernel predates them (5.15) or has no probe events`;
  }
  const config = kernelConfig(fsRoot, release);
  const option = config === null ? null : configOption(config, 'CONFIG_EPROBE_EVENTS');
  if (option !== null) return option ? null : 'the kernel was built without CONFIG_EPROBE_EVENTS';
  if (config !== null || releaseBefore(release, 6, 17)) return null;
  const file = join(fsRoot, tracefs, 'dynamic_events');
  const first = events.split('\n')[0]?.replace(':', '.');
  if (fsRoot !== '/' || !root || !existsSync(file) || !first) {
    return 'unknown: since 6.17 they need CONFIG_EPROBE_EVENTS, and the kernel\'s configuration is not readable';
  }
  const name = `dtrace_ts_${process.pid}/eprobe_check`;
  try {
    writeFileSync(file, `e:${name} ${first}\n`, { flag: 'a' });
  } catch (e) {
    return `the kernel refused a test eprobe (${(e as NodeJS.ErrnoException).code ?? String(e)}): most likely built without CONFIG_EPROBE_EVENTS`;
  }
  try {
    writeFileSync(file, `-:${name}\n`, { flag: 'a' });
  } catch {
    // removed by the next dtrace's reaping (its group is this process's)
  }
  return null;
}

/** tracefs's directory: the one that holds `events`; else one that exists but this user may not look into. */
function findTracefs(fsRoot: string): { dir: string | null; readable: boolean } {
  const dirs = ['sys/kernel/tracing', 'sys/kernel/debug/tracing'];
  for (const dir of dirs) {
    if (existsSync(join(fsRoot, dir, 'events'))) return { dir: `/${dir}`, readable: true };
  }
  for (const dir of dirs) {
    try {
      readdirSync(join(fsRoot, dir));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EACCES') return { dir: `/${dir}`, readable: false };
    }
  }
  return { dir: null, readable: false };
}

/** security/lockdown reads "none [integrity] confidentiality", the level in force bracketed. */
function lockdownLevel(fsRoot: string): string | null {
  const text = read(fsRoot, 'sys/kernel/security/lockdown');
  if (text !== null) return /\[(\w+)\]/.exec(text)?.[1] ?? text;
  // security/lsm (older than the lockdown LSM) lists the LSMs running: readable, it says lockdown is not one
  return read(fsRoot, 'sys/kernel/security/lsm') !== null ? null : 'unknown';
}

const TRACEFS_CLOSED = 'unknown: tracefs is readable by root only';

function sysctl(fsRoot: string, name: string): number | null {
  const text = read(fsRoot, `proc/sys/kernel/${name}`);
  return text !== null && /^-?\d+$/.test(text) ? Number(text) : null;
}

/**
 * What this machine (or the copy of one under fsRoot) is and what its kernel offers. Reads
 * files only, and never throws: a file that is missing is a fact about the system. On this
 * machine and as root it may also make (and at once remove) a BPF map and an event probe; it
 * is for `dtrace -vV` and tests, not for any tracing path.
 */
export function detectPlatform(fsRoot = '/', probe: PlatformProbe = {}): Platform {
  const { hypervisor, evidence } = classify(fsRoot);
  const { dir: tracefs, readable: tracefsReadable } = findTracefs(fsRoot);
  const t = (f: string) => (tracefs ? join(fsRoot, tracefs, f) : '');
  const events = tracefs ? (read(fsRoot, `${tracefs}/available_events`) ?? '') : '';
  const cpuinfo = read(fsRoot, 'proc/cpuinfo') ?? '';
  const clocks = 'sys/devices/system/clocksource/clocksource0';
  const isLive = fsRoot === '/';
  const euid = probe.euid ?? (process.geteuid ? process.geteuid() : 0);
  const osrelease = read(fsRoot, 'proc/sys/kernel/osrelease');
  const liveBpf = () => (euid === 0 ? bpfUnavailable() : 'unknown: checking needs root');
  return {
    hypervisor,
    evidence,
    kernel: osrelease ?? (isLive ? release() : 'unknown'),
    machine: probe.machine ?? (isLive ? machine() : 'unknown'),
    preemption: read(fsRoot, 'sys/kernel/realtime') === '1' || /\bPREEMPT_RT\b/.test(read(fsRoot, 'proc/sys/kernel/version') ?? '') ? 'PREEMPT_RT' : '',
    cpus: (cpuinfo.match(/^processor\s*:/gm) ?? []).length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? '',
    clocksource: read(fsRoot, `${clocks}/current_clocksource`) ?? '',
    clocksources: read(fsRoot, `${clocks}/available_clocksource`) ?? '',
    euid,
    root: euid === 0,
    perfEventParanoid: sysctl(fsRoot, 'perf_event_paranoid'),
    unprivilegedBpfDisabled: sysctl(fsRoot, 'unprivileged_bpf_disabled'),
    lockdown: lockdownLevel(fsRoot),
    tracefs,
    tracefsReadable,
    tracepoints: events === '' ? 0 : events.split('\n').length,
    syscallEvents: tracefs !== null && existsSync(join(t('events'), 'syscalls')),
    kprobeEvents: tracefs !== null && existsSync(t('kprobe_events')),
    uprobeEvents: tracefs !== null && existsSync(t('uprobe_events')),
    eprobes: tracefs === null ? 'no tracefs' : !tracefsReadable ? TRACEFS_CLOSED : eprobeSupport(fsRoot, tracefs, events, osrelease, euid === 0),
    bpf: probe.bpfUnavailable ? probe.bpfUnavailable() : isLive ? liveBpf() : 'unknown: not checked in a copy of another system',
    uprobeMulti: probe.uprobeMultiUnavailable
      ? probe.uprobeMultiUnavailable()
      : !isLive
        ? 'unknown: not checked in a copy of another system'
        : euid !== 0
          ? 'unknown: checking needs root'
          : (liveBpf() ?? (uprobeMultiSupported() ? null : 'the kernel makes no uprobe_multi links (Linux 6.6+)')),
    btfModules: btfModules(fsRoot),
    perfSampling: probe.samplingUnavailable ? probe.samplingUnavailable() : isLive ? samplingUnavailable() : 'unknown: not checked in a copy of another system',
    hardwareCounters: probe.hardwareCountersUnavailable
      ? probe.hardwareCountersUnavailable()
      : isLive
        ? hardwareCountersUnavailable()
        : 'unknown: not checked in a copy of another system',
  };
}

/** How many modules have BTF besides vmlinux, or null if the kernel has no BTF. */
function btfModules(fsRoot: string): number | null {
  const dir = join(fsRoot, 'sys/kernel/btf');
  if (!existsSync(join(dir, 'vmlinux'))) return null;
  try {
    return readdirSync(dir).length - 1;
  } catch {
    return 0;
  }
}

const PRIVILEGES = 'DTrace requires additional privileges (run it as root)';

/** Why fbt cannot work on a kernel without kprobe events (its error and the report say the same). */
export function noKprobeEvents(tracefs: string): string {
  return `the kernel has no kprobe events (${tracefs}/kprobe_events is missing: it was built without CONFIG_KPROBE_EVENTS)`;
}

const PROVIDERS = ['dtrace', 'profile', 'cpc', 'syscall', 'sdt', 'rawtp', 'proc', 'sched', 'fbt', 'pid', 'usdt'];

/**
 * Why a provider cannot work here, as a lower-case clause ("the kernel has no ..."), or null
 * if it can. The report prints these; a provider that cannot work may give the same.
 */
export function providerStatus(p: Platform, provider: string): string | null {
  if (!PROVIDERS.includes(provider)) return `dtrace-ts has no ${provider} provider`;
  // dtrace (BEGIN, END, ERROR) and profile (timers) need nothing from the kernel
  if (provider === 'dtrace' || provider === 'profile') return null;
  if (!p.root) return PRIVILEGES;
  if (p.lockdown === 'confidentiality') {
    return 'the kernel is locked down (lockdown=confidentiality forbids tracefs, kprobes, perf and BPF reads of kernel memory)';
  }
  if (p.tracefs === null) return 'the kernel has no tracefs (built without CONFIG_FTRACE, or it cannot be mounted)';
  switch (provider) {
    case 'cpc':
      return cpcStatus(p);
    case 'syscall':
      return p.syscallEvents ? null : `the kernel has no system call tracepoints (${p.tracefs}/events/syscalls is missing: it was built without CONFIG_FTRACE_SYSCALLS)`;
    case 'sdt':
    case 'proc':
    case 'sched':
      return p.tracepoints > 0 ? null : `the kernel lists no tracepoints (${p.tracefs}/available_events is empty)`;
    case 'rawtp':
      if (p.tracepoints === 0) return `the kernel lists no tracepoints (${p.tracefs}/available_events is empty)`;
      if (p.bpf === null || p.bpf.startsWith('unknown: ')) return p.bpf;
      return `raw tracepoints need BPF programs (${p.bpf})`;
    case 'fbt':
      return p.kprobeEvents ? null : noKprobeEvents(p.tracefs);
    default: // pid, usdt: uprobe events
      return p.uprobeEvents ? null : `the kernel has no uprobe events (${p.tracefs}/uprobe_events is missing: it was built without CONFIG_UPROBE_EVENTS)`;
  }
}

/** Why cpc probes cannot work here at all, or null if they can (perf events sample the CPUs). */
function cpcStatus(p: Platform): string | null {
  return p.perfSampling === null ? null : `perf events cannot sample the CPUs (${p.perfSampling.replace(/^unknown: /, '')})`;
}

/** How cpc probes work here: every event, or the kernel's software events only (and why). */
export function cpcMethod(p: Platform): string {
  const unknown = /^unknown: (.*)$/.exec(p.perfSampling ?? '');
  if (unknown) return `unknown (${unknown[1]})`;
  const why = providerStatus(p, 'cpc');
  if (why !== null) return `no: ${why}`;
  if (p.hardwareCounters === null) return 'yes';
  const hw = /^unknown: (.*)$/.exec(p.hardwareCounters);
  return `software events only (cpu_clock, task_clock, page_faults, ...): hardware counters ${hw ? `unknown (${hw[1]})` : `are not available: ${p.hardwareCounters}`}`;
}

/** Which clauses run in the kernel here. */
export function inKernelMethod(p: Platform): string {
  if (p.bpf !== null) return `${answer(p.bpf)}: every clause runs in dtrace, on the events the kernel records`;
  const types = p.btfModules === null ? '' : '; curthread and kernel memory read through the kernel\'s types (BTF)';
  return `yes: predicates, aggregations and thread-local variables of syscall, sdt, fbt, pid, usdt and profile clauses compile to BPF and run as the probe fires, aggregating in per-CPU maps${types}; other clauses run in dtrace`;
}

/** How copyin() and copyinstr() read user memory here. */
export function copyinMethod(p: Platform): string {
  return p.bpf === null
    ? 'BPF copies what tracepoint arguments point to when the probe fires, with the event (a record the buffer cannot hold is lost whole and reported as a drop); other addresses are read from /proc/PID/mem when the event is handled, and dtrace says so when that happens'
    : 'read from /proc/PID/mem when the event is handled (the memory may have changed by then)';
}

/** How profile-N fires here. */
export function profileMethod(p: Platform): string {
  if (p.perfSampling === null) return 'yes: profile-N samples every CPU with perf cpu-clock events (tick-N is a timer in dtrace)';
  const paranoid = p.perfEventParanoid !== null && !p.root ? `; perf_event_paranoid ${p.perfEventParanoid}` : '';
  return `${answer(p.perfSampling)}${paranoid}: profile-N fires from a timer in dtrace itself, on one CPU, with arg0 = arg1 = 0 and no stack`;
}

function yesNo(ok: boolean, why: string): string {
  return ok ? 'yes' : `no (${why})`;
}

/** null: "yes"; "unknown: why": "unknown (why)"; any other reason: "no (why)". */
function answer(why: string | null): string {
  if (why === null) return 'yes';
  const unknown = /^unknown: (.*)$/.exec(why);
  return unknown ? `unknown (${unknown[1]})` : `no (${why})`;
}

/** The report `dtrace -vV` prints: plain text, one fact a line, the reason beside each "no". */
export function formatReport(p: Platform): string {
  const row = (k: string, v: string) => `  ${k.padEnd(18)}${v}\n`;
  const sysctls = [
    p.perfEventParanoid === null ? '' : `perf_event_paranoid ${p.perfEventParanoid}`,
    p.unprivilegedBpfDisabled === null ? '' : `unprivileged_bpf_disabled ${p.unprivilegedBpfDisabled}`,
  ].filter((x) => x !== '');
  // inside a tracefs closed to this user nothing can be told
  const closed = p.tracefs !== null && !p.tracefsReadable;
  const known = (ok: boolean, why: string) => (closed ? answer(TRACEFS_CLOSED) : yesNo(ok, why));
  let s = 'Platform\n';
  s += row('hypervisor', `${p.hypervisor} (${p.evidence})`);
  s += row('kernel', `${p.kernel} ${p.machine}${p.preemption !== '' ? ` (${p.preemption})` : ''}`);
  s += row('CPUs', String(p.cpus));
  if (p.cpuModel !== '') s += row('CPU model', p.cpuModel);
  if (p.clocksource !== '') s += row('clocksource', `${p.clocksource} (available: ${p.clocksources || 'none listed'})`);
  s += row('privileges', p.root ? 'root' : `not root (euid ${p.euid}${sysctls.length ? `; ${sysctls.join(', ')}` : ''}): ${PRIVILEGES}`);
  s += row('lockdown', p.lockdown === null ? 'none (no lockdown LSM)' : p.lockdown === 'unknown' ? 'unknown (securityfs is not mounted on /sys/kernel/security)' : p.lockdown);
  s += 'Kernel interfaces\n';
  s += row('tracefs', p.tracefs === null ? 'not found' : closed ? `${p.tracefs} (readable by root only)` : p.tracefs);
  s += row('tracepoints', closed ? answer(TRACEFS_CLOSED) : p.tracepoints > 0 ? `yes, ${p.tracepoints} events` : 'none');
  s += row('kprobe events', known(p.kprobeEvents, 'no kprobe_events: CONFIG_KPROBE_EVENTS is off'));
  s += row('uprobe events', known(p.uprobeEvents, 'no uprobe_events: CONFIG_UPROBE_EVENTS is off'));
  s += row('eprobe events', answer(p.eprobes));
  s += row('BPF', answer(p.bpf));
  s += row('uprobe_multi', p.uprobeMulti === null ? 'yes: pid probes of one object share one program and one link, made and removed at once' : `${answer(p.uprobeMulti)}: a pid probe each takes a perf event, whose close waits for an RCU grace period`);
  s += row('D in the kernel', inKernelMethod(p));
  s += row('copyin()', copyinMethod(p));
  s += row('perf sampling', profileMethod(p));
  s += row('hw counters', p.hardwareCounters === null || p.hardwareCounters.startsWith('unknown: ') ? answer(p.hardwareCounters) : `no: ${p.hardwareCounters}`);
  s += row(
    'kernel types',
    p.btfModules === null
      ? 'no: the kernel has no BTF (/sys/kernel/btf/vmlinux: CONFIG_DEBUG_INFO_BTF is off); D knows only its own types'
      : `BTF: vmlinux${p.btfModules > 0 ? ` and ${p.btfModules} modules` : ''} (struct, union and enum tags, *_t typedefs and vmlinux\`names, read when a program names one)`,
  );
  s += 'Providers\n';
  for (const name of PROVIDERS) {
    const why = providerStatus(p, name);
    s += row(name, name === 'cpc' ? cpcMethod(p) : why === null ? 'yes' : why.startsWith('unknown: ') ? answer(why) : `no: ${why}`);
  }
  return s;
}

/** Top-level directories a fixture copy of a system holds (for tests that list them). */
export function fixtureNames(dir: string): string[] {
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'SOURCE.md')));
}
