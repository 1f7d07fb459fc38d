// The capability report: which platform this is, and what each provider can do on it, told
// from copies of what real systems show in /sys and /proc (test/kernel/fixtures/platform, each
// with its SOURCE.md), and from this machine itself.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { detectPlatform, fixtureNames, formatReport, providerStatus } from '../../src/kernel/platform.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = join(root, 'test', 'kernel', 'fixtures', 'platform');
const fixture = (name: string) => detectPlatform(join(FIXTURES, name), { euid: 0, machine: 'x86_64' });

const EXPECTED: Record<string, string> = {
  vmware: 'VMware',
  'vmware-efi': 'VMware',
  virtualbox: 'VirtualBox',
  hyperv: 'Hyper-V',
  'ec2-xen-hvm': 'Amazon EC2 Xen HVM',
  'ec2-xen-hvm-old': 'Amazon EC2 Xen HVM',
  'ec2-xen-pv': 'Xen PV',
  'ec2-nitro': 'Amazon EC2 Nitro (KVM)',
  kvm: 'KVM',
  firecracker: 'Firecracker',
  'bare-metal': 'none (bare metal)',
  'lockdown-confidentiality': 'none (bare metal)',
};

test('every fixture is classified, and every one is checked', () => {
  assert.deepEqual(fixtureNames(FIXTURES).sort(), Object.keys(EXPECTED).sort());
});

for (const [name, hypervisor] of Object.entries(EXPECTED)) {
  test(`${name}: ${hypervisor}`, () => {
    const p = fixture(name);
    assert.equal(p.hypervisor, hypervisor, p.evidence);
    assert.equal(p.cpus > 0, true);
  });
}

test('the evidence names what told the platform', () => {
  assert.match(fixture('ec2-xen-pv').evidence, /^\/sys\/hypervisor\/type: xen, guest_type: PV$/);
  assert.match(fixture('ec2-xen-hvm-old').evidence, /no guest_type; DMI: Xen, HVM domU, 4\.2\.amazon/);
  assert.match(fixture('virtualbox').evidence, /^DMI: innotek GmbH, VirtualBox/);
  assert.match(fixture('firecracker').evidence, /ACPI OEM ID FIRECK/);
  assert.match(fixture('hyperv').evidence, /\/sys\/bus\/vmbus/);
});

test('providers: fbt needs kprobe events, pid and usdt are not there yet, lockdown and privileges stop everything in the kernel', () => {
  const fc = fixture('firecracker');
  assert.equal(providerStatus(fc, 'syscall'), null);
  assert.equal(providerStatus(fc, 'fbt'), 'the kernel has no kprobe events (/sys/kernel/tracing/kprobe_events is missing: it was built without CONFIG_KPROBE_EVENTS)');
  assert.equal(providerStatus(fixture('kvm'), 'fbt'), null);
  assert.match(providerStatus(fixture('kvm'), 'pid')!, /does not implement it yet/);
  const locked = fixture('lockdown-confidentiality');
  assert.equal(locked.lockdown, 'confidentiality');
  assert.match(providerStatus(locked, 'syscall')!, /locked down/);
  assert.equal(providerStatus(locked, 'dtrace'), null);
  assert.equal(fixture('bare-metal').lockdown, 'none');
  const user = detectPlatform(join(FIXTURES, 'kvm'), { euid: 1000 });
  assert.equal(providerStatus(user, 'fbt'), 'DTrace requires additional privileges (run it as root)');
  assert.equal(providerStatus(user, 'profile'), null);
});

test('the report lists the platform, the kernel\'s interfaces and every provider', () => {
  const r = formatReport(fixture('ec2-xen-pv'));
  assert.match(r, /^Platform\n  hypervisor        Xen PV \(\/sys\/hypervisor\/type: xen, guest_type: PV\)\n  kernel            4\.4\.0-1128-aws x86_64\n  CPUs              2\n/);
  assert.match(r, /^  kprobe events     yes$/m);
  assert.match(r, /^  fbt               yes$/m);
  assert.match(r, /^  pid               no: dtrace-ts does not implement it yet/m);
});

test('this machine, as dtrace -vV reports it', { skip: process.geteuid?.() !== 0 ? 'needs root' : false }, () => {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-vV'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^dtrace: Oracle D 2\.0\nThis is dtrace-ts \S+\n\nPlatform\n  hypervisor        \S/);
  assert.match(r.stdout, /^Providers\n  dtrace            yes\n/m);
  const p = detectPlatform('/');
  const kprobes = existsSync(join(p.tracefs ?? '/sys/kernel/tracing', 'kprobe_events'));
  assert.equal(p.kprobeEvents, kprobes);
  assert.match(r.stdout, new RegExp(`^  fbt               ${kprobes ? 'yes' : 'no: the kernel has no kprobe events'}`, 'm'));
});
