// Clauses that print, run in the kernel: the kernel evaluates the predicate and the values the
// output actions print and sends one record per firing, which dtrace formats. What they print
// is what the same program prints in dtrace (DTRACE_TS_NO_BPF=1), line for line and in order;
// a full ring's records are counted as drops; a fault is reported in its place.

import { strict as assert } from 'node:assert';
import { basename } from 'node:path';
import { test } from 'node:test';
import { root, runDtrace, syscallMixWorkload } from './harness.js';

const { prog, skip } = syscallMixWorkload('kernel-print');

/** Runs a program under -c on the workload (`n` rounds), with BPF or without. */
function run(args: string[], n: number, bpf: boolean): { out: string; err: string; code: number | null } {
  const r = runDtrace([...args, '-c', `${prog} ${n}`], { env: bpf ? {} : { DTRACE_TS_NO_BPF: '1' }, timeout: 60_000 });
  return { out: r.stdout, err: r.stderr, code: r.code };
}

/** Whether -S says the clause at `index` (in program order) runs in the kernel. */
function clauseInKernel(program: string, index: number): boolean {
  const r = runDtrace(['-S', '-q', '-n', program, '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const block = r.stderr.split('\nDisassembly of clause ').slice(1)[index];
  assert.ok(block !== undefined, r.stderr);
  return /^[^\n]*\nruns in the kernel, as BPF/.test(block);
}

const SAME = [
  // integers of each width and sign, execname, the probe's names, a literal
  'syscall::read:entry /pid == $target/ { printf("%d %d %u %d %s %s:%s %s\\n", arg0, (int)arg2, (unsigned int)arg2, (char)arg2, execname, probefunc, probename, "lit"); }',
  'syscall::lseek:entry /pid == $target/ { trace(arg1); trace((short)arg1); trace(execname); printf("\\n"); }',
  // thread-locals across entry and return, and two clauses on one probe in order
  'syscall::read:entry /pid == $target/ { self->fd = arg0; self->ts = timestamp; } syscall::read:return /self->ts/ { printf("%d %d %d\\n", self->fd, arg0, timestamp - self->ts > 0); self->ts = 0; } syscall::read:return /pid == $target/ { printf("second %d\\n", arg1); }',
  // aggregations beside printing, printed at the end
  'syscall::getppid:entry /pid == $target/ { @n = count(); n++; printf("%d\\n", n); }',
  // an empty clause: the default action (-q prints nothing for it; beside another that prints)
  'syscall::getppid:entry /pid == $target/ { } syscall::getppid:entry /pid == $target/ { printf("p\\n"); }',
  // arithmetic keeps 64 bits until a value is stored, printed, compared or cast, as in dtrace
  'syscall::lseek:entry /pid == $target/ { this->c = (char)arg1; this->u = (unsigned int)arg1; printf("%d %d %d %d %u %d %d %d\\n", this->c * 3, -this->c, ~(short)arg1, (unsigned char)arg1 << 30, this->u * 2u, (long)(this->u + 1u), (int)arg0 - 1, (long)((int)arg1 + 0x7fffffff)); printf("%d %d %d %d %d %d\\n", (int)arg1 + 0x7fffffff > 0L, (int)arg1 * 4 < (long)arg1, arg0 == -1, (unsigned int)arg0 == -1, ((int)arg1 + 0x7fffffff) >> 1, (arg1 & 1 ? (int)arg1 + 0x7fffffff : (unsigned short)arg1) + 1L); self->s = (short)arg1; self->s += 30000; self->s *= 3; self->s >>= 2; self->i = (int)arg1; self->i -= 0x7fffffff; self->i /= 3; self->i %= 1000; printf("%d %d %d\\n", self->s, self->i, (int)(self->i + 0x7fffffff) == self->i + 0x7fffffff); }',
  // arguments past a system call's own are 0 (as in Oracle's DTrace), both ways
  'syscall::getppid:entry /pid == $target/ { printf("%d %d %d\\n", arg0, arg5, arg9); } syscall::read:return /pid == $target/ { printf("%d %d %d\\n", arg1, arg2, arg5); }',
  // a predicate on a global, updated in the kernel
  'syscall::read:entry /pid == $target/ { k = arg0; } syscall::lseek:entry /k == 103/ { printf("after 103: %d\\n", arg0); }',
];

for (const [i, program] of SAME.entries()) {
  test(`printing in the kernel prints what dtrace prints: program ${i + 1}`, { skip }, () => {
    assert.ok(clauseInKernel(program, 0), 'the first clause runs in the kernel');
    const k = run(['-q', '-n', program], 40, true);
    const t = run(['-q', '-n', program], 40, false);
    assert.equal(k.code, 0, k.err);
    assert.equal(t.code, 0, t.err);
    assert.equal(k.err, t.err);
    assert.ok(k.out.length > 0);
    assert.equal(k.out, t.out);
  });
}

test('printa() in a clause in the kernel prints the aggregations as dtrace does', { skip }, () => {
  // the process's last call: every read() it made is counted by then
  const program =
    'syscall::read:entry /pid == $target/ { @r[arg0] = count(); @s[arg0] = sum(arg2); } ' +
    'syscall::exit_group:entry /pid == $target/ { printa("%d %@d %@d\\n", @r, @s); printa(@r); exit(0); }';
  assert.ok(clauseInKernel(program, 1), 'the printa() clause runs in the kernel');
  const k = run(['-q', '-n', program], 40, true);
  const t = run(['-q', '-n', program], 40, false);
  assert.equal(k.code, 0, k.err);
  assert.equal(k.out, t.out);
  assert.match(k.out, /^100 8 1180$/m);
});

test('stack() on a sampling probe in the kernel prints the interrupted kernel stack; on a tracepoint it stays in dtrace', { skip }, () => {
  assert.ok(!clauseInKernel('syscall::getppid:entry /pid == $target/ { stack(); }', 0));
  const program = 'profile-997 /pid == $target/ { stack(); }';
  assert.ok(clauseInKernel(program, 0));
  const r = run(['-q', '-n', program], 300_000, true);
  assert.equal(r.code, 0, r.err);
  // the workload spends its time in system calls: some samples are in the kernel's entry code
  assert.match(r.out, /^ +vmlinux`entry_SYSCALL_64\S*\+0x[0-9a-f]+$/m);
});

test('the default action of a clause in the kernel prints the probe, as in dtrace', { skip }, () => {
  const program = 'syscall::getppid:entry /pid == $target/ {}';
  assert.ok(clauseInKernel(program, 0));
  // the CPU column is where each ran: the rest is the same
  const strip = (s: string) => s.replace(/^ *\d+ /gm, '');
  const k = run(['-n', program], 5, true);
  const t = run(['-n', program], 5, false);
  assert.equal(k.code, 0, k.err);
  assert.equal(strip(k.out), strip(t.out));
  assert.equal(k.out.split('\n').filter((l) => /getppid:entry *$/.test(l)).length, 5);
});

test('exit() in a clause in the kernel ends tracing with its status; what it printed first comes out', { skip }, () => {
  const program = 'syscall::read:entry /pid == $target && arg0 == 102/ { printf("fd %d\\n", arg0); exit(7); }';
  assert.ok(clauseInKernel(program, 0));
  const k = run(['-q', '-n', program], 100000, true);
  assert.equal(k.code, 7, k.err);
  assert.equal(k.out, 'fd 102\n\n');
});

test('copyinstr() and kernel strings are read in the kernel as the probe fires', { skip }, () => {
  // openat()'s path: a process that has exited by the time dtrace reads the record still shows it
  const program = 'syscall::openat:entry /execname == "cat"/ { printf("%s %s %s\\n", copyinstr(arg1), stringof(curthread->comm), execname); }';
  assert.ok(clauseInKernel(program, 0));
  const r = runDtrace(['-q', '-n', program, '-c', '/bin/cat /nonexistent-dtrace-ts-path'], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\/nonexistent-dtrace-ts-path cat cat$/m);
});

test('a printing clause beside one that cannot run in the kernel stays in dtrace, so the firing prints in clause order', { skip }, () => {
  const program = 'syscall::getppid:entry /pid == $target/ { printf("a"); } syscall::getppid:entry /pid == $target/ { this->s = "x"; printf("b\\n"); }';
  assert.ok(!clauseInKernel(program, 0));
  const k = run(['-q', '-n', program], 3, true);
  assert.equal(k.code, 0, k.err);
  assert.equal(k.out, 'ab\nab\nab\n\n');
});

test('records a full ring could not take are drops; printed plus dropped is every firing', { skip }, () => {
  const n = 100_000;
  const r = run(['-q', '-b', '16k', '-x', 'switchrate=1s', '-n', 'syscall::getppid:entry /pid == $target/ { printf("%d\\n", tid); }'], n, true);
  assert.equal(r.code, 0, r.err);
  let dropped = 0;
  for (const m of r.err.matchAll(/^dtrace: (\d+) drops? on CPU \d+$/gm)) dropped += Number(m[1]);
  const printed = r.out.split('\n').filter((l) => /^\d+$/.test(l)).length;
  assert.ok(dropped > 0, `a 16 KiB ring should have overflowed:\n${r.err}`);
  assert.equal(printed + dropped, n, `printed ${printed}, dropped ${dropped}\n${r.err}`);
});

test('-S: a tick clause that prints, or reads nothing of the sample, runs in dtrace (with its timer); a profile-N one in the kernel', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'tick-1s { printf("%d\\n", arg0); exit(0); } profile-99 /arg0 == 1/ { printf("%d\\n", arg0); } tick-1s { @ = count(); } tick-1s /arg0 != 0/ { @k = count(); }']);
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /^tick-1s, <dt_clause_\d+>:\nruns in the consumer, as JavaScript/);
  assert.match(blocks[1], /^profile-99, <dt_clause_\d+>:\nruns in the kernel, as BPF/);
  // one that reads nothing of the sample stays with the timer too; one that reads it runs on the samples
  assert.match(blocks[2], /^tick-1s, <dt_clause_\d+>:\nruns in the consumer, as JavaScript/);
  assert.match(blocks[3], /^tick-1s, <dt_clause_\d+>:\nruns in the kernel, as BPF/);
});


const userMemory = syscallMixWorkload('kernel-print-strings', 'user-memory');

/** Runs a program under -c on the user-memory workload (`n` rounds), with BPF or without. */
function runOnUserMemory(args: string[], n: number, bpf: boolean): { out: string; err: string; code: number | null } {
  const r = runDtrace([...args, '-c', `${userMemory.prog} ${n}`], { env: bpf ? {} : { DTRACE_TS_NO_BPF: '1' }, timeout: 60_000 });
  // without BPF dtrace says that it reads user memory late
  return { out: r.stdout, err: r.stderr.replace(/^dtrace: copyin\(\) and copyinstr\(\) read user memory when events are handled.*\n/m, ''), code: r.code };
}

/** Which clauses -S says run in the kernel, in program order. */
function clausesInKernel(args: string[]): boolean[] {
  const r = runDtrace(['-S', ...args, '-c', `${userMemory.prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stderr
    .split('\nDisassembly of clause ')
    .slice(1)
    .map((block) => /^[^\n]*\nruns in the kernel, as BPF/.test(block));
}

const STRINGS = [
  // the script: a path kept from entry to return, printed and counted, then freed
  'syscall::openat:entry /pid == $target/ { self->path = copyinstr(arg1); } syscall::openat:return /self->path != NULL/ { printf("%s %d\\n", self->path, arg1); @[self->path] = count(); self->path = 0; }',
  // assigned a literal, execname, another variable (an unset one frees it); compared with
  // literals, NULL and each other (unset ones equal only each other and NULL)
  'self string x, y; syscall::openat:entry /pid == $target/ { self->p = copyinstr(arg1); self->e = execname; self->l = "/nonexistent/a"; self->q = self->p; } syscall::openat:return /pid == $target && (self->p == self->l || self->q == "/nonexistent/bb/ccc" || self->q == "")/ { printf("[%s] %s %d %d %d %d\\n", self->q, self->e, self->p != self->l, self->e == "user-memory", self->x == NULL, NULL != self->p); } syscall::openat:return /pid == $target/ { self->p = 0; self->q = self->x; @[self->q == NULL, self->p == NULL, self->l == self->x, self->x == self->y, self->l != self->e, self->q != "", self->y == "/nonexistent/a", self->l == "/nonexistent/ab"] = count(); }',
  // global strings: "" until assigned (never NULL), assigned from strings and each other
  'string g, h, never; syscall::openat:entry /pid == $target/ { g = copyinstr(arg1); h = g; self->s = h; } syscall::openat:return /pid == $target && g != "/nonexistent/a"/ { printf("%s|%s|%s|%d %d %d %d\\n", g, h, self->s, g == h, h == NULL, never == "", never == NULL); @[g] = count(); @n[never] = count(); h = "lit"; g = execname; }',
  // an unset variable read is an invalid address (0), reported in its place; the record goes
  'self string never; syscall::openat:return /pid == $target/ { printf("%s\\n", self->never); } syscall::openat:return /pid == $target/ { trace(arg1); trace(self->never); }',
  // and so is an unset variable as a key (dtrace's was an internal error)
  'self string never; syscall::openat:return /pid == $target/ { @[self->never] = count(); @n = count(); }',
];

for (const [i, program] of STRINGS.entries()) {
  test(`string variables in the kernel hold and print what they do in dtrace: program ${i + 1}`, { skip: userMemory.skip }, () => {
    for (const strsize of ['256', '20']) {
      const args = ['-q', '-x', `strsize=${strsize}`, '-n', program];
      assert.ok(clausesInKernel(args).every((k) => k), `every clause runs in the kernel at strsize=${strsize}`);
      const k = runOnUserMemory(args, 10, true);
      const t = runOnUserMemory(args, 10, false);
      assert.equal(k.code, 0, k.err);
      assert.equal(t.code, 0, t.err);
      assert.equal(k.err, t.err);
      assert.equal(k.out, t.out);
    }
  });
}

test('string variables from kernel memory, in the kernel: the firing task\'s comm and directory', { skip: userMemory.skip }, () => {
  // without BPF dtrace cannot read kernel memory: the values are the workload's own
  const program = 'syscall::openat:entry /pid == $target/ { self->c = stringof(curthread->comm); self->d = stringof(curthread->fs->pwd.dentry->d_name.name); self->p = copyinstr(arg1); } syscall::openat:return /self->p == "/nonexistent/a"/ { printf("%s|%s|%s\\n", self->c, self->d, self->p); @[self->d] = count(); }';
  assert.deepEqual(clausesInKernel(['-q', '-n', program]), [true, true]);
  const r = runDtrace(['-q', '-n', program, '-c', `${userMemory.prog} 10`], { timeout: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  // runDtrace runs dtrace, and so the workload, in the repository's root
  const dir = basename(root);
  assert.equal(r.stdout, `user-memory|${dir}|/nonexistent/a\nuser-memory|${dir}|/nonexistent/a\n\n  ${dir.padEnd(50)}${'2'.padStart(17)}\n`);
});

const COPYIN = [
  // an integer, a struct's members (its size by sizeof), in a predicate, printed and as keys;
  // stringof(copyin()) printed, as a key and assigned to a thread-local string
  'struct rec { int id; short kind; char name[10]; long value; }; syscall::openat:entry /pid == $target/ { printf("[%s] [%s] %d %x\\n", stringof(copyin(arg1, 5)), stringof(copyin(arg1, 40)), *(int *)copyin(arg1, 4), *(unsigned char *)copyin(arg1, 1)); } syscall::write:entry /pid == $target && ((struct rec *)copyin(arg1, sizeof (struct rec)))->kind != 0/ { printf("%d %d %d %s\\n", ((struct rec *)copyin(arg1, sizeof (struct rec)))->id, ((struct rec *)copyin(arg1, 24))->kind, ((struct rec *)copyin(arg1, 24))->value, stringof(copyin(arg1 + 6, 10))); @[stringof(copyin(arg1 + 6, 10)), *(short *)copyin(arg1 + 4, 2)] = sum(((struct rec *)copyin(arg1, 24))->value); self->s = stringof(copyin(arg1 + 6, 8)); } syscall::write:return /self->s != NULL/ { printf("%s\\n", self->s); self->s = 0; }',
  // a bad address is DTrace's fault at that address, reported in its place; the clause's record goes
  'syscall::openat:entry /pid == $target/ { printf("%d\\n", *(int *)copyin(8, 4)); } syscall::openat:return /pid == $target/ { printf("%d %s\\n", arg1, stringof(copyin(16, 4))); } syscall::openat:return /pid == $target/ { printf("%d\\n", arg1); }',
  // in a clause that does not print (its faults are reported as dtrace polls the kernel's count)
  'syscall::openat:entry /pid == $target/ { @[*(char *)copyin(0, 1)] = count(); } syscall::openat:entry /pid == $target/ { @[*(char *)copyin(arg1, 1)] = count(); }',
];

for (const [i, program] of COPYIN.entries()) {
  test(`copyin() in the kernel copies what dtrace copies: program ${i + 1}`, { skip: userMemory.skip }, () => {
    const args = ['-q', '-n', program];
    assert.ok(clausesInKernel(args).every((k) => k), 'every clause runs in the kernel');
    const k = runOnUserMemory(args, 10, true);
    const t = runOnUserMemory(args, 10, false);
    assert.equal(k.code, 0, k.err);
    assert.equal(t.code, 0, t.err);
    assert.equal(k.err, t.err);
    assert.ok(k.out.length > 0);
    assert.equal(k.out, t.out);
  });
}

test('copyin() of a size that is no constant stays in dtrace', { skip: userMemory.skip }, () => {
  assert.deepEqual(clausesInKernel(['-q', '-n', 'syscall::write:entry /pid == $target/ { @[*(int *)copyin(arg1, arg2)] = count(); } syscall::write:entry /pid == $target/ { @[*(int *)copyin(arg1, 4)] = count(); }']), [false, true]);
});
