// The capability report: which platform this is, and what each provider can do on it, told
// from copies of what real systems show in /sys and /proc (test/kernel/fixtures/platform, each
// with its SOURCE.md), and from this machine itself.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { copyinMethod, detectPlatform, fixtureNames, formatReport, providerStatus } from '../../src/kernel/platform.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = join(root, 'test', 'kernel', 'fixtures', 'platform');
const fixture = (name: string) => detectPlatform(join(FIXTURES, name), { euid: 0, machine: 'x86_64' });
const NO_KPROBES = 'the kernel has no kprobe events (/sys/kernel/tracing/kprobe_events is missing: it was built without CONFIG_KPROBE_EVENTS)';
const LOCKED = /^the kernel is locked down \(lockdown=confidentiality/;

/** Each fixture: the hypervisor as printed, and what fbt and syscall say there (null: usable). */
const EXPECTED: Record<string, { hypervisor: string; fbt: string | RegExp | null; syscall: RegExp | null }> = {
  vmware: { hypervisor: 'VMware', fbt: null, syscall: null },
  'vmware-efi': { hypervisor: 'VMware', fbt: null, syscall: null },
  virtualbox: { hypervisor: 'VirtualBox', fbt: null, syscall: null },
  hyperv: { hypervisor: 'Hyper-V', fbt: null, syscall: null },
  'ec2-xen-hvm': { hypervisor: 'Amazon EC2 Xen HVM', fbt: null, syscall: null },
  'ec2-xen-hvm-old': { hypervisor: 'Amazon EC2 Xen HVM', fbt: null, syscall: null },
  'ec2-xen-pv': { hypervisor: 'Xen PV, domU', fbt: null, syscall: null },
  'lab-xen-domu': { hypervisor: 'Xen PV, domU', fbt: null, syscall: null },
  'ec2-nitro': { hypervisor: 'Amazon EC2 Nitro (KVM)', fbt: null, syscall: null },
  kvm: { hypervisor: 'KVM', fbt: null, syscall: null },
  'qemu-tcg': { hypervisor: 'QEMU (emulated, no KVM)', fbt: null, syscall: null },
  firecracker: { hypervisor: 'Firecracker', fbt: NO_KPROBES, syscall: null },
  'bare-metal': { hypervisor: 'none (bare metal)', fbt: null, syscall: null },
  'lockdown-confidentiality': { hypervisor: 'none (bare metal)', fbt: LOCKED, syscall: LOCKED },
};

test('every fixture is classified, and every one is checked', () => {
  assert.deepEqual(fixtureNames(FIXTURES).sort(), Object.keys(EXPECTED).sort());
});

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`${name}: ${want.hypervisor}`, () => {
    const p = fixture(name);
    assert.equal(p.hypervisor, want.hypervisor, p.evidence);
    assert.equal(p.cpus > 0, true);
    assert.equal(providerStatus(p, 'dtrace'), null);
    assert.equal(providerStatus(p, 'profile'), null);
    const fbt = providerStatus(p, 'fbt');
    if (want.fbt instanceof RegExp) assert.match(fbt ?? '', want.fbt);
    else assert.equal(fbt, want.fbt);
    const syscall = providerStatus(p, 'syscall');
    if (want.syscall === null) assert.equal(syscall, null);
    else assert.match(syscall ?? '', want.syscall);
    // the report never fails, and names the platform on its hypervisor line
    assert.match(formatReport(p), new RegExp(`^ {2}hypervisor {8}${want.hypervisor.replace(/[()]/g, '\\$&')} \\(`, 'm'));
  });
}

test('the evidence names what told the platform', () => {
  assert.equal(fixture('ec2-xen-pv').evidence, '/sys/hypervisor/type: xen, guest_type: PV; /proc/xen/capabilities: no control_d');
  // a domU without xenfs: its domain UUID is not dom0's all-zero one
  assert.equal(fixture('lab-xen-domu').evidence, '/sys/hypervisor/type: xen, guest_type: PV; /sys/hypervisor/uuid: 439a539a-ee70-11f1-a048-e7daabbe8c3b');
  assert.equal(fixture('ec2-xen-hvm-old').evidence, '/sys/hypervisor/type: xen, no guest_type; DMI: Xen, HVM domU, 4.2.amazon');
  assert.match(fixture('virtualbox').evidence, /^DMI: innotek GmbH, VirtualBox/);
  assert.match(fixture('firecracker').evidence, /ACPI OEM ID FIRECK/);
  assert.match(fixture('hyperv').evidence, /\/sys\/bus\/vmbus/);
  assert.equal(fixture('qemu-tcg').evidence, 'DMI: QEMU, Standard PC (i440FX + PIIX, 1996), pc-i440fx-7.2; no kvm-clock');
});

