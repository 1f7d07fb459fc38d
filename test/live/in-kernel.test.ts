// Clauses compiled to BPF, on the live kernel: what they print is what the same program prints
// when it runs in dtrace (DTRACE_TS_NO_BPF=1), their counts are exact under a flood, they run
// as BPF programs (seen in dtrace's own descriptors), and what cannot run in the kernel stays
// in dtrace.

import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Tracing, bpfPrograms, root, runDtrace, syscallMixWorkload } from './harness.js';

const { work, prog, skip } = syscallMixWorkload('in-kernel');

/** Runs a program under -c on the workload, with BPF or without; stdout (sorted: equal rows of a
 * sum may print in either order) and stderr. */
function run(program: string, n: number, bpf: boolean): { out: string; err: string; code: number | null } {
  const env = bpf ? {} : { DTRACE_TS_NO_BPF: '1' };
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-q', '-n', program, '-c', `${prog} ${n}`], {
    cwd: root,
    env: { ...process.env, LANG: 'C', ...env },
    encoding: 'latin1',
    timeout: 60_000,
  });
  return { out: r.stdout.split('\n').sort().join('\n'), err: r.stderr, code: r.status };
}

const SAME = [
  // integer keys, every function, predicates on the target
  'syscall::read:entry /pid == $target/ { @c[arg0] = count(); @s[arg0] = sum(arg2); @a = avg(arg2); @mn = min(arg2); @mx = max(arg2); }',
  // quantize of the value at three widths
  'syscall::read:entry /pid == $target/ { @q = quantize(arg2); @qi = quantize((int)arg2); @qu = quantize((unsigned int)arg2); }',
  // a return probe: arg0 and arg1 are both the return value
  'syscall::read:return /pid == $target/ { @[arg0, arg1] = count(); }',
  // typed arguments, signed and unsigned comparisons, shifts, masks, negation
  'syscall::lseek:entry /pid == $target && (int)arg1 > 0/ { @[execname] = count(); @x = sum(arg1 & 0xffff); @y = sum(arg1 >> 3); @z = sum(-arg1); @w = max(~arg1); }',
  'syscall::lseek:entry /pid == $target && (unsigned)arg1 > 2000000000/ { @[probefunc, probename] = count(); }',
  // two probes, the probe's name as a key; logical operators and ?:
  'syscall::getppid:entry,syscall::read:entry /pid == $target/ { @[probefunc] = count(); }',
  'syscall::read:entry /pid == $target && (arg0 == 101 || arg0 == 103) && !(arg2 < 0)/ { @[arg0 == 101 ? 1 : 2] = count(); }',
  'syscall::read:entry /pid == $target && (arg0 == 101 ^^ arg2 > 1000)/ { @[uid, gid, tid == pid] = count(); }',
  // a clause in the kernel and one in dtrace on the same aggregation
  'syscall::read:entry /pid == $target/ { @[arg0] = count(); } syscall::read:return /pid == $target/ { @[arg0] = count(); trace(1); }',
  // arguments the probe does not have read as 0
  'syscall::getppid:entry /pid == $target/ { @[arg0, arg3] = count(); @q[execname] = quantize(arg0); }',
  // thread-local variables in the kernel: on two probes; beside a clause in dtrace on the same probe
  'syscall::read:entry /pid == $target/ { self->fd = arg0; } syscall::read:return /self->fd/ { @[self->fd, arg0] = count(); self->fd = 0; }',
  'syscall::read:entry /pid == $target/ { self->fd = arg0; } syscall::read:entry /pid == $target/ { @x = count(); printf("%d\\n", arg0); } syscall::read:return /self->fd == 101/ { @[arg1] = count(); self->fd = 0; }',
  // one that cannot live in the kernel (a clause using it does not compile: %), so none does
  'syscall::read:entry /pid == $target/ { self->n = arg2; @[self->n % 7 == 0] = count(); } syscall::read:return /pid == $target/ { @r[self->n > 100] = count(); @z = sum(0); }',
  // every system call: one program on raw_syscalls finds the call's probe by its number
  'syscall:::entry /pid == $target/ { @[probefunc] = count(); }',
  // an increment beside the probe's name as a key: that program keeps the firing probe in a register the increment passes through
  'syscall:::entry /pid == $target/ { @[probefunc] = lquantize(1, 0, 10, 1, 3); @q[probefunc] = quantize(2, 5); @c[probefunc] = count(); }',
  'syscall:::entry /pid == $target/ { self->t = timestamp; } syscall:::return /self->t/ { @[probefunc, arg0 < 0, arg1 == arg0] = count(); self->t = 0; }',
  // a clause that compares probefunc, and an argument read from calls that have it or not
  'syscall:::entry /pid == $target && probefunc == "lseek"/ { @[arg0, arg2] = count(); } syscall:::entry /pid == $target/ { @a[probefunc, arg5] = count(); }',
  // division and remainder, signed and unsigned, at two widths; a zero divisor faults
  'syscall::read:entry /pid == $target/ { @[arg2 / 7, arg2 % 7, (int)arg2 / -3, (int)arg2 % -3, (short)arg2 / 5] = count(); @d[arg0 / 2] = sum((long)arg2 % 1000); }',
  'syscall::read:entry /pid == $target/ { @[arg2 / (arg0 - 100)] = count(); }',
  // a quotient of mixed signedness is of the operands' 64-bit values, as DTrace divides its registers
  'syscall::read:entry /pid == $target/ { @[(int)arg2 / 2u, (int)arg2 % 3u, (short)arg2 / (unsigned short)7, (char)arg2 % 5u] = count(); }',
  // stddev (its squares need 128 bits: lseek's offsets are near 2^32, their sum of squares past 2^64), lquantize and llquantize
  'syscall::read:entry /pid == $target/ { @s[arg0] = stddev(arg2); @l = lquantize(arg2, -300, 100000, 2500); @ll[arg0 == 101] = llquantize(arg2, 10, 0, 6, 20); @ln = lquantize(arg2 - 200000, 0, 10, 1); }',
  'syscall::lseek:entry /pid == $target/ { @s = stddev(arg1); @ll = llquantize(arg1, 2, 20, 40, 4); @l[execname] = lquantize(arg1 >> 24, -256, 256, 16); @big = llquantize(arg1 * 3000000000, 10, 2, 18, 10); }',
  'syscall::read:entry /pid == $target/ { @s = stddev(-arg2 * 4000000000); @ll = llquantize(arg2, 1000, 0, 2, 1000); @lq = lquantize(arg2, 0, 4000, 1); }',
  // histograms' increments: constants, arguments (read's count: negative ones too; one read only as an increment), a variable's, at several widths; sum() and count() beside them
  'syscall::read:entry /pid == $target/ { @q = quantize(arg0, arg2); @qc[arg0] = quantize(arg2, 3); @l = lquantize(arg2, -300, 100000, 2500, arg0 - 102); @ll = llquantize(arg2, 10, 0, 6, 20, (char)arg2); @lu = lquantize(arg0, 100, 105, 1, (unsigned int)arg2); @s = sum(arg2); @c = count(); }',
  'syscall::read:entry /pid == $target/ { @ = quantize(arg0, arg2); }',
  'syscall::lseek:entry /pid == $target/ { self->n++; @q[execname] = quantize(arg1, self->n * 1000000000000); @l = lquantize(arg0, -5, 0, 1, arg1); @ll = llquantize(arg1, 2, 20, 40, 4, -1); }',
  // clause-locals in the kernel's stack: integers of their types' widths; shared by two clauses, they stay in dtrace
  'syscall::read:entry /pid == $target/ { this->v = arg2 * 3; this->k = arg0 - 100; this->c = (char)arg2; this->u = (unsigned short)arg2; @[this->k] = sum(this->v); @m = max(this->v + this->k); @c[this->c < 0] = sum(this->c); @u = sum(this->u); }',
  'syscall::read:entry /pid == $target/ { this->x = arg2; } syscall::read:entry /pid == $target/ { @[arg0] = sum(this->x); }',
  // global variables and associative arrays in the kernel (every clause naming them runs there); one END reads stays in dtrace
  'syscall::read:entry /pid == $target/ { start[tid] = timestamp; fd[pid, tid] = arg0; } syscall::read:return /start[tid]/ { @[fd[pid, tid]] = count(); @neg = sum(timestamp < start[tid]); start[tid] = 0; fd[pid, tid] = 0; }',
  'syscall::read:entry /pid == $target/ { last = arg2; seen[arg0] = arg2 + 1; } syscall::lseek:entry /pid == $target/ { @[last > 0, seen[101], seen[102]] = count(); }',
  'syscall::read:entry /pid == $target/ { n = arg2; } END { printf("%d\\n", n); }',
  // compound assignments and increments of variables in the kernel (computed in the variable's type)
  'syscall::read:entry /pid == $target/ { self->n++; calls[arg0] = 1; calls[arg0] += arg2; total = arg2; total *= 3; this->c = (char)arg2; this->c += 100; bits = arg2 & 0xf0; bits |= 5; self->x = arg2; self->x -= 7; self->x <<= 1; @l = sum(this->c); } syscall::lseek:entry /pid == $target/ { @[self->n, calls[101], total, bits, self->x] = count(); @c = sum(self->n * 2); }',
  // what converts to a _Bool is 0 or 1: casts, variables assigned, the keys and values made of them
  'syscall::read:entry /pid == $target/ { this->b = (_Bool)arg0; self->t = (_Bool)(arg0 - 102); g = (_Bool)(arg2 & 0x300); this->u = (_Bool)(char)arg2; @[this->b, (_Bool)arg2, self->t, (_Bool)(arg0 & 0x100), (_Bool)arg0 == 1, g, this->u] = count(); @s = sum((_Bool)arg2); @m = max((_Bool)(arg2 + 500)); }',
  // >>=, /= and %= (of the variable and the operand promoted together: (char)-100 /= 3u is unsigned), negative values at several widths
  'syscall::read:entry /pid == $target/ { self->q = (int)arg2; self->q /= 7; self->r = arg2; self->r %= -5; this->s = (short)arg2; this->s >>= 3; this->c = (char)arg2; this->c /= 3u; g = arg2; g >>= 2; ug = (unsigned int)arg2; ug >>= 4; ug /= 3; u = (unsigned long)arg2; u /= 3; u %= 1000000; a[arg0] = arg2; a[arg0] %= arg0 - 98; a[arg0] /= (arg0 - 99) * -2; @l = sum(this->s); @c = sum(this->c); } syscall::lseek:entry /pid == $target/ { @[self->q, self->r, g, ug, u, a[101], a[103]] = count(); }',
  // a zero divisor of /= faults, and the variable keeps its value
  'syscall::read:entry /pid == $target/ { self->d = arg2; self->d /= arg0 - 100; @[self->d] = count(); }',
  // arithmetic keeps 64 bits until a value is stored, compared or cast, as in dtrace: the carry of (int)x + 0x7fffffff, char and short products, ~ and - of narrow values
  'syscall::lseek:entry /pid == $target/ { @s = sum((int)arg1 + 0x7fffffff); @m = max((int)arg0 * 0x40000000); @k[(short)arg1 + 40000, (char)arg0 - 200, (int)arg1 + 0x7fffffff > 0L] = sum((unsigned int)arg1 * 2u); @n = min(-(int)arg1); @c = min(~(unsigned int)arg1); @a = avg((char)arg1 * (char)arg1 * 1000000); @t = sum(arg1 & 1 ? (int)arg1 + 0x7fffffff : (unsigned short)arg1); }',
  // trunc() at the end; keys from arithmetic
  'syscall::read:entry /pid == $target/ { @m = sum(arg2); @k[arg0 * 1000 + 7, arg0 - 100 + arg2 * 3] = sum(arg0 << 2); } END { trunc(@k, 3); }',
];

