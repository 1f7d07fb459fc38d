// /proc/<pid>: what DTrace's psinfo_t and lwpsinfo_t report about a process and thread. [dt_proc.c]

import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  nlwp: number;
  /** comm: the executable's name (at most 15 chars) */
  fname: string;
  /** the command line, arguments separated by spaces (at most 79 chars) */
  psargs: string;
  argc: number;
  /** virtual and resident size in KiB */
  sizeKb: number;
  rssKb: number;
  /** process start, and user+system CPU time, in ns */
  startNs: bigint;
  cpuNs: bigint;
  /** thread state letter (R, S, D, ...), nice, priority, last CPU */
  state: string;
  nice: number;
  pri: number;
  cpu: number;
  /** scheduling policy (SCHED_OTHER 0, SCHED_FIFO 1, ...) */
  policy: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

/** Reads a process (or, with tid, one of its threads); null if it is gone. */
export function readProc(pid: number, tid = pid): ProcInfo | null {
  const base = tid === pid ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
  const stat = read(`${base}/stat`);
  if (stat === null) return null;
  const close = stat.lastIndexOf(')');
  const fname = stat.slice(stat.indexOf('(') + 1, close);
  // fields after the comm, numbered from field 3 (state)
  const f = stat.slice(close + 2).split(' ');
  const num = (i: number) => Number(f[i - 3]);
  const hz = 100;
  const status = read(`/proc/${pid}/status`) ?? '';
  const ids = (key: string): number[] => {
    const m = new RegExp(`^${key}:\\s+(.*)$`, 'm').exec(status);
    return m ? m[1].split(/\s+/).map(Number) : [0, 0];
  };
  const [uid, euid] = ids('Uid');
  const [gid, egid] = ids('Gid');
  // a process that renamed itself (as dtrace does, to "dtrace") leaves NULs where its longer
  // command line was: they end it
  const cmdline = (read(`/proc/${pid}/cmdline`) ?? '').replace(/\0+$/, '');
  const args = cmdline === '' ? [] : cmdline.split('\0');
  const statm = (read(`/proc/${pid}/statm`) ?? '0 0').split(' ').map(Number);
  const pageKb = 4;
  return {
    pid,
    ppid: num(4),
    pgid: num(5),
    sid: num(6),
    uid,
    euid,
    gid,
    egid,
    nlwp: num(20),
    fname: fname.slice(0, 15),
    psargs: (args.length > 0 ? args.join(' ') : fname).slice(0, 79),
    argc: args.length,
    sizeKb: statm[0] * pageKb,
    rssKb: statm[1] * pageKb,
    startNs: (BigInt(num(22)) * 1_000_000_000n) / BigInt(hz),
    cpuNs: (BigInt(num(14) + num(15)) * 1_000_000_000n) / BigInt(hz),
    state: f[0] ?? 'R',
    nice: num(19),
    pri: num(18),
    cpu: num(39),
    policy: num(41),
  };
}

/** What cpuinfo_t reports about a CPU: its package (chip), NUMA node (lgrp) and clock. */
export interface CpuInfo {
  chip: number;
  node: number;
  /** MHz, as /proc/cpuinfo's "cpu MHz" (0 if it does not say) */
  clockMHz: number;
  /** /proc/cpuinfo lists the x87 "fpu" flag */
  x87: boolean;
}

let cpuTable: Map<number, { clockMHz: number; x87: boolean }> | null = null;
const cpuCache = new Map<number, CpuInfo>();

/** A CPU's topology and clock, read once per CPU (sysfs and /proc/cpuinfo). */
export function readCpu(cpu: number): CpuInfo {
  let c = cpuCache.get(cpu);
  if (c) return c;
  if (!cpuTable) {
    cpuTable = new Map();
    for (const block of (read('/proc/cpuinfo') ?? '').split(/\n\s*\n/)) {
      const n = /^processor\s*:\s*(\d+)/m.exec(block);
      if (!n) continue;
      const mhz = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(block);
      cpuTable.set(Number(n[1]), { clockMHz: mhz ? Math.round(Number(mhz[1])) : 0, x87: /^flags\s*:.*\bfpu\b/m.test(block) });
    }
  }
  const dir = `/sys/devices/system/cpu/cpu${cpu}`;
  const chip = Number(read(`${dir}/topology/physical_package_id`) ?? '0');
  let node = 0;
  try {
    const e = readdirSync(dir).find((name) => /^node\d+$/.test(name));
    if (e) node = Number(e.slice(4));
  } catch {
    // no sysfs: node 0
  }
  const t = cpuTable.get(cpu);
  c = { chip: Number.isFinite(chip) ? chip : 0, node, clockMHz: t?.clockMHz ?? 0, x87: t?.x87 ?? false };
  cpuCache.set(cpu, c);
  return c;
}

/** An open file descriptor of a process, as /proc/PID/fd and /proc/PID/fdinfo show it. */
export interface FdInfo {
  /** what /proc/PID/fd/N links to: a path, or "socket:[ino]", "pipe:[ino]", "anon_inode:..." */
  path: string;
  /** the file position */
  pos: number;
  /** the open flags (struct file's f_flags) */
  flags: number;
  /** the mount point and file system type of the mount the file is on ("" when unknown) */
  mount: string;
  fstype: string;
}

/** Descriptor `fd` of process `pid` now, or null when it is not open (or the process is gone). */
export function readFd(pid: number, fd: number): FdInfo | null {
  let path: string;
  let info: string;
  try {
    path = readlinkSync(`/proc/${pid}/fd/${fd}`);
    info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
  } catch {
    return null;
  }
  const field = (name: string): string => {
    const m = new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(info);
    return m ? m[1] : '';
  };
  const mntId = field('mnt_id');
  let mount = '';
  let fstype = '';
  if (mntId !== '') {
    try {
      // mountinfo: id parent major:minor root mountpoint options [optional...] - fstype source super
      for (const line of readFileSync(`/proc/${pid}/mountinfo`, 'latin1').split('\n')) {
        if (!line.startsWith(`${mntId} `)) continue;
        const f = line.split(' ');
        mount = unescapeMount(f[4] ?? '');
        const dash = f.indexOf('-');
        fstype = dash >= 0 ? (f[dash + 1] ?? '') : '';
        break;
      }
    } catch {
      // the process exited in between: the mount stays unknown
    }
  }
  return { path, pos: Number(field('pos') || '0'), flags: parseInt(field('flags') || '0', 8), mount, fstype };
}

/** mountinfo escapes space, tab, newline and backslash as \ooo */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

const mountsByDev = new Map<number, { mount: string; fstype: string } | null>();

/**
 * Where the file system on a device (the kernel's dev_t: 12 bits of major, 20 of minor) is
 * mounted, its root first (this process's mount namespace), and its type; null if it is not.
 * Read once per device.
 */
export function mountOfDevice(dev: number): { mount: string; fstype: string } | null {
  let m = mountsByDev.get(dev);
  if (m !== undefined) return m;
  m = null;
  const want = `${dev >>> 20}:${dev & 0xfffff}`;
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'latin1').split('\n')) {
      const f = line.split(' ');
      if (f[2] !== want) continue;
      const dash = f.indexOf('-');
      const here = { mount: unescapeMount(f[4] ?? ''), fstype: dash >= 0 ? (f[dash + 1] ?? '') : '' };
      // a mount of the file system's root is the one a path from its root is under
      if (f[3] === '/') {
        m = here;
        break;
      }
      m ??= null;
    }
  } catch {
    // no /proc: unknown
  }
  mountsByDev.set(dev, m);
  return m;
}