test('providers: fbt needs kprobe events, pid and usdt uprobe events, lockdown and privileges stop everything in the kernel', () => {
  const fc = fixture('firecracker');
  assert.equal(providerStatus(fc, 'syscall'), null);
  assert.equal(providerStatus(fc, 'fbt'), NO_KPROBES);
  assert.equal(providerStatus(fixture('kvm'), 'fbt'), null);
  assert.equal(providerStatus(fixture('kvm'), 'pid'), null);
  assert.equal(providerStatus(fixture('kvm'), 'usdt'), null);
  assert.equal(providerStatus(fixture('kvm'), 'nfsv4'), 'dtrace-ts has no nfsv4 provider');
  const locked = fixture('lockdown-confidentiality');
  assert.equal(locked.lockdown, 'confidentiality');
  assert.match(providerStatus(locked, 'sdt')!, LOCKED);
  assert.equal(providerStatus(locked, 'dtrace'), null);
  assert.equal(fixture('bare-metal').lockdown, 'none');
  assert.equal(fixture('qemu-tcg').lockdown, 'none');
  // no securityfs mounted there: neither lockdown nor lsm can be read
  assert.equal(fixture('firecracker').lockdown, 'unknown');
  const user = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 1000 });
  assert.equal(providerStatus(user, 'fbt'), 'DTrace requires additional privileges (run it as root)');
  assert.equal(providerStatus(user, 'syscall'), 'DTrace requires additional privileges (run it as root)');
  assert.equal(providerStatus(user, 'profile'), null);
  assert.match(formatReport(user), /^ {2}privileges {8}not root \(euid 1000; perf_event_paranoid 3, unprivileged_bpf_disabled 2\): DTrace requires additional privileges \(run it as root\)$/m);
});

test('eprobes: the README syntax proves them before 6.17, the build option after', () => {
  // 6.1: README shows the syntax and the config has no CONFIG_EPROBE_EVENTS (they came with probe events)
  assert.equal(fixture('qemu-tcg').eprobes, null);
  // 6.18: README shows the syntax, but the option is off
  assert.equal(fixture('firecracker').eprobes, 'the kernel was built without CONFIG_EPROBE_EVENTS');
  assert.match(fixture('vmware').eprobes!, /^unknown: /);
});

test('copyin() goes through BPF where bpf() works, else through /proc at handling time', () => {
  const p = fixture('qemu-tcg');
  assert.match(p.bpf!, /^unknown: not checked/);
  assert.match(copyinMethod(p), /^read from \/proc\/PID\/mem when the event is handled/);
  const withBpf = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, bpfUnavailable: () => null });
  assert.match(copyinMethod(withBpf), /^BPF copies what tracepoint arguments point to when the probe fires/);
  const noBpf = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, bpfUnavailable: () => 'bpf(BPF_MAP_CREATE): Operation not permitted' });
  assert.match(formatReport(noBpf), /^ {2}BPF {15}no \(bpf\(BPF_MAP_CREATE\): Operation not permitted\)$/m);
});

test('-vV says which clauses run in the kernel: with BPF the compiled ones, without it none', () => {
  const withBpf = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, bpfUnavailable: () => null });
  assert.match(formatReport(withBpf), /^ {2}D in the kernel {3}yes: predicates, aggregations and thread-local variables of syscall, sdt, fbt, pid, usdt and profile clauses compile to BPF/m);
  const noBpf = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, bpfUnavailable: () => 'bpf(BPF_MAP_CREATE): Operation not permitted' });
  assert.match(formatReport(noBpf), /^ {2}D in the kernel {3}no \(bpf\(BPF_MAP_CREATE\): Operation not permitted\): every clause runs in dtrace/m);
});

test('profile-N samples CPUs with perf events where it can, else is a timer, and the report says which', () => {
  const unknown = formatReport(fixture('qemu-tcg'));
  assert.match(unknown, /^ {2}perf sampling {5}unknown \(not checked in a copy of another system\): profile-N fires from a timer/m);
  const yes = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, samplingUnavailable: () => null });
  assert.match(formatReport(yes), /^ {2}perf sampling {5}yes: profile-N samples every CPU with perf cpu-clock events \(tick-N is a timer in dtrace\)$/m);
  const no = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 1000, samplingUnavailable: () => 'perf_event_open: Permission denied' });
  assert.match(formatReport(no), /^ {2}perf sampling {5}no \(perf_event_open: Permission denied\); perf_event_paranoid \d+: profile-N fires from a timer in dtrace itself/m);
  // profile works either way
  assert.equal(providerStatus(no, 'profile'), null);
});

