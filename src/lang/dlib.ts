// D's predefined constants: NULL, fault codes, errno and signal numbers, register indices.
// errno numbers are Linux's generic ABI (asm-generic/errno*.h); signal numbers come from the
// running system (Node's os.constants); fault codes are DTrace's.           [dlibs/*.d, dt_open.c]

import { constants } from 'node:os';

export interface DConstant {
  /** the type name of the constant ("int", "long") */
  type: string;
  value: bigint;
}

/** x86-64 pt_regs slots as uregs[] indexes them (R_R15 = 0 ... R_SS = 20, then segment regs). */
const X86_64_REGS = [
  'R_R15', 'R_R14', 'R_R13', 'R_R12', 'R_RBP', 'R_RBX', 'R_R11', 'R_R10', 'R_R9', 'R_R8', 'R_RAX',
  'R_RCX', 'R_RDX', 'R_RSI', 'R_RDI', 'R_ERR', 'R_RIP', 'R_CS', 'R_RFL', 'R_RSP', 'R_SS', 'R_DS',
  'R_ES', 'R_FS', 'R_GS', 'R_TRAPNO',
];

const REG_ALIASES: Array<[string, string]> = [
  ['R_EBX', 'R_RBX'], ['R_ECX', 'R_RCX'], ['R_EDX', 'R_RDX'], ['R_ESI', 'R_RSI'], ['R_EDI', 'R_RDI'],
  ['R_EBP', 'R_RBP'], ['R_EAX', 'R_RAX'], ['R_EIP', 'R_RIP'], ['R_EFL', 'R_RFL'], ['R_ESP', 'R_RSP'],
  ['R_PC', 'R_RIP'], ['R_FP', 'R_RBP'], ['R_SP', 'R_RSP'], ['R_PS', 'R_RFL'], ['R_R0', 'R_RAX'], ['R_R1', 'R_RBX'],
];

const FAULTS = [
  'DTRACEFLT_UNKNOWN', 'DTRACEFLT_BADADDR', 'DTRACEFLT_BADALIGN', 'DTRACEFLT_ILLOP', 'DTRACEFLT_DIVZERO',
  'DTRACEFLT_NOSCRATCH', 'DTRACEFLT_KPRIV', 'DTRACEFLT_UPRIV', 'DTRACEFLT_TUPOFLOW', 'DTRACEFLT_BADSTACK',
];

/** Linux errno names in number order from 1 ("-": unused number). */
const ERRNO_NAMES = [
  'EPERM', 'ENOENT', 'ESRCH', 'EINTR', 'EIO', 'ENXIO', 'E2BIG', 'ENOEXEC', 'EBADF', 'ECHILD',
  'EAGAIN', 'ENOMEM', 'EACCES', 'EFAULT', 'ENOTBLK', 'EBUSY', 'EEXIST', 'EXDEV', 'ENODEV', 'ENOTDIR',
  'EISDIR', 'EINVAL', 'ENFILE', 'EMFILE', 'ENOTTY', 'ETXTBSY', 'EFBIG', 'ENOSPC', 'ESPIPE', 'EROFS',
  'EMLINK', 'EPIPE', 'EDOM', 'ERANGE', 'EDEADLK', 'ENAMETOOLONG', 'ENOLCK', 'ENOSYS', 'ENOTEMPTY', 'ELOOP',
  '-', 'ENOMSG', 'EIDRM', 'ECHRNG', 'EL2NSYNC', 'EL3HLT', 'EL3RST', 'ELNRNG', 'EUNATCH', 'ENOCSI',
  'EL2HLT', 'EBADE', 'EBADR', 'EXFULL', 'ENOANO', 'EBADRQC', 'EBADSLT', '-', 'EBFONT', 'ENOSTR',
  'ENODATA', 'ETIME', 'ENOSR', 'ENONET', 'ENOPKG', 'EREMOTE', 'ENOLINK', 'EADV', 'ESRMNT', 'ECOMM',
  'EPROTO', 'EMULTIHOP', 'EDOTDOT', 'EBADMSG', 'EOVERFLOW', 'ENOTUNIQ', 'EBADFD', 'EREMCHG', 'ELIBACC', 'ELIBBAD',
  'ELIBSCN', 'ELIBMAX', 'ELIBEXEC', 'EILSEQ', 'ERESTART', 'ESTRPIPE', 'EUSERS', 'ENOTSOCK', 'EDESTADDRREQ', 'EMSGSIZE',
  'EPROTOTYPE', 'ENOPROTOOPT', 'EPROTONOSUPPORT', 'ESOCKTNOSUPPORT', 'EOPNOTSUPP', 'EPFNOSUPPORT', 'EAFNOSUPPORT', 'EADDRINUSE', 'EADDRNOTAVAIL', 'ENETDOWN',
  'ENETUNREACH', 'ENETRESET', 'ECONNABORTED', 'ECONNRESET', 'ENOBUFS', 'EISCONN', 'ENOTCONN', 'ESHUTDOWN', 'ETOOMANYREFS', 'ETIMEDOUT',
  'ECONNREFUSED', 'EHOSTDOWN', 'EHOSTUNREACH', 'EALREADY', 'EINPROGRESS', 'ESTALE', 'EUCLEAN', 'ENOTNAM', 'ENAVAIL', 'EISNAM',
  'EREMOTEIO', 'EDQUOT', 'ENOMEDIUM', 'EMEDIUMTYPE', 'ECANCELED', 'ENOKEY', 'EKEYEXPIRED', 'EKEYREVOKED', 'EKEYREJECTED', 'EOWNERDEAD',
  'ENOTRECOVERABLE', 'ERFKILL', 'EHWPOISON',
];

