// The rawtp provider on the live kernel: raw tracepoints fire with the values the kernel passes
// (sys_enter's system call number, sys_exit's return value), counted exactly for a workload
// with a known mix of calls, in the kernel (BPF clauses) and in dtrace alike; -l lists every
// tracepoint, -lv types the arguments from BTF; the programs and links are the dtrace
// process's descriptors and are gone with it however it ends; without BPF, a clear refusal.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { TRACEFS, Tracing, liveUnavailable, runDtrace, syscallMixWorkload } from './harness.js';
import { kernelBtf } from '../../src/kernel/btf.js';

const { prog, skip } = syscallMixWorkload('rawtp');

const N = 3000;
const SYS_READ = 0;
const SYS_LSEEK = 8;
const SYS_GETPPID = 110;

/** Lines "key count" of a printa of one aggregation, as a map. */
function counts(out: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of out.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length === 2) m.set(f[0], Number(f[1]));
  }
  return m;
}

test('rawtp:::sys_enter: args[1] is the system call number, counted in the kernel', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'rawtp:::sys_enter /pid == $target/ { @[args[1]] = count(); } END { printa("%d %@d\\n", @); }', '-c', `${prog} ${N}`], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const c = counts(r.stdout);
  // the dynamic loader reads and seeks too; only the loop calls getppid()
  assert.ok(c.get(String(SYS_READ))! >= N);
  assert.ok(c.get(String(SYS_LSEEK))! >= N);
  assert.equal(c.get(String(SYS_GETPPID)), N);
});

test('rawtp:::sys_enter: the same counts when the clause runs in dtrace (printf)', { skip }, () => {
  const r = runDtrace(['-q', '-n', `rawtp:::sys_enter /pid == $target && arg1 == ${SYS_GETPPID}/ { printf("%s %d %d\\n", probefunc == "" ? probename : probefunc, tid == pid, args[1]); }`, '-c', `${prog} ${N}`], {
    timeout: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, N);
  assert.ok(lines.every((l) => l === `sys_enter 1 ${SYS_GETPPID}`), lines[0]);
});

test('rawtp:::sys_exit: args[1] is the return value (-EBADF, and the parent for getppid)', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'rawtp:::sys_exit /pid == $target/ { @[(long)args[1] == ppid ? 0 : (long)args[1]] = count(); } END { printa("%d %@d\\n", @); }', '-c', `${prog} ${N}`], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const c = counts(r.stdout);
  // read() of a bad descriptor and lseek() of a negative one: EBADF; getppid(): the parent
  assert.equal(c.get('-9'), 2 * N);
  assert.ok((c.get('0') ?? 0) >= N, r.stdout);
});

test('rawtp:sched::sched_process_exec fires for the exec of the target with its pointers', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'rawtp:sched::sched_process_exec /pid == $target/ { printf("%s %d %d %d\\n", probemod, args[0] != 0, arg1 == pid, args[2] != 0); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), ['sched 1 1 1']);
});

test('a clause in dtrace reads kernel memory through rawtp pointers, as the probe fired', { skip }, () => {
  // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm): the
  // task's fields and the binprm's file name are read by the probe's program as it fires (and
  // who fired it: ppid, uid); the clause itself prints, so it runs in dtrace
  const r = runDtrace(
    ['-q', '-n', 'rawtp:sched::sched_process_exec /pid == $target/ { printf("%s %d %d %s %d %d\\n", stringof(args[0]->comm), args[0]->pid == pid, args[0]->tgid == arg1, stringof(args[2]->filename), ppid == curthread->real_parent->tgid, uid); }', '-c', `${prog} 1`],
  );
  assert.equal(r.code, 0, r.stderr);
  // the name is the new program's: the tracepoint fires after exec has set it
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), [`syscall-mix 1 1 ${prog} 1 0`]);
});

/** Groups of available_events that are no raw tracepoints: as the provider leaves them out. */
function rawEvents(): string[] {
  const dynamic = new Set<string>();
  if (existsSync(`${TRACEFS}/dynamic_events`)) {
    for (const l of readFileSync(`${TRACEFS}/dynamic_events`, 'latin1').split('\n')) {
      const m = /^\S+:([^/\s]+)\//.exec(l);
      if (m) dynamic.add(m[1]);
    }
  }
  return readFileSync(`${TRACEFS}/available_events`, 'latin1')
    .split('\n')
    .filter((l) => l !== '')
    .filter((l) => {
      const g = l.slice(0, l.indexOf(':'));
      return !['syscalls', 'kprobes', 'uprobes', 'ftrace'].includes(g) && !g.startsWith('dtrace_ts') && !dynamic.has(g);
    });
}

