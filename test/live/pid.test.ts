// The pid provider on the live kernel: entry, return and offset probes on a program's functions
// and libc's, -l, -c and -p, and no uprobe event of a dtrace left once it has gone.

import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync } from 'node:fs';
import { uprobeMultiSupported } from '../../src/kernel/bpf/objects.js';
import { bpfUnavailable } from '../../src/kernel/bpf/sys.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TRACEFS, Tracing, liveUnavailable, root, runDtrace } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'pid-live-'));
const prog = join(dir, 'pid-target');
const loops: ChildProcess[] = [];
after(() => {
  for (const c of loops) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function unavailable(): string | false {
  const why = liveUnavailable();
  if (why !== null) return why;
  if (!existsSync(join(TRACEFS, 'uprobe_events'))) return 'the kernel has no uprobe events';
  const cc = spawnSync('cc', ['-O1', '-fno-inline', '-o', prog, join(root, 'test', 'live', 'programs', 'pid-target.c')], { encoding: 'latin1' });
  return cc.error || cc.status !== 0 ? `no C compiler: ${cc.error?.message ?? cc.stderr}` : false;
}
const skip = unavailable();

/** The uprobe events of a dtrace (its group's), as uprobe_events lists them. */
function uprobesOf(pid: number): string[] {
  return readFileSync(join(TRACEFS, 'uprobe_events'), 'latin1')
    .split('\n')
    .filter((l) => l.includes(`:dtrace_tsu_${pid}_`));
}

/** Those of its probes (not the loader's, watched for objects loaded later). */
function probesOf(pid: number): string[] {
  return uprobesOf(pid).filter((l) => !/\/dl_debug_state/.test(l));
}

test('entry probes give the arguments, return probes the return value (arg0 = 0, as Oracle)', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'pid$target::add3:entry { printf("%d %d %d\\n", arg0, arg1, arg2); } pid$target::add3:return { printf("ret %d %d\\n", arg0, arg1); }', '-c', prog]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '0 10 100\nret 0 110\n1 10 100\nret 0 111\n2 10 100\nret 0 112\n\n');
  assert.equal(r.code, 0);
  assert.deepEqual(uprobesOf(r.pid!), []);
});

test('arguments past the sixth come from the stack; probefunc, probemod and probename are the probe\'s', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'pid$target:a.out:many:entry { printf("%s:%s:%s %d %d %d\\n", probemod, probefunc, probename, arg5, arg6, arg7); }', '-c', prog]);
  assert.equal(r.stdout, 'pid-target:many:entry 6 7 8\n\n');
});

test('copyinstr() of an entry argument; libc\'s malloc by exact name, with and without its module', { skip }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'pid$target::greet:entry { printf("greet %s\\n", copyinstr(arg0)); }',
    '-n', 'pid$target:libc.so.6:malloc:entry /arg0 == 4321/ { printf("malloc %d\\n", arg0); }',
    '-n', 'pid$target::free:entry /arg0 != 0/ { @ = count(); }',
    '-c', prog,
  ]);
  assert.match(r.stdout, /^malloc 4321\ngreet hello, pid\n/);
  assert.match(r.stdout, /\n +[1-9]\d*\n$/);
});

test('an offset probe fires at that instruction; 0x4 and 4 are one probe', { skip }, () => {
  // the first instruction of add3, by offset: 0 is always one
  const r = runDtrace(['-q', '-n', 'pid$target:a.out:add3:0 { printf("%s %s\\n", probefunc, probename); } pid$target:a.out:add3:0x0 { @ = count(); }', '-c', prog]);
  assert.equal(r.stdout, 'add3 0\nadd3 0\nadd3 0\n\n                3\n');
});

test('-l lists the probes a description names, under pid<PID>', { skip }, () => {
  const r = runDtrace(['-l', '-n', 'pid$target:libc.so.6:str*:entry', '-c', '/bin/true']);
  assert.equal(r.code, 0);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.match(lines[0], /^ +ID +PROVIDER +MODULE +FUNCTION NAME$/);
  assert.ok(lines.length > 10);
  for (const l of lines.slice(1)) assert.match(l, /^ +\d+ +pid\d+ +libc\.so\.6 +str\S* entry$/);
  assert.ok(lines.some((l) => / strlen entry$/.test(l)));
  // an exact name: one probe per object that has it
  const m = runDtrace(['-l', '-n', 'pid$target::malloc:return', '-c', '/bin/true']);
  assert.match(m.stdout, /^ +\d+ +pid\d+ +libc\.so\.6 +malloc return$/m);
});