let table: Map<string, DConstant> | null = null;

export function dConstants(): Map<string, DConstant> {
  if (table) return table;
  const t = new Map<string, DConstant>();
  const int = (name: string, v: number) => t.set(name, { type: 'int', value: BigInt(v) });
  t.set('NULL', { type: 'long', value: 0n });
  // link-layer types for link_ntop() (linux/if_arp.h)
  int('ARPHRD_ETHER', 1);
  int('ARPHRD_INFINIBAND', 32);
  // psinfo_t pr_dmodel values
  t.set('PR_MODEL_ILP32', { type: 'char', value: 1n });
  t.set('PR_MODEL_LP64', { type: 'char', value: 2n });
  FAULTS.forEach((n, i) => int(n, i));
  ERRNO_NAMES.forEach((n, i) => n !== '-' && int(n, i + 1));
  int('EWOULDBLOCK', 11);
  int('EDEADLOCK', 35);
  int('ENOTSUP', 95);
  for (const [k, v] of Object.entries(constants.signals)) int(k, v);
  int('SIGCLD', constants.signals.SIGCHLD);
  if (process.arch === 'x64') {
    X86_64_REGS.forEach((n, i) => int(n, i));
    for (const [a, b] of REG_ALIASES) t.set(a, t.get(b)!);
  }
  table = t;
  return t;
}

/**
 * Types D programs expect to exist without any kernel type information: the process and
 * thread views (psinfo_t, lwpsinfo_t, the Solaris-derived interface DTrace documents) and
 * cpuinfo_t (with Solaris's processor_info_t cpu_info, which the DTraceToolkit reads; Oracle's
 * has only the first four members). Compiled once into every type scope.
 */
export const D_LIBRARY_TYPES = `
typedef int psetid_t;
typedef int chipid_t;
typedef int lgrp_id_t;
typedef id_t taskid_t;
typedef id_t dprojid_t;
typedef id_t poolid_t;
typedef id_t zoneid_t;
typedef long long longlong_t;
typedef struct timespec { time_t tv_sec; long tv_nsec; } timespec_t;
typedef struct timespec timestruc_t;
typedef struct lwpsinfo {
	int pr_flag;
	int pr_lwpid;
	uintptr_t pr_addr;
	uintptr_t pr_wchan;
	char pr_stype;
	char pr_state;
	char pr_sname;
	char pr_nice;
	short pr_syscall;
	char pr_oldpri;
	char pr_cpu;
	int pr_pri;
	ushort_t pr_pctcpu;
	ushort_t pr_pad;
	timestruc_t pr_start;
	timestruc_t pr_time;
	char pr_clname[8];
	char pr_name[16];
	processorid_t pr_onpro;
	processorid_t pr_bindpro;
	psetid_t pr_bindpset;
	int pr_lgrp;
	int pr_filler[4];
} lwpsinfo_t;
typedef struct psinfo {
	int pr_flag;
	int pr_nlwp;
	pid_t pr_pid;
	pid_t pr_ppid;
	pid_t pr_pgid;
	pid_t pr_sid;
	uid_t pr_uid;
	uid_t pr_euid;
	uid_t pr_gid;
	uid_t pr_egid;
	uintptr_t pr_addr;
	size_t pr_size;
	size_t pr_rssize;
	size_t pr_pad1;
	struct tty_struct *pr_ttydev;
	ushort_t pr_pctcpu;
	ushort_t pr_pctmem;
	timestruc_t pr_start;
	timestruc_t pr_time;
	timestruc_t pr_ctime;
	char pr_fname[16];
	char pr_psargs[80];
	int pr_wstat;
	int pr_argc;
	uintptr_t pr_argv;
	uintptr_t pr_envp;
	char pr_dmodel;
	char pr_pad2[3];
	taskid_t pr_taskid;
	dprojid_t pr_projid;
	int pr_nzomb;
	poolid_t pr_poolid;
	zoneid_t pr_zoneid;
	id_t pr_contract;
	int pr_filler[1];
	lwpsinfo_t pr_lwp;
} psinfo_t;
typedef struct processor_info {
	int pi_state;
	char pi_processor_type[16];
	char pi_fputypes[32];
	int pi_clock;
} processor_info_t;
typedef struct cpuinfo {
	processorid_t cpu_id;
	psetid_t cpu_pset;
	chipid_t cpu_chip;
	lgrp_id_t cpu_lgrp;
	processor_info_t cpu_info;
} cpuinfo_t;
`;