test('-l -P rawtp lists every tracepoint as rawtp:<group>::<event>, each one BTF knows', { skip }, () => {
  const events = rawEvents();
  const r = runDtrace(['-l', '-P', 'rawtp']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').slice(1).filter((l) => l !== '');
  assert.equal(lines.length, events.length);
  assert.match(r.stdout, /^ +\d+ +rawtp +sched +sched_switch$/m);
  assert.match(r.stdout, /^ +\d+ +rawtp +raw_syscalls +sys_enter$/m);
  const btf = kernelBtf();
  if (btf !== null) {
    // every one is a raw tracepoint (BTF has its btf_trace_ typedef)
    const names = lines.map((l) => l.trim().split(/\s+/).at(-1)!);
    assert.deepEqual(
      names.filter((n) => btf.functionPointerParams(`btf_trace_${n}`) === null),
      [],
    );
  }
});

test('-lv types the arguments from BTF, with Oracle stability attributes', { skip }, () => {
  const r = runDtrace(['-lv', '-n', 'rawtp:::sched_process_fork']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /sched_process_fork\n\n\tProbe Description Attributes\n\t\tIdentifier Names: Private\n\t\tData Semantics:   Private\n\t\tDependency Class: Unknown\n\n\tArgument Attributes\n\t\tIdentifier Names: Private\n\t\tData Semantics:   Private\n\t\tDependency Class: ISA\n\n\tArgument Types\n\t\targs\[0\]: struct task_struct \*\n\t\targs\[1\]: struct task_struct \*\n\n/,
  );
  const s = runDtrace(['-lv', '-n', 'rawtp:raw_syscalls::sys_enter']);
  assert.match(s.stdout, /\t\targs\[0\]: struct pt_regs \*\n\t\targs\[1\]: long int\n\n/);
});

test('a tracepoint no group lists is rawtp:vmlinux::<name> when named', { skip }, () => {
  const btf = kernelBtf();
  const listed = new Set(rawEvents().map((l) => l.slice(l.indexOf(':') + 1)));
  const bare = ['pelt_cfs_tp', 'sched_overutilized_tp', 'sched_update_nr_running_tp'].find((n) => !listed.has(n) && btf?.functionPointerParams(`btf_trace_${n}`));
  if (bare === undefined) return;
  const r = runDtrace(['-l', '-n', `rawtp:::${bare}`]);
  assert.match(r.stdout, new RegExp(`^ +\\d+ +rawtp +vmlinux +${bare}$`, 'm'));
});

/** The BPF links a process holds, by their link ids (from fdinfo). */
function links(pid: number): number[] {
  const out: number[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:bpf_link') continue;
      const m = /^link_id:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
      if (m) out.push(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Raw tracepoint links the kernel has (bpftool), or null without bpftool. */
function kernelLinks(): Set<number> | null {
  const r = spawnSync('bpftool', ['-j', 'link', 'list'], { encoding: 'latin1' });
  if (r.error || r.status !== 0) return null;
  return new Set((JSON.parse(r.stdout) as Array<{ id: number }>).map((l) => l.id));
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
  test(`the raw tracepoint links are the process's, and gone after ${signal}`, { skip }, async () => {
    const t = new Tracing(['-q', '-n', 'rawtp:::sched_switch { @s = count(); } rawtp:::sys_enter /pid == 1/ { printf("%d\\n", arg1); }']);
    await t.ready();
    const mine = links(t.child.pid!);
    assert.equal(mine.length, 2);
    const before = kernelLinks();
    if (before !== null) for (const id of mine) assert.ok(before.has(id));
    const r = await t.stop(signal);
    assert.equal(r.signal === 'SIGKILL' || r.code === 0, true, r.stderr);
    const now = kernelLinks();
    if (now !== null) for (const id of mine) assert.ok(!now.has(id), `link ${id} is still there`);
    // and the next dtrace runs them again
    const again = runDtrace(['-q', '-n', 'rawtp:::sys_enter /pid == $target/ { @ = count(); } END { printa("%@d\\n", @); }', '-c', `${prog} 10`]);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(Number(again.stdout.trim()) >= 30);
  });
}

test('without BPF there is no rawtp provider, and naming it says why', { skip: liveUnavailable() ?? false }, () => {
  const env = { DTRACE_TS_NO_BPF: '1' };
  const r = runDtrace(['-n', 'rawtp:::sys_enter { }'], { env });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'dtrace: invalid probe specifier rawtp:::sys_enter { }: rawtp probes are not available: BPF use is turned off (DTRACE_TS_NO_BPF=1)\n');
  const l = runDtrace(['-l', '-n', ':::sys_enter'], { env });
  assert.doesNotMatch(l.stdout, /rawtp/);
  const v = runDtrace(['-vV'], { env });
  assert.match(v.stdout, /^ {2}rawtp +no: raw tracepoints need BPF programs \(BPF use is turned off \(DTRACE_TS_NO_BPF=1\)\)$/m);
});