test('errors: DTrace\'s words for a missing process, function, bad name and offset', { skip }, () => {
  const gone = runDtrace(['-n', 'pid2147483600::malloc:entry']);
  assert.equal(gone.stderr, 'dtrace: invalid probe specifier pid2147483600::malloc:entry: failed to grab process 2147483600\n');
  assert.equal(gone.code, 1);
  const func = runDtrace(['-xerrtags', '-n', 'pid$target:a.out:nosuchfunc:entry', '-c', prog]);
  assert.equal(func.stderr, "dtrace: invalid probe specifier pid$target:a.out:nosuchfunc:entry: [D_PROC_FUNC] failed to lookup 'nosuchfunc' in module 'a.out'\n");
  const name = runDtrace(['-n', 'pid$target:a.out:add3:beginning', '-c', prog]);
  assert.match(name.stderr, /: 'beginning' is an invalid probe name\n$/);
  const off = runDtrace(['-n', 'pid$target:a.out:add3:10000', '-c', prog]);
  assert.match(off.stderr, /: offset 0x10000 outside of function 'add3'\n$/);
  const none = runDtrace(['-n', 'pid$target:nosuchlib.so::entry', '-c', prog]);
  assert.match(none.stderr, /: probe description pid\d+:nosuchlib\.so::entry does not match any probes\n$/);
});

test('-p: a running process; SIGTERM ends dtrace and its uprobe events go', { skip }, async () => {
  const loop = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(loop);
  await new Promise((r) => setTimeout(r, 100));
  // (a string variable keeps the clause in dtrace: the probe is a uprobe event)
  const d = new Tracing(['-q', '-n', 'pid$target::add3:return { s = "x"; printf("%d\\n", arg1); }', '-p', String(loop.pid)]);
  await d.ready();
  // the probe's, and the two on the loader that watch for objects loaded later
  assert.equal(probesOf(d.child.pid!).length, 1);
  assert.equal(uprobesOf(d.child.pid!).length, 3);
  await d.until(/^112$/m);
  const r = await d.stop('SIGTERM');
  assert.match(r.stdout, /^110\n111\n112\n/m);
  assert.deepEqual(uprobesOf(r.pid), []);
  loop.kill('SIGKILL');
});

test('a dtrace killed with SIGKILL leaves uprobe events the next dtrace removes', { skip }, async () => {
  const loop = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(loop);
  await new Promise((r) => setTimeout(r, 100));
  const d = new Tracing(['-q', '-n', 'pid$target::add3:entry, pid$target::greet:entry { s = "x"; }', '-p', String(loop.pid)]);
  await d.ready();
  const pid = d.child.pid!;
  assert.equal(probesOf(pid).length, 2);
  await d.stop('SIGKILL', 0);
  assert.equal(probesOf(pid).length, 2);
  assert.ok(uprobesOf(pid).length > 2);
  runDtrace(['-q', '-n', 'BEGIN { exit(0); }']);
  assert.deepEqual(uprobesOf(pid), []);
  loop.kill('SIGKILL');
});

test('a child of the process does not fire its probes, though it maps the same libc', { skip }, () => {
  // the shell's children run the program, which calls malloc(4321); the shell never does
  const r = runDtrace(['-q', '-n', 'pid$target:libc.so.6:malloc:entry /pid != $target || arg0 == 4321/ { printf("fired in %d\\n", pid); }', '-c', `/bin/sh -c ${prog};${prog}`]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '\n');
});

test('uregs[] with DTrace\'s register names: the argument registers at entry, %rax at return, %rsp as the ABI leaves it', { skip }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'pid$target::add3:entry { printf("%d %d %d %d %d %d %d\\n", uregs[R_RDI], uregs[R_RSI], uregs[R_RDX], uregs[R_PC] == uregs[R_RIP], uregs[R_PC] != 0, uregs[R_SP] % 16, uregs[R_TRAPNO]); }',
    '-n', 'pid$target::add3:return { printf("%d %d\\n", uregs[R_RAX], uregs[R_R0] == arg1); }',
    '-c', prog,
  ]);
  assert.equal(r.stderr, '');
  // after the call instruction pushed the return address, %rsp is 8 past a 16-byte boundary
  assert.equal(r.stdout, '0 10 100 1 1 8 0\n110 1\n1 10 100 1 1 8 0\n111 1\n2 10 100 1 1 8 0\n112 1\n\n');
});