test('clauses in the kernel print what the same clauses print in dtrace', { skip }, () => {
  for (const program of SAME) {
    const k = run(program, 3000, true);
    const d = run(program, 3000, false);
    assert.equal(k.code, 0, `${program}: ${k.err}`);
    assert.equal(d.code, 0, `${program}: ${d.err}`);
    assert.equal(k.out, d.out, program);
    assert.equal(k.err, d.err, program);
  }
});

test('in-kernel aggregations have the exact values', { skip }, () => {
  const n = 3000;
  const r = run('syscall::read:entry /pid == $target/ { @c[arg0] = count(); @s[arg0] = sum(arg2); @mn = min(arg2); @mx = max(arg2); }', n, true);
  assert.equal(r.code, 0, r.err);
  const sums = new Map<number, number>();
  for (let i = 0; i < n; i++) sums.set(100 + (i % 5), (sums.get(100 + (i % 5)) ?? 0) + (i * 37 - 500));
  const rows = r.out.split('\n').filter((l) => l.trim() !== '');
  for (const [fd, sum] of sums) {
    assert.ok(rows.includes(`              ${fd}              ${n / 5}`), `count of ${fd}`);
    assert.ok(rows.some((l) => l.trim().split(/\s+/).join(' ') === `${fd} ${sum}`), `sum of ${fd}`);
  }
  assert.ok(rows.some((l) => l.trim() === '-500'), 'min');
  assert.ok(rows.some((l) => l.trim() === String((n - 1) * 37 - 500)), 'max');
});