test('cpc: every event with hardware counters, the software events only without, and the report says why', () => {
  const root = { euid: 0, samplingUnavailable: () => null };
  const all = detectPlatform(join(FIXTURES, 'qemu-tcg'), { ...root, hardwareCountersUnavailable: () => null });
  assert.match(formatReport(all), /^ {2}hw counters {7}yes$/m);
  assert.match(formatReport(all), /^ {2}cpc {15}yes$/m);
  const why = 'this CPU exposes no performance monitoring unit (perf_event_open: No such file or directory)';
  const sw = detectPlatform(join(FIXTURES, 'qemu-tcg'), { ...root, hardwareCountersUnavailable: () => why });
  assert.ok(formatReport(sw).includes(`\n  hw counters       no: ${why}\n`));
  assert.ok(formatReport(sw).includes(`\n  cpc               software events only (cpu_clock, task_clock, page_faults, ...): hardware counters are not available: ${why}\n`));
  assert.equal(providerStatus(sw, 'cpc'), null);
  const none = detectPlatform(join(FIXTURES, 'qemu-tcg'), { euid: 0, samplingUnavailable: () => 'perf_event_open: No such file or directory', hardwareCountersUnavailable: () => why });
  assert.equal(providerStatus(none, 'cpc'), 'perf events cannot sample the CPUs (perf_event_open: No such file or directory)');
  assert.match(formatReport(none), /^ {2}cpc {15}no: perf events cannot sample the CPUs \(perf_event_open: No such file or directory\)$/m);
});

test('the report lists the platform, the kernel\'s interfaces and every provider', () => {
  const r = formatReport(fixture('qemu-tcg'));
  assert.match(r, /^Platform\n {2}hypervisor {8}QEMU \(emulated, no KVM\) \(DMI: QEMU, Standard PC \(i440FX \+ PIIX, 1996\), pc-i440fx-7\.2; no kvm-clock\)\n {2}kernel {12}6\.1\.0-50-cloud-amd64 x86_64\n {2}CPUs {14}2\n/);
  assert.match(r, /^ {2}CPU model {9}QEMU Virtual CPU version 2\.5\+$/m);
  assert.match(r, /^ {2}clocksource {7}hpet \(available: hpet acpi_pm\)$/m);
  assert.match(r, /^ {2}lockdown {10}none$/m);
  assert.match(r, /^Kernel interfaces\n {2}tracefs {11}\/sys\/kernel\/tracing\n {2}tracepoints {7}yes, 1372 events\n {2}kprobe events {5}yes\n {2}uprobe events {5}yes\n {2}eprobe events {5}yes\n/m);
  assert.match(r, /^Providers\n {2}dtrace {12}yes\n {2}profile {11}yes\n {2}cpc {15}unknown \(not checked in a copy of another system\)\n {2}syscall {11}yes\n {2}sdt {15}yes\n {2}rawtp {13}unknown \(not checked in a copy of another system\)\n {2}proc {14}yes\n {2}sched {13}yes\n {2}fbt {15}yes\n {2}pid {15}yes\n {2}usdt {14}yes\n/m);
  assert.match(formatReport(fixture('ec2-xen-pv')), /^ {2}hypervisor {8}Xen PV, domU \(\/sys\/hypervisor\/type: xen, guest_type: PV; \/proc\/xen\/capabilities: no control_d\)$/m);
});

