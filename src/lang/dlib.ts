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

/**
 * arm64's uregs[] indexes (Oracle's libdtrace/arm64/regs.d): user_pt_regs, with which struct
 * pt_regs begins: regs[0..30], sp, pc, pstate; R_FP is x29 (the frame pointer).
 */
const ARM64_REGS = [...Array.from({ length: 31 }, (_, i) => `R_X${i}`), 'R_SP', 'R_PC', 'R_PSTATE'];

/** The register names D knows on a machine (Node's process.arch), by uregs[] index. */
export function registerNames(machine: string = process.arch): Map<string, number> {
  const m = new Map<string, number>();
  if (machine === 'x64') {
    X86_64_REGS.forEach((n, i) => m.set(n, i));
    for (const [a, b] of REG_ALIASES) m.set(a, m.get(b)!);
  } else if (machine === 'arm64') {
    ARM64_REGS.forEach((n, i) => m.set(n, i));
    m.set('R_FP', 29);
  }
  return m;
}

/** The largest uregs[] index (Oracle's dt_cg_uregs: pt_regs' slots; on x86-64 five task registers after them). */
export function maxUregsIndex(machine: string = process.arch): number {
  return machine === 'arm64' ? ARM64_REGS.length - 1 : X86_64_REGS.length - 1;
}

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

/**
 * The stable providers' constants (io, ip, tcp, udp): DTrace's names and values. DTrace's TCP
 * states are numbered as Linux numbers them (TCP_STATE_IDLE is 0, which Linux does not use).
 */
const NET_CONSTANTS: Array<[string, number]> = [
  ['AF_INET', 2], ['AF_INET6', 10],
  ['NET_PROBE_OUTBOUND', 0], ['NET_PROBE_INBOUND', 1],
  ['IPPROTO_IP', 0], ['IPPROTO_HOPOPTS', 0], ['IPPROTO_ICMP', 1], ['IPPROTO_IGMP', 2], ['IPPROTO_IPIP', 4],
  ['IPPROTO_TCP', 6], ['IPPROTO_EGP', 8], ['IPPROTO_PUP', 12], ['IPPROTO_UDP', 17], ['IPPROTO_IDP', 22],
  ['IPPROTO_TP', 29], ['IPPROTO_DCCP', 33], ['IPPROTO_IPV6', 41], ['IPPROTO_ROUTING', 43],
  ['IPPROTO_FRAGMENT', 44], ['IPPROTO_RSVP', 46], ['IPPROTO_GRE', 47], ['IPPROTO_ESP', 50],
  ['IPPROTO_AH', 51], ['IPPROTO_ICMPV6', 58], ['IPPROTO_NONE', 59], ['IPPROTO_DSTOPTS', 60],
  ['IPPROTO_OSPF', 89], ['IPPROTO_MTP', 92], ['IPPROTO_BEETPH', 94], ['IPPROTO_ENCAP', 98],
  ['IPPROTO_PIM', 103], ['IPPROTO_COMP', 108], ['IPPROTO_SCTP', 132], ['IPPROTO_MH', 135],
  ['IPPROTO_UDPLITE', 136], ['IPPROTO_RAW', 255], ['IPPROTO_MAX', 256],
  ['TCP_MIN_HEADER_LENGTH', 20],
  // TH_PUSH: illumos's name for Oracle's TH_PSH (the DTrace book's tcpio.d, tcpnmap.d use it)
  ['TH_FIN', 0x01], ['TH_SYN', 0x02], ['TH_RST', 0x04], ['TH_PSH', 0x08], ['TH_PUSH', 0x08],
  ['TH_ACK', 0x10], ['TH_URG', 0x20], ['TH_ECE', 0x40], ['TH_CWR', 0x80],
  ['TCP_STATE_IDLE', 0], ['TCP_STATE_ESTABLISHED', 1], ['TCP_STATE_SYN_SENT', 2],
  ['TCP_STATE_SYN_RECEIVED', 3], ['TCP_STATE_FIN_WAIT_1', 4], ['TCP_STATE_FIN_WAIT_2', 5],
  ['TCP_STATE_TIME_WAIT', 6], ['TCP_STATE_CLOSED', 7], ['TCP_STATE_CLOSE_WAIT', 8],
  ['TCP_STATE_LAST_ACK', 9], ['TCP_STATE_LISTEN', 10], ['TCP_STATE_CLOSING', 11],
];