test('a flood of 2 million calls is counted exactly, with no drops', { skip }, () => {
  const n = 1_000_000;
  // (not read: the loader reads the C library before main() runs)
  const r = run('syscall::getppid:entry,syscall::lseek:entry /pid == $target/ { @[probefunc] = count(); @all = count(); }', n, true);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err.replace(/^dtrace: description .*\n/m, ''), '');
  const rows = r.out.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/).join(' '));
  assert.deepEqual(rows.sort(), [`${2 * n}`, `getppid ${n}`, `lseek ${n}`].sort());
});

test('every system call counted exactly from one program on raw_syscalls, under a flood', { skip }, async () => {
  const n = 500_000;
  const t = new Tracing(['-q', '-n', 'syscall:::entry /pid == $target/ { @[probefunc] = count(); }', '-c', `${prog} ${n} 3000`]);
  await t.ready(30_000);
  // one program for all of them (each probe's own: hundreds of perf events, each slow to close)
  const held = bpfPrograms(t.child.pid!);
  const r = await t.finished();
  assert.equal(r.code, 0, r.stderr);
  assert.ok(held >= 1 && held <= 2, `BPF programs held: ${held}`);
  assert.equal(r.stderr.replace(/^dtrace: description .*\n/m, ''), '');
  const counts = new Map(r.stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().split(/\s+/) as [string, string]));
  assert.equal(counts.get('getppid'), String(n));
  assert.equal(counts.get('lseek'), String(n));
  // and the loader's one
  assert.equal(counts.get('read'), String(n + 1));
});

