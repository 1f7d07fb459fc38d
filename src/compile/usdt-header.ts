// dtrace -h: the C header a program includes to hold the probes of the providers a D script
// defines (provider myserv { probe query__start(char *, int); };). Its shape is DTrace's: a
// PROVIDER_PROBE(arg0, ...) macro calling __dtrace_provider___probe(arg0, ...), which is what
// types the arguments, and PROVIDER_PROBE_ENABLED(), true only while someone traces the probe.
// What the function holds is Linux's form of a static probe, the one sys/sdt.h (SystemTap)
// writes, so dtrace-ts, bpftrace, perf and gdb all see it, with no SystemTap header needed: a
// nop, and a .note.stapsdt note giving its address, provider and name, where each argument is
// (the "nor" operands: "-4@%eax", "8@-24(%rbp)", "4@$5") and its semaphore. The function is
// always inlined, so each call site is a probe site; the semaphore is a weak hidden 2-byte
// counter in the .probes section, defined by the header itself (so a program links without
// dtrace -G's object as well as with it), which the kernel increments while a uprobe with that
// reference counter is enabled.                                     [dt_program.c; sys/sdt.h]

import type { ProviderDecl } from '../lang/ast.js';
import { Kind, type DType, resolve } from '../lang/types.js';

/** DTrace's macro form of a name: upper case, '-' and '.' as '_' (dt_header_fmt_macro). */
export function headerMacroName(s: string): string {
  return s.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/[-.]/g, '_');
}

/** DTrace's function form of a name: '-' as '__' (dt_header_fmt_func). */
export function headerFuncName(s: string): string {
  return s.replace(/-/g, '__');
}

/** A probe's D name: a double underscore in its declaration is a dash (query__start: query-start). */
export function declaredProbeName(s: string): string {
  return s.replace(/__/g, '-');
}

/** The semaphore's symbol, as SystemTap's dtrace -h names it: provider_probe_semaphore. */
export function semaphoreName(provider: string, probe: string): string {
  return `${provider.replace(/-/g, '_')}_${headerFuncName(probe)}_semaphore`;
}

/** An argument as C declares it (D's string is a char *). */
function cType(t: DType): string {
  const name = t.name;
  return name === 'string' ? 'char *' : name;
}

/** The note's size and sign for an argument: "-4" for int, "8" for a pointer. */
function argSize(t: DType): string {
  const r = resolve(t);
  if (r.kind === Kind.Int || r.kind === Kind.Enum) return `${r.signed || r.kind === Kind.Enum ? '-' : ''}${r.kind === Kind.Enum ? 4 : r.size}`;
  return '8';
}

/** The assembly of one probe site: the nop, its note and .stapsdt.base (as STAP_PROBE writes them). */
function siteAsm(provider: string, probe: string, sem: string, nargs: number, sizes: string[]): string {
  const args = sizes.map((s, i) => `${s}@%[a${i}]`).join(' ');
  const lines = [
    '990: nop',
    '.pushsection .note.stapsdt,"?","note"',
    '.balign 4',
    '.4byte 992f-991f, 994f-993f, 3',
    '991: .asciz "stapsdt"',
    '992: .balign 4',
    '993: .8byte 990b',
    '.8byte _.stapsdt.base',
    `.8byte ${sem}`,
    `.asciz "${provider}"`,
    `.asciz "${probe}"`,
    `.asciz "${nargs > 0 ? args : ''}"`,
    '994: .balign 4',
    '.popsection',
    '.ifndef _.stapsdt.base',
    '.pushsection .stapsdt.base,"aG","progbits",.stapsdt.base,comdat',
    '.weak _.stapsdt.base',
    '.hidden _.stapsdt.base',
    '_.stapsdt.base: .space 1',
    '.size _.stapsdt.base, 1',
    '.popsection',
    '.endif',
  ];
  return lines.map((l) => `\t    "${l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\\n"`).join('\n');
}

function providerBlock(p: ProviderDecl): string {
  const pm = headerMacroName(p.name);
  const pf = headerFuncName(p.name);
  const probes = p.probes.map((q) => {
    const dname = declaredProbeName(q.name);
    return { dname, mname: headerMacroName(dname), fname: headerFuncName(dname), args: q.args };
  });
  const params = (n: number) => Array.from({ length: n }, (_, i) => `arg${i}`).join(', ');
  let out = '#define _DTRACE_VERSION 1\n\n#if _DTRACE_VERSION\n\n';
  for (const q of probes) {
    out += `#define\t${pm}_${q.mname}(${params(q.args.length)}) \\\n\t__dtrace_${pf}___${q.fname}(${params(q.args.length)})\n`;
    out += `#define\t${pm}_${q.mname}_ENABLED() \\\n\t({ uint32_t enabled = 0; \\\n\t__dtraceenabled_${pf}___${q.fname}(&enabled); \\\n\t   enabled; })\n`;
  }
  out += '\n\n';
  for (const q of probes) {
    const sem = semaphoreName(p.name, q.dname);
    const decl = q.args.map((t, i) => `${cType(t)} arg${i}`).join(', ');
    const operands = q.args.map((_, i) => `[a${i}] "nor" (arg${i})`).join(', ');
    out +=
      `__attribute__((__weak__, __visibility__("hidden"), __section__(".probes"), __used__))\n` +
      `volatile unsigned short ${sem};\n` +
      `static __inline__ __attribute__((__always_inline__, __unused__)) void\n` +
      `__dtrace_${pf}___${q.fname}(${decl === '' ? 'void' : decl})\n{\n` +
      `\t__asm__ __volatile__(\n${siteAsm(p.name, headerFuncName(q.dname), sem, q.args.length, q.args.map(argSize))}\n` +
      `\t    ${operands === '' ? '' : `: : ${operands}`});\n}\n` +
      `static __inline__ __attribute__((__always_inline__, __unused__)) void\n` +
      `__dtraceenabled_${pf}___${q.fname}(uint32_t *flag)\n{\n` +
      `\t*flag = ${sem} != 0;\n}\n`;
  }
  out += '\n#else\n\n';
  for (const q of probes) {
    out += `#define\t${pm}_${q.mname}(${params(q.args.length)})\n`;
    out += `#define\t${pm}_${q.mname}_ENABLED() (0)\n`;
  }
  out += '\n#endif\n\n';
  return out;
}

/**
 * The header for the providers `providers` defines (dtrace_program_header); `file` is the
 * output's name, whose macro form guards it (_PROVIDER_H), or null (standard output).
 */
export function programHeader(providers: ProviderDecl[], file: string | null): string {
  let out = '/*\n * Generated by dtrace(1M).\n */\n\n';
  let guard: string | null = null;
  if (file !== null) {
    guard = headerMacroName(file.slice(file.lastIndexOf('/') + 1));
    out += `#ifndef\t_${guard}\n#define\t_${guard}\n\n`;
  }
  out += '#include <unistd.h>\n#include <inttypes.h>\n\n';
  out += '#ifdef\t__cplusplus\nextern "C" {\n#endif\n\n';
  out += '#ifdef\t__GNUC__\n#pragma GCC system_header\n#endif\n\n';
  for (const p of providers) out += providerBlock(p);
  out += '\n#ifdef\t__cplusplus\n}\n#endif\n';
  if (guard !== null) out += `\n#endif\t/* _${guard} */\n`;
  return out;
}