test('a PREEMPT_RT kernel says so on its kernel line: /sys/kernel/realtime, or uname -v', () => {
  const dir = mkdtempSync(join(tmpdir(), 'platform-rt-'));
  try {
    const kernel = (files: Record<string, string>) => {
      rmSync(join(dir, 'proc'), { recursive: true, force: true });
      rmSync(join(dir, 'sys'), { recursive: true, force: true });
      for (const [f, text] of Object.entries({ 'proc/sys/kernel/osrelease': '6.1.0-50-rt-amd64\n', ...files })) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), text);
      }
      return /^ {2}kernel {12}(.*)$/m.exec(formatReport(detectPlatform(dir, { euid: 0, machine: 'x86_64' })))?.[1];
    };
    // what Debian's rt flavour shows (the lab's linux-6.1-rt guest)
    assert.equal(kernel({ 'sys/kernel/realtime': '1\n' }), '6.1.0-50-rt-amd64 x86_64 (PREEMPT_RT)');
    assert.equal(kernel({ 'proc/sys/kernel/version': '#1 SMP PREEMPT_RT Debian 6.1.176-1 (2026-07-02)\n' }), '6.1.0-50-rt-amd64 x86_64 (PREEMPT_RT)');
    assert.equal(kernel({ 'proc/sys/kernel/version': '#1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)\n' }), '6.1.0-50-rt-amd64 x86_64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** This project's development machine: the Firecracker guest the fixture was copied from. */
const FIRECRACKER_RELEASE = readFileSync(join(FIXTURES, 'firecracker', 'proc', 'sys', 'kernel', 'osrelease'), 'utf8').trim();
const onDevelopmentMachine = (() => {
  try {
    return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() === FIRECRACKER_RELEASE;
  } catch {
    return false;
  }
})();
const isRoot = process.geteuid?.() === 0;

test('this machine: Firecracker, tracefs, and no fbt for want of kprobe events', { skip: onDevelopmentMachine ? false : `not the development machine (kernel ${FIRECRACKER_RELEASE})` }, () => {
  const started = process.hrtime.bigint();
  const p = detectPlatform();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(p.hypervisor, 'Firecracker', p.evidence);
  assert.equal(p.cpus > 0, true);
  if (isRoot) {
    assert.equal(p.tracefs, '/sys/kernel/tracing');
    assert.equal(p.kprobeEvents, false);
    assert.equal(providerStatus(p, 'fbt'), NO_KPROBES);
    assert.equal(providerStatus(p, 'syscall'), null);
  } else {
    assert.equal(providerStatus(p, 'fbt'), 'DTrace requires additional privileges (run it as root)');
  }
  // cheap enough for -vV: files, one BPF map and (at most) one event probe made and removed
  assert.equal(ms < 500, true, `${ms} ms`);
});

test('dtrace -vV prints the version, then the report', () => {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-vV'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^dtrace: Oracle D 2\.0\nThis is dtrace-ts \S+\n\nPlatform\n {2}hypervisor {8}\S/);
  assert.match(r.stdout, /^Kernel interfaces\n {2}tracefs {11}\S/m);
  assert.match(r.stdout, /^Providers\n {2}dtrace {12}yes\n {2}profile {11}yes\n/m);
  const p = detectPlatform('/');
  if (isRoot && p.tracefs !== null) {
    const kprobes = existsSync(join(p.tracefs, 'kprobe_events'));
    assert.match(r.stdout, new RegExp(`^ {2}fbt {15}${kprobes ? 'yes' : 'no: the kernel has no kprobe events'}`, 'm'));
  }
  // plain -V is the version alone, as DTrace's
  const plain = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-V'], { encoding: 'utf8' });
  assert.equal(plain.stdout, 'dtrace: Oracle D 2.0\n');
});

const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

test('dtrace -vV as an unprivileged user: every kernel provider asks for root, nothing fails', { skip: isRoot && setpriv ? false : 'needs root and setpriv(1) to drop to nobody' }, () => {
  const r = spawnSync(setpriv!, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(root, 'dist', 'cli.js'), '-vV'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^ {2}privileges {8}not root \(euid 65534/m);
  assert.match(r.stdout, /^ {2}fbt {15}no: DTrace requires additional privileges \(run it as root\)$/m);
  assert.match(r.stdout, /^ {2}profile {11}yes$/m);
  if (onDevelopmentMachine) assert.match(r.stdout, /^ {2}hypervisor {8}Firecracker \(no DMI tables/m);
});

test('providers: rawtp needs BPF, and says so (unknown in a copy of another system)', () => {
  const at = (bpf: string | null) => detectPlatform(join(FIXTURES, 'kvm'), { euid: 0, machine: 'x86_64', bpfUnavailable: () => bpf });
  assert.equal(providerStatus(at(null), 'rawtp'), null);
  assert.equal(providerStatus(at('BPF use is turned off (DTRACE_TS_NO_BPF=1)'), 'rawtp'), 'raw tracepoints need BPF programs (BPF use is turned off (DTRACE_TS_NO_BPF=1))');
  assert.equal(providerStatus(fixture('kvm'), 'rawtp'), 'unknown: not checked in a copy of another system');
  assert.match(formatReport(at('bpf(BPF_MAP_CREATE): Operation not permitted')), /^ {2}rawtp {13}no: raw tracepoints need BPF programs \(bpf\(BPF_MAP_CREATE\): Operation not permitted\)$/m);
});

test('uprobe_multi: whether pid probes of one object can share one link, and why not', () => {
  const yes = detectPlatform('/', { bpfUnavailable: () => null, uprobeMultiUnavailable: () => null });
  assert.match(formatReport(yes), /^ {2}uprobe_multi {6}yes: pid probes of one object share one program and one link, made and removed at once$/m);
  const no = detectPlatform('/', { bpfUnavailable: () => null, uprobeMultiUnavailable: () => 'the kernel makes no uprobe_multi links (Linux 6.6+)' });
  assert.match(formatReport(no), /^ {2}uprobe_multi {6}no \(the kernel makes no uprobe_multi links \(Linux 6\.6\+\)\): a pid probe each takes a perf event, whose close waits for an RCU grace period$/m);
  assert.match(formatReport(fixture('qemu-tcg')), /^ {2}uprobe_multi {6}unknown \(not checked in a copy of another system\): /m);
});