test('32-bit system calls are not taken for 64-bit ones of the same number', { skip: skip || (process.arch !== 'x64' && 'x86-64 only') }, () => {
  const ia32 = join(work, 'ia32-calls');
  const cc = spawnSync('cc', ['-O2', '-o', ia32, join(root, 'test', 'live', 'programs', 'ia32-calls.c')], { encoding: 'latin1' });
  assert.equal(cc.status, 0, cc.stderr);
  // the kernel has no 32-bit system calls (CONFIG_IA32_EMULATION off): nothing to tell apart
  if (spawnSync(ia32, ['1']).status !== 0) return;
  const program = 'syscall:::entry /pid == $target/ { @[probefunc] = count(); }';
  for (const env of [{}, { DTRACE_TS_NO_BPF: '1' }]) {
    const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-q', '-n', program, '-c', `${ia32} 7`], { env: { ...process.env, ...env }, encoding: 'latin1' });
    assert.equal(r.status, 0, r.stderr);
    // int $0x80 with eax 20 is getpid in i386's table, writev in x86-64's
    assert.doesNotMatch(r.stdout, /writev/, JSON.stringify(env));
    assert.match(r.stdout, /^ +write +1$/m);
  }
});

test('the clauses run as BPF programs, one that prints too; one that cannot keeps the probe in dtrace', { skip }, async () => {
  // the workload pauses 3 s once tracing is live: time to look at dtrace's descriptors
  const inKernel = new Tracing(['-q', '-n', 'syscall::getppid:entry /pid == $target/ { @ = count(); }', '-c', `${prog} 1000 3000`]);
  await inKernel.ready(30_000);
  const held = bpfPrograms(inKernel.child.pid!);
  const a = await inKernel.finished();
  assert.equal(a.code, 0, a.stderr);
  assert.ok(held >= 1, `BPF programs held: ${held}`);
  assert.equal(a.stdout.trim(), '1000');

  const printing = new Tracing(['-q', '-n', 'syscall::getppid:entry /pid == $target/ { @ = count(); printf("x"); }', '-c', `${prog} 10 3000`]);
  await printing.ready(30_000);
  const held2 = bpfPrograms(printing.child.pid!);
  const b = await printing.finished();
  assert.equal(b.code, 0, b.stderr);
  assert.ok(held2 >= 1, `BPF programs held: ${held2}`);
  assert.equal(b.stdout, `${'x'.repeat(10)}\n               10\n`);

  // a clause-local string does not compile: the probe's clauses stay in dtrace (copyinstr's
  // capture programs are not involved: nothing reads user memory)
  const inDtrace = new Tracing(['-q', '-n', 'syscall::getppid:entry /pid == $target/ { @ = count(); printf("x"); this->s = "x"; }', '-c', `${prog} 10 3000`]);
  await inDtrace.ready(30_000);
  const held3 = bpfPrograms(inDtrace.child.pid!);
  const c = await inDtrace.finished();
  assert.equal(c.code, 0, c.stderr);
  assert.equal(held3, 0);
  assert.equal(c.stdout, `${'x'.repeat(10)}\n               10\n`);
});