test('a glob\'s function whose first instruction uprobes cannot take is left out with a warning; named exactly, it fails', { skip: skip || (process.arch !== 'x64' ? 'x86-64 only (lock prefix)' : false) }, () => {
  // pthread_spin_lock starts with "lock decl (%rdi)"
  const r = runDtrace(['-q', '-n', 'pid$target:libc.so.6:pthread_spin_*:entry, pid$target::add3:entry { @ = count(); }', '-c', prog]);
  assert.match(r.stderr, /^dtrace: failed to enable pid\d+:libc\.so\.6:pthread_spin_lock:entry: uprobes cannot take its instruction\n$/);
  assert.equal(r.stdout, '\n                3\n');
  assert.equal(r.code, 0);
  const one = runDtrace(['-q', '-n', 'pid$target:libc.so.6:pthread_spin_lock:entry', '-c', prog]);
  assert.match(one.stderr, /^dtrace: could not enable tracing: .*pthread_spin_lock_entry: /);
  assert.equal(one.code, 1);
});

/** The first byte of the function `fn` of the program as process `pid` has it in memory. */
function firstByte(pid: number, fn: string): number {
  const nm = spawnSync('nm', [prog], { encoding: 'latin1' }).stdout;
  const off = parseInt(/^([0-9a-f]+) T (\w+)$/m.exec(nm.split('\n').filter((l) => l.endsWith(` T ${fn}`)).join('\n'))![1], 16);
  const base = parseInt(readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n').find((l) => l.endsWith(prog))!.split('-')[0], 16);
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, base + off);
    return b[0];
  } finally {
    closeSync(fd);
  }
}

/** The byte at file offset `off` of `path` as process `pid` has it mapped (in an executable mapping). */
function byteAt(pid: number, path: string, off: number): number {
  for (const l of readFileSync(`/proc/${pid}/maps`, 'latin1').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp ([0-9a-f]+) \S+ \d+ +(\S+)$/.exec(l);
    if (m === null) continue;
    const [lo, hi, at] = [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)];
    if (off < at || off >= at + hi - lo) continue;
    // the same file under another name (/lib is /usr/lib)
    if (m[4] !== path && !(existsSync(m[4]) && statSync(m[4]).ino === statSync(path).ino)) continue;
    const fd = openSync(`/proc/${pid}/mem`, 'r');
    try {
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, lo + off - at);
      return b[0];
    } finally {
      closeSync(fd);
    }
  }
  throw new Error(`${path} at ${off.toString(16)} is not mapped by ${pid}`);
}

test('clauses that run in the kernel: the uprobe traps in the traced process only, not in another running the same program', { skip: skip || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false) }, async () => {
  const traced = spawn(prog, ['loop'], { stdio: 'ignore' });
  const other = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(traced, other);
  await new Promise((r) => setTimeout(r, 100));
  const before = firstByte(other.pid!, 'add3');
  const d = new Tracing(['-q', '-n', 'pid$target::add3:entry { @ = count(); }', '-p', String(traced.pid)]);
  await d.ready();
  await new Promise((r) => setTimeout(r, 300));
  // x86-64's breakpoint (int3) where the uprobe is: in the traced process only
  if (process.arch === 'x64') assert.equal(firstByte(traced.pid!, 'add3'), 0xcc);
  assert.equal(firstByte(other.pid!, 'add3'), before);
  const r = await d.stop('SIGINT');
  assert.match(r.stdout, /^\n\n +[1-9]\d*\n$/);
  traced.kill('SIGKILL');
  other.kill('SIGKILL');
});