/** bufinfo_t's b_flags (Solaris's buf(9S) bits, as DTrace documents them) */
const IO_CONSTANTS: Array<[string, number]> = [
  ['B_BUSY', 0x1], ['B_DONE', 0x2], ['B_ERROR', 0x4], ['B_PAGEIO', 0x10], ['B_PHYS', 0x20],
  ['B_READ', 0x40], ['B_WRITE', 0x100], ['B_ASYNC', 0x400],
];

/** fileinfo_t's fi_oflags: Linux's open(2) flags on x86-64 (asm-generic/fcntl.h), as io.d has them */
const OFLAG_CONSTANTS: Array<[string, number]> = [
  ['O_ACCMODE', 0o3], ['O_RDONLY', 0o0], ['O_WRONLY', 0o1], ['O_RDWR', 0o2], ['O_CREAT', 0o100],
  ['O_EXCL', 0o200], ['O_NOCTTY', 0o400], ['O_TRUNC', 0o1000], ['O_APPEND', 0o2000],
  ['O_NONBLOCK', 0o4000], ['O_NDELAY', 0o4000], ['O_SYNC', 0o4010000], ['O_FSYNC', 0o4010000],
  ['O_ASYNC', 0o20000], ['O_DIRECTORY', 0o200000], ['O_NOFOLLOW', 0o400000], ['O_CLOEXEC', 0o2000000],
  ['O_DSYNC', 0o10000], ['O_RSYNC', 0o4010000],
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
  for (const [n, v] of NET_CONSTANTS) int(n, v);
  for (const [n, v] of IO_CONSTANTS) int(n, v);
  for (const [n, v] of OFLAG_CONSTANTS) int(n, v);
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
  for (const [n, i] of registerNames()) int(n, i);
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

/**
 * The stable providers' argument structures (io, ip, tcp, udp), as DTrace documents them; the
 * providers fill them from the kernel's tracepoints (src/providers/net.ts, io.ts).
 */
export const D_LIBRARY_NET_TYPES = `
typedef char *caddr_t;
typedef unsigned long long netstackid_t;
typedef struct in6_addr in6_addr_t;
typedef struct bufinfo {
	int b_flags;
	size_t b_bcount;
	caddr_t b_addr;
	uint64_t b_lblkno;
	uint64_t b_blkno;
	size_t b_resid;
	size_t b_bufsize;
	caddr_t b_iodone;
	int b_error;
	dev_t b_edev;
} bufinfo_t;
typedef struct devinfo {
	int dev_major;
	int dev_minor;
	int dev_instance;
	string dev_name;
	string dev_statname;
	string dev_pathname;
} devinfo_t;
typedef struct fileinfo {
	string fi_name;
	string fi_dirname;
	string fi_pathname;
	loff_t fi_offset;
	string fi_fs;
	string fi_mount;
	int fi_oflags;
} fileinfo_t;
typedef struct conninfo {
	string ci_local;
	string ci_remote;
	string ci_protocol;
} conninfo_t;
typedef struct pktinfo {
	uintptr_t pkt_addr;
} pktinfo_t;
typedef struct csinfo {
	uintptr_t cs_addr;
	uint64_t cs_cid;
	pid_t cs_pid;		/* illumos's: the connection's process; -1, Linux's sockets do not record one */
	zoneid_t cs_zoneid;	/* illumos's: 0, the global zone (Linux has no zones) */
} csinfo_t;
typedef struct ipinfo {
	uint8_t ip_ver;
	uint32_t ip_plength;
	string ip_saddr;
	string ip_daddr;
} ipinfo_t;
typedef struct ifinfo {
	string if_name;
	int8_t if_local;
	netstackid_t if_ipstack;
	uintptr_t if_addr;
} ifinfo_t;
typedef struct ipv4info {
	uint8_t ipv4_ver;
	uint8_t ipv4_ihl;
	uint8_t ipv4_tos;
	uint16_t ipv4_length;
	uint16_t ipv4_ident;
	uint8_t ipv4_flags;
	uint16_t ipv4_offset;
	uint8_t ipv4_ttl;
	uint8_t ipv4_protocol;
	string ipv4_protostr;
	uint16_t ipv4_checksum;
	ipaddr_t ipv4_src;
	ipaddr_t ipv4_dst;
	string ipv4_saddr;
	string ipv4_daddr;
	struct iphdr *ipv4_hdr;
} ipv4info_t;
typedef struct ipv6info {
	uint8_t ipv6_ver;
	uint8_t ipv6_tclass;
	uint32_t ipv6_flow;
	uint16_t ipv6_plen;
	uint8_t ipv6_nexthdr;
	string ipv6_nextstr;
	uint8_t ipv6_hlim;
	in6_addr_t *ipv6_src;
	in6_addr_t *ipv6_dst;
	string ipv6_saddr;
	string ipv6_daddr;
	struct ipv6hdr *ipv6_hdr;
} ipv6info_t;
typedef struct tcpinfo {
	uint16_t tcp_sport;
	uint16_t tcp_dport;
	uint32_t tcp_seq;
	uint32_t tcp_ack;
	uint8_t tcp_offset;
	uint8_t tcp_flags;
	uint16_t tcp_window;
	uint16_t tcp_checksum;
	uint16_t tcp_urgent;
	uintptr_t tcp_hdr;
} tcpinfo_t;
typedef struct tcpsinfo {
	uintptr_t tcps_addr;
	int tcps_local;
	uint16_t tcps_lport;
	uint16_t tcps_rport;
	string tcps_laddr;
	string tcps_raddr;
	int tcps_state;
	uint32_t tcps_iss;
	uint32_t tcps_suna;
	uint32_t tcps_snxt;
	uint32_t tcps_rnxt;
	uint32_t tcps_swnd;
	int32_t tcps_snd_ws;
	uint32_t tcps_rwnd;
	int32_t tcps_rcv_ws;
	uint32_t tcps_cwnd;
	uint32_t tcps_cwnd_ssthresh;
	uint32_t tcps_sack_snxt;
	uint32_t tcps_rto;
	uint32_t tcps_mss;
	int tcps_retransmit;
	uint32_t tcps_rtt;
	uint32_t tcps_rtt_sd;
	uint32_t tcps_irs;
} tcpsinfo_t;
typedef struct tcplsinfo {
	int tcps_state;
} tcplsinfo_t;
typedef struct udpinfo {
	uint16_t udp_sport;
	uint16_t udp_dport;
	uint16_t udp_length;
	uint16_t udp_checksum;
	struct udphdr *udp_hdr;
} udpinfo_t;
typedef struct udpsinfo {
	uintptr_t udps_addr;
	uint16_t udps_lport;
	uint16_t udps_rport;
	string udps_laddr;
	string udps_raddr;
} udpsinfo_t;
`;

/** D's library inlines with parameters, known to every program (the names DTrace's scripts use). */
export const D_LIBRARY_INLINES = `
inline string tcp_state_string[int s] =
	s == TCP_STATE_CLOSED ? "state-closed" :
	s == TCP_STATE_IDLE ? "state-idle" :
	s == TCP_STATE_LISTEN ? "state-listen" :
	s == TCP_STATE_SYN_SENT ? "state-syn-sent" :
	s == TCP_STATE_SYN_RECEIVED ? "state-syn-received" :
	s == TCP_STATE_ESTABLISHED ? "state-established" :
	s == TCP_STATE_CLOSE_WAIT ? "state-close-wait" :
	s == TCP_STATE_FIN_WAIT_1 ? "state-fin-wait-1" :
	s == TCP_STATE_CLOSING ? "state-closing" :
	s == TCP_STATE_LAST_ACK ? "state-last-ack" :
	s == TCP_STATE_FIN_WAIT_2 ? "state-fin-wait-2" :
	s == TCP_STATE_TIME_WAIT ? "state-time-wait" :
	"<unknown>";
`;