test('without BPF the same program runs in dtrace, holding no BPF program', { skip }, async () => {
  const t = new Tracing(['-q', '-n', 'syscall::getppid:entry /pid == $target/ { @ = count(); }', '-c', `${prog} 1000 3000`], { DTRACE_TS_NO_BPF: '1' });
  await t.ready(30_000);
  const held = bpfPrograms(t.child.pid!);
  const r = await t.finished();
  assert.equal(r.code, 0, r.stderr);
  assert.equal(held, 0);
  assert.equal(r.stdout.trim(), '1000');
});

test('no probe acts before BEGIN: after an exit() in BEGIN, a flood of calls attached before it is not counted', { skip }, async () => {
  // the programs are attached before BEGIN fires; the flood runs from before dtrace starts
  const flood = spawn(prog, ['1000000000'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const env of [{}, { DTRACE_TS_NO_BPF: '1' }]) {
      const r = runDtrace(['-q', '-n', `syscall::getppid:entry,syscall::read:entry /pid == ${flood.pid}/ { @[probefunc] = count(); } BEGIN { exit(0); }`], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /\d/, JSON.stringify(env));
    }
  } finally {
    flood.kill('SIGKILL');
  }
});

test('BEGIN\'s system() runs once tracing is active: the command\'s calls are traced', { skip }, () => {
  const program = `BEGIN { system("${prog} 5"); } syscall::getppid:entry /execname == "syscall-mix"/ { @ = count(); } syscall::exit_group:entry /execname == "syscall-mix"/ { exit(0); }`;
  for (const env of [{}, { DTRACE_TS_NO_BPF: '1' }]) {
    const r = runDtrace(['-w', '-q', '-n', program], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '\n                5\n', JSON.stringify(env));
  }
});

test('exit() in a clause in the kernel: no probe acts after it, and its firing\'s later clauses do not run', { skip }, () => {
  // the target goes on calling getppid() long after the 100th; each program runs in the kernel (-S)
  const stopsCounting = 'syscall::getppid:entry /pid == $target/ { @ = count(); n++; } syscall::getppid:entry /n == 100/ { exit(0); }';
  const skipsTheRest = 'syscall::getppid:entry /pid == $target/ { n++; } syscall::getppid:entry /n == 100/ { exit(0); } syscall::getppid:entry /pid == $target/ { @ = count(); }';
  for (const [program, count] of [[stopsCounting, 100], [skipsTheRest, 99]] as const) {
    const shown = runDtrace(['-S', '-q', '-n', program, '-c', `${prog} 1`]);
    assert.doesNotMatch(shown.stderr, /runs in the consumer/, shown.stderr);
    for (const bpf of [true, false]) {
      const r = run(program, 200_000, bpf);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out.trim(), String(count), `BPF: ${bpf}`);
    }
  }
  // an exit() no predicate guards, before another clause: the program passes the verifier, and nothing is counted
  const first = 'syscall::getppid:entry { exit(3); } syscall::getppid:entry { @ = count(); }';
  const shown = runDtrace(['-S', '-q', '-n', first, '-c', `${prog} 1`]);
  assert.doesNotMatch(shown.stderr, /runs in the consumer/, shown.stderr);
  for (const bpf of [true, false]) {
    const r = run(first, 1000, bpf);
    assert.equal(r.code, 3, r.err);
    assert.doesNotMatch(r.out, /\d/);
    assert.equal(r.err, '');
  }
});

test('printa() and clear() in a tick see the kernel counts, and none is lost between them', { skip }, () => {
  const n = 200_000;
  const r = runDtrace(['-q', '-n', `syscall::getppid:entry /pid == $target/ { @ = count(); } tick-50ms { printa("%@d\\n", @); clear(@); } END { printa("%@d\\n", @); }`, '-c', `${prog} ${n}`]);
  assert.equal(r.code, 0, r.stderr);
  // each tick prints what came since the last; END prints the rest
  const total = r.stdout
    .split('\n')
    .filter((l) => /^\s*\d+\s*$/.test(l))
    .reduce((a, l) => a + Number(l.trim()), 0);
  assert.equal(total, n);
});