test('a probe with a clause in the kernel and one in dtrace: both run, and the -c process starts (it hung)', { skip: skip || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false) }, () => {
  // SIGKILL: a dtrace stuck in a system call never gets to handle SIGTERM
  const r = runDtrace(['-q', '-n', 'pid$target::add3:entry { @ = count(); } pid$target::add3:entry { printf("%d\\n", arg0); } pid$target::add3:return { @r = sum(arg1); } pid$target::add3:return /arg1 > 111/ { printf("ret %d\\n", arg1); }', '-c', prog], { timeout: 20_000, killSignal: 'SIGKILL' });
  assert.equal(r.signal, null, `dtrace did not end: ${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '0\n1\n2\nret 112\n\n                3\n              333\n');
  assert.deepEqual(probesOf(r.pid!), []);
});

test('clauses that run in dtrace: the uprobe traps in the traced process only, not in another running the same program', { skip }, async () => {
  const traced = spawn(prog, ['loop'], { stdio: 'ignore' });
  const other = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(traced, other);
  await new Promise((r) => setTimeout(r, 100));
  const before = firstByte(other.pid!, 'add3');
  const d = new Tracing(['-q', '-n', 'pid$target::add3:entry { printf("%d %d\\n", pid, arg1); }', '-p', String(traced.pid)]);
  await d.ready();
  await d.until(/\n.*\n/);
  if (process.arch === 'x64') assert.equal(firstByte(traced.pid!, 'add3'), 0xcc);
  assert.equal(firstByte(other.pid!, 'add3'), before);
  // the loader's uprobe (objects loaded later) too: in the traced process only
  const loader = /^p:\S+\/dl_debug_state_entry (\S+):0x([0-9a-f]+)/m.exec(uprobesOf(d.child.pid!).join('\n'));
  assert.ok(loader !== null, uprobesOf(d.child.pid!).join('\n'));
  const [, ldPath, ldOff] = loader;
  if (process.arch === 'x64') assert.equal(byteAt(traced.pid!, ldPath, parseInt(ldOff, 16)), 0xcc);
  assert.notEqual(byteAt(other.pid!, ldPath, parseInt(ldOff, 16)), 0xcc);
  const r = await d.stop('SIGINT');
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 2, r.stdout);
  for (const l of lines) assert.equal(l, `${traced.pid} 10`);
  traced.kill('SIGKILL');
  other.kill('SIGKILL');
});

test('-p on a process whose threads already run: every thread fires the probe, the main one too', { skip }, async () => {
  const threads = join(dir, 'pid-threads');
  const cc = spawnSync('cc', ['-O1', '-fno-inline', '-pthread', '-o', threads, join(root, 'test', 'live', 'programs', 'pid-threads.c')], { encoding: 'latin1' });
  assert.equal(cc.status, 0, cc.stderr);
  const p = spawn(threads, [], { stdio: 'ignore' });
  loops.push(p);
  await new Promise((r) => setTimeout(r, 200));
  const d = new Tracing(['-q', '-n', 'pid$target::work:entry { @[arg0] = count(); }', '-p', String(p.pid)]);
  await d.ready();
  await new Promise((r) => setTimeout(r, 500));
  const r = await d.stop('SIGINT');
  assert.equal(r.stderr, '');
  const keys = r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/ +/)[0]).sort();
  assert.deepEqual(keys, ['0', '1', '2', '3'], r.stdout);
  p.kill('SIGKILL');
});

test('uregs[] in a clause that runs in the kernel: read from the uprobe program\'s pt_regs', { skip: skip || (process.arch !== 'x64' ? 'x86-64 register names' : false) || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false) }, () => {
  // DTRACE_TS_DEBUG says so if a clause is refused by the kernel and runs in dtrace
  const r = runDtrace(['-q', '-n', 'pid$target::add3:entry { @[uregs[R_RDI], uregs[R_RSI], uregs[R_PC] != 0] = count(); } pid$target::add3:return { @r = sum(uregs[R_RAX]); }', '-c', prog], { env: { DTRACE_TS_DEBUG: '1' } });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, '\n                0               10        1                1\n                1               10        1                1\n                2               10        1                1\n              333\n');
});

/** The uprobe_multi links a process holds (Linux 6.6+), by what /proc/PID/fdinfo says of its descriptors. */
function uprobeMultiLinks(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (/^link_type:\s+u(?:ret)?probe_multi$/m.test(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'))) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const multiSkip = skip || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false) || (!uprobeMultiSupported() ? 'the kernel makes no uprobe_multi links (Linux 6.6+)' : false);

test('clauses in the kernel on many functions: one uprobe_multi link for each object and direction, counts as with a uprobe each', { skip: multiSkip }, async () => {
  const script = 'pid$target:a.out::entry, pid$target:a.out::return, pid$target:libc.so.6:strcpy:entry { @[probefunc, probename] = count(); } END { printa("%s %s %@d\\n", @); }';
  const together = runDtrace(['-q', '-n', script, '-c', prog]);
  const apart = runDtrace(['-q', '-n', script, '-c', prog], { env: { DTRACE_TS_NO_UPROBE_MULTI: '1' } });
  assert.equal(together.stderr, '');
  const lines = together.stdout.split('\n');
  for (const l of ['add3 entry 3', 'add3 return 3', 'greet entry 1', 'greet return 1', 'many entry 1', 'many return 1', 'main entry 1', 'strcpy entry 1']) assert.ok(lines.includes(l), `${l} in ${together.stdout}`);
  assert.equal(together.stdout, apart.stdout);
  assert.deepEqual(probesOf(together.pid!), []);
  // running: no uprobe event of the probes, three links (a.out's entries and returns, libc's entry)
  const looping = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(looping);
  const d = new Tracing(['-q', '-n', script, '-p', String(looping.pid)]);
  await d.ready();
  assert.deepEqual(probesOf(d.child.pid!), []);
  assert.equal(uprobeMultiLinks(d.child.pid!), 3);
  const r = await d.stop('SIGINT');
  assert.match(r.stdout, /^add3 entry [1-9]\d*$/m);
  looping.kill('SIGKILL');
});

test('-S: one program serves a uprobe_multi link, the firing probe by its cookie', { skip: multiSkip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'pid$target:a.out:add3:entry, pid$target:a.out:many:entry { @[probefunc] = count(); }', '-c', prog]);
  assert.match(r.stderr, /^Disassembly of the BPF program on pid\d+:pid-target::entry \(2 functions, one uprobe_multi link on \S+pid-target\) /m);
  assert.match(r.stderr, /call bpf_get_attach_cookie\n/);
});

const firingSkip = skip || (bpfUnavailable() !== null ? `no BPF: ${bpfUnavailable()}` : false) || (!existsSync('/sys/kernel/btf/vmlinux') ? 'no kernel BTF' : false);

test('a clause that prints reads kernel memory and who fired the probe as it fired (a capture program on the uprobe), stack arguments too', { skip: firingSkip }, () => {
  const r = runDtrace([
    '-q',
    '-n', 'pid$target::add3:entry { printf("%s %d %d %d %s %d\\n", stringof(curthread->comm), curthread->tgid == pid, arg0, arg2, execname, uid); }',
    '-n', 'pid$target::many:entry { printf("%d %d %d %d\\n", arg5, arg6, arg7, curthread->pid == tid); }',
    '-n', 'pid$target::add3:return /arg1 == 112/ { printf("ret %d %d\\n", arg1, curthread->tgid == pid); }',
    '-c', prog,
  ]);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'pid-target 1 0 100 pid-target 0\npid-target 1 1 100 pid-target 0\npid-target 1 2 100 pid-target 0\nret 112 1\n6 7 8 1\n\n');
  assert.deepEqual(probesOf(r.pid!), []);
});

test('clauses in dtrace that print on many functions: one capture program on one uprobe_multi link writes their records, as a uprobe event each would', { skip: multiSkip }, async () => {
  // (a string variable keeps the clause in dtrace)
  const script = 'pid$target:a.out::entry, pid$target:a.out::return { s = "x"; printf("%s %s %d\\n", probefunc, probename, probefunc == "add3" && probename == "entry" ? arg1 : 0); }';
  const together = runDtrace(['-q', '-n', script, '-c', prog]);
  const apart = runDtrace(['-q', '-n', script, '-c', prog], { env: { DTRACE_TS_NO_UPROBE_MULTI: '1' } });
  assert.equal(together.stderr, '');
  assert.match(together.stdout, /^add3 entry 10\nadd3 return 0\n/m);
  assert.equal(together.stdout, apart.stdout);
  // a glob's lock-prefixed function is still left out with a warning
  const spin = runDtrace(['-q', '-n', 'pid$target:libc.so.6:pthread_spin_*:entry, pid$target::add3:entry { printf("%s\\n", probefunc); }', '-c', prog]);
  if (process.arch === 'x64') assert.match(spin.stderr, /^dtrace: failed to enable pid\d+:libc\.so\.6:pthread_spin_lock:entry: uprobes cannot take its instruction\n$/);
  assert.equal(spin.stdout, 'add3\nadd3\nadd3\n\n');
  // running: two links (entries, returns), no perf event per probe
  const looping = spawn(prog, ['loop'], { stdio: 'ignore' });
  loops.push(looping);
  const d = new Tracing(['-q', '-n', script, '-p', String(looping.pid)]);
  await d.ready();
  await d.until(/^add3 entry 10$/m);
  assert.equal(uprobeMultiLinks(d.child.pid!), 2);
  const r = await d.stop('SIGINT');
  assert.equal(r.code, 0, r.stderr);
  looping.kill('SIGKILL');
});