test('-S says which clauses compiled to BPF', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'syscall::getppid:entry /pid == $target/ { @ = count(); @q[execname] = quantize(arg0); } syscall::getppid:return { printf("%d", arg1); } BEGIN { exit(0); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /^syscall::getppid:entry, <dt_clause_\d+>:\nruns in the kernel, as BPF \(2 aggregation updates into per-CPU maps\), on those of its 1 probe that BPF programs run on \(tracepoints, kprobes, uprobes, CPU samples\);/);
  assert.match(blocks[1], /^syscall::getppid:return, <dt_clause_\d+>:\nruns in the kernel, as BPF \(0 aggregation updates into per-CPU maps, a 32-byte record of each firing with 1 printed value, which the consumer formats with the clause's output actions\)/);
  // the program itself, as it is loaded: one instruction a line, ending in exit
  const listing = r.stderr.split('\nDisassembly of the BPF program on syscall:vmlinux:getppid:entry (the probe\'s clauses that compiled to BPF):\n')[1];
  assert.ok(listing !== undefined, r.stderr);
  const lines = listing.split('\n');
  assert.equal(lines[0], 'INS OFF  OPCODE                  INSTRUCTION');
  assert.match(lines[1], /^000 0000: bf 6 1 0000 00000000 {4}mov %r6, %r1$/);
  assert.ok(lines.some((l) => /call bpf_map_lookup_elem$/.test(l)));
  assert.ok(lines.some((l) => /^\d{3} [0-9a-f]{4}: 95 0 0 0000 00000000 {4}exit$/.test(l)));
});

test('stddev(), lquantize() and llquantize() run in the kernel, with an increment too; an increment that does not compile keeps its clause in dtrace', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'syscall::read:entry /pid == $target/ { @s = stddev(arg2); @l = lquantize(arg2, 0, 100, 10); @ll = llquantize(arg2, 10, 0, 6, 20); } syscall::read:return /pid == $target/ { @i = lquantize(arg0, 0, 100, 10, 3); @q = quantize(arg0, arg1); @li = llquantize(arg0, 10, 0, 6, 20, arg0 * 2); } syscall::lseek:entry /pid == $target/ { @n = quantize(arg1, strlen(execname)); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /^syscall::read:entry, <dt_clause_\d+>:\nruns in the kernel, as BPF \(3 aggregation updates into per-CPU maps\)/);
  assert.match(blocks[1], /^syscall::read:return, <dt_clause_\d+>:\nruns in the kernel, as BPF \(3 aggregation updates into per-CPU maps\)/);
  assert.match(blocks[2], /^syscall::lseek:entry, <dt_clause_\d+>:\nruns in the consumer, as JavaScript/);
});

test('>>= by a constant, /= and %= run in the kernel; >>= by a variable stays in dtrace', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'syscall::read:entry /pid == $target/ { self->x = arg2; self->x >>= 3; n = arg2; n /= arg0; this->m = arg2; this->m %= 7; @ = sum(this->m); } syscall::read:return /pid == $target/ { self->y = arg0; self->y >>= arg1; @r = sum(self->y); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /^syscall::read:entry, <dt_clause_\d+>:\nruns in the kernel, as BPF \(1 aggregation update into per-CPU maps, 1 thread-local variable in a map by thread, 1 global variable in maps shared by the CPUs\)/);
  assert.match(blocks[1], /^syscall::read:return, <dt_clause_\d+>:\nruns in the consumer, as JavaScript/);
});

test('casts and assignments to _Bool run in the kernel; arithmetic typed _Bool stays in dtrace', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'syscall::read:entry /pid == $target/ { this->b = (_Bool)arg0; @[this->b, (_Bool)arg2] = count(); } syscall::read:return /pid == $target/ { this->c = (_Bool)arg0; this->c += 2; @r = sum(this->c); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const blocks = r.stderr.split('\nDisassembly of clause ').slice(1);
  assert.match(blocks[0], /^syscall::read:entry, <dt_clause_\d+>:\nruns in the kernel, as BPF/);
  assert.match(blocks[1], /^syscall::read:return, <dt_clause_\d+>:\nruns in the consumer, as JavaScript/);
});

test('-S shows the one program that serves every system call', { skip }, () => {
  const r = runDtrace(['-S', '-q', '-n', 'syscall:::entry /pid == $target/ { @[probefunc] = count(); } syscall:::return /pid == $target/ { @r[probefunc] = count(); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  const headers = r.stderr.split('\n').filter((l) => l.startsWith('Disassembly of the BPF program'));
  assert.equal(headers.length, 2, r.stderr);
  assert.match(headers[0], /^Disassembly of the BPF program on syscall:::entry \(\d{3} system calls, from raw_syscalls:sys_enter\)/);
  assert.match(headers[1], /^Disassembly of the BPF program on syscall:::return \(\d{3} system calls, from raw_syscalls:sys_exit\)/);
});

test('curthread from the kernel\'s types: its fields are the firing thread\'s, read in the kernel', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'syscall::getppid:entry /pid == $target/ { @[stringof(curthread->comm), curthread->comm, curthread->pid, curthread->tgid, curthread->real_parent->tgid, curthread->mm == NULL] = count(); } END { printf("dtrace %d\\n", $pid); }', '-c', `${prog} 7`]);
  assert.equal(r.code, 0, r.stderr);
  const dtracePid = /^dtrace (\d+)$/m.exec(r.stdout)![1];
  const rows = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('dtrace'));
  assert.equal(rows.length, 1, r.stdout);
  const [comm, comm2, pid, tgid, parent, noMm, count] = rows[0].trim().split(/\s+/);
  // the target: comm as the kernel cuts it, its own thread, dtrace its parent, a user process
  assert.deepEqual([comm, comm2, pid === tgid, parent, noMm, count], ['syscall-mix', 'syscall-mix', true, dtracePid, '0', '7']);
});

test('stringof() of a kernel char pointer reached through curthread: the directory the target runs in', { skip }, () => {
  const r = spawnSync(process.execPath, [join(root, 'dist', 'cli.js'), '-q', '-n', 'syscall::getppid:entry /pid == $target/ { @[stringof(curthread->fs->pwd.dentry->d_name.name), curthread->fs->pwd.dentry->d_name.len] = count(); }', '-c', `${prog} 4`], {
    cwd: work,
    encoding: 'latin1',
  });
  assert.equal(r.status, 0, r.stderr);
  const name = work.split('/').at(-1)!;
  assert.equal(r.stdout.trim().split(/\s+/).join(' '), `${name} ${name.length} 4`);
});

test('a raw tracepoint\'s pointer arguments are read in the kernel: the task sched_process_exec passes', { skip }, () => {
  const r = runDtrace(['-q', '-n', 'rawtp:::sched_process_exec /pid == $target/ { @[stringof(args[0]->comm), args[0]->pid == pid, args[1] == pid] = count(); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split(/\s+/).join(' '), 'syscall-mix 1 1 1');
});

test('a bad kernel address in a clause that runs in the kernel is a DTrace fault: its message, the ERROR probe, and tracing goes on', { skip }, () => {
  const program = 'syscall::read:entry /pid == $target && arg0 >= 100/ { @[((struct task_struct *)arg0)->pid] = count(); } ERROR { @e = count(); } END { printa("errors %@d\\n", @e); }';
  const k = run(program, 6, true);
  assert.equal(k.code, 0, k.err);
  const lines = k.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 6, k.err);
  for (const l of lines) assert.match(l, /^dtrace: error on enabled probe ID 1 \(ID \d+: syscall:vmlinux:read:entry\): invalid address \(0x[0-9a-f]+\) in action #1 at DIF offset 8$/);
  // each fault with its own address, in order: the pid member of the "tasks" at 100..104, 100
  const addrs = lines.map((l) => Number.parseInt(/\(0x([0-9a-f]+)\)/.exec(l)![1], 16));
  assert.deepEqual(addrs.map((a) => a - addrs[0]), [0, 1, 2, 3, 4, 0], k.err);
  assert.equal(k.out.trim(), 'errors 6');
});

test('a full aggregation map drops updates and says so, as DTrace reports aggregation drops', { skip }, () => {
  const r = runDtrace(['-q', '-x', 'aggsize=1k', '-n', 'syscall::read:entry /pid == $target/ { @[arg2] = count(); }', '-c', `${prog} 3000`]);
  assert.equal(r.code, 0, r.stderr);
  const drops = [...r.stderr.matchAll(/^dtrace: (\d+) aggregation drops? on CPU \d+$/gm)].reduce((a, m) => a + Number(m[1]), 0);
  const counted = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .reduce((a, l) => a + Number(l.trim().split(/\s+/)[1]), 0);
  assert.ok(drops > 0, r.stderr);
  // every read the target made (the loop's 3000, and the loader's one) is counted or dropped
  assert.equal(counted + drops, 3001);
});

test('a latency quantize with a thread-local start time runs whole in the kernel, every call counted', { skip }, () => {
  const n = 100_000;
  const r = run('syscall::read:entry /pid == $target/ { self->ts = timestamp; } syscall::read:return /self->ts/ { @q = quantize(timestamp - self->ts); @n = count(); @neg = sum(timestamp < self->ts); self->ts = 0; }', n, true);
  assert.equal(r.code, 0, r.err);
  const rows = r.out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  // the loop's reads and the loader's one, and no negative latency
  assert.ok(rows.includes(String(n + 1)), r.out);
  assert.ok(rows.includes('0'), r.out);
  const dist = r.out.split('\n').filter((l) => /^\s+\d+ \|[@ ]+ \d+\s*$/.test(l));
  assert.equal(dist.reduce((a, l) => a + Number(l.trim().split(/\s+/).at(-1)), 0), n + 1);
});

// Clauses that stay in dtrace (they print, compare strings, use associative arrays) read kernel
// memory all the same: the probe's BPF program reads it as the probe fires and sends it with the
// record (firing values).

test('a clause that prints reads curthread as the probe fires: the firing thread\'s fields, checked against dtrace\'s own view', { skip }, () => {
  const r = runDtrace([
    '-q',
    '-n',
    'syscall::getppid:entry /pid == $target/ { printf("%s %s %d %d %d %d %d\\n", stringof(curthread->comm), execname, curthread->pid == tid, curthread->tgid == pid, curthread->real_parent->tgid, curthread->mm == NULL, curthread->pid > 0); }',
    '-c',
    `${prog} 3`,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const rows = r.stdout.split('\n').filter((l) => l !== '');
  assert.equal(rows.length, 3, r.stdout);
  for (const row of rows) assert.equal(row, `syscall-mix syscall-mix 1 1 ${r.pid} 0 1`);
});

test('kernel strings compare, key associative arrays and aggregations in a clause in dtrace', { skip }, () => {
  const script = join(work, 'kernel-strings.d');
  writeFileSync(
    script,
    'int n[string];\nsyscall::getppid:entry /stringof(curthread->comm) == "syscall-mix"/ { n[stringof(curthread->comm)]++; @[curthread->comm, curthread->real_parent->tgid == $pid] = count(); printf("%d\\n", n["syscall-mix"]); }\n',
  );
  const r = runDtrace(['-q', '-s', script, '-c', `${prog} 4`]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.deepEqual(lines.slice(0, 4), ['1', '2', '3', '4']);
  assert.equal(lines[4].trim().split(/\s+/).join(' '), 'syscall-mix 1 4');
});

test('a bad kernel address read for a clause in dtrace is its fault: the address, the ERROR probe, and tracing goes on', { skip }, () => {
  const offset = runDtrace(['-q', '-n', 'BEGIN { printf("%x", offsetof(struct task_struct, pid)); exit(0); }']);
  assert.equal(offset.code, 0, offset.stderr);
  const program = 'syscall::read:entry /pid == $target && arg0 >= 100/ { printf("%d %s\\n", ((struct task_struct *)arg0)->pid, execname); } ERROR { @e = count(); } END { printa("errors %@d\\n", @e); }';
  const k = run(program, 4, true);
  assert.equal(k.code, 0, k.err);
  const lines = k.err.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 4, k.err);
  // arg0 is the descriptor (100..103): the address is the descriptor plus pid's offset
  const addrs = lines.map((l) => {
    const m = /^dtrace: error on enabled probe ID 1 \(ID \d+: syscall:vmlinux:read:entry\): invalid address \(0x([0-9a-f]+)\) in action #1 at DIF offset \d+$/.exec(l);
    assert.ok(m, l);
    return parseInt(m[1], 16) - parseInt(offset.stdout, 16);
  });
  assert.deepEqual(addrs.sort(), [100, 101, 102, 103]);
  assert.equal(k.out.trim(), 'errors 4');
  // without BPF, kernel memory cannot be read: the same clause faults at address 0, as before
  const t = run(program, 2, false);
  assert.equal(t.code, 0, t.err);
  assert.equal(t.out.trim(), 'errors 2');
  assert.match(t.err, /invalid address \(0x0\) in action #1/);
});

test('-S says which kernel memory a clause in dtrace has read as the probe fires', { skip }, () => {
  // (a clause-local string keeps the clause in dtrace)
  const r = runDtrace(['-S', '-q', '-n', 'syscall::getppid:entry /pid == $target/ { this->s = execname; printf("%s %d\\n", stringof(curthread->comm), curthread->real_parent->tgid); }', '-c', `${prog} 1`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /runs in the consumer, as JavaScript, on each event of its 1 probe\nwith 2 values of kernel memory \(ctx\.firing\) that each probe's BPF program reads as it fires, \d+ bytes a record\n/);
  assert.match(r.stdout, /^syscall-mix \d+$/m);
});

test('a clause in dtrace with a 20,000-term chain on a system call probe compiles (firing values are looked for without recursion)', { skip }, () => {
  const script = join(work, 'long-chain.d');
  writeFileSync(script, `syscall::getppid:entry /pid == $target/ { x = ${Array(20000).fill('arg0').join(' + ')}; printf("%d %s\\n", x, stringof(curthread->comm)); }\n`);
  const r = runDtrace(['-q', '-s', script, '-c', `${prog} 2`]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter((l) => l !== ''), ['0 syscall-mix', '0 syscall-mix']);
});
