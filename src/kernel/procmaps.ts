// /proc/<pid>/maps: the objects a process has mapped, as the pid provider names them (the
// executable and each shared object, by the base name of its file) and where their code is.
//                                                                  [libproc Pobject_iter, dt_pid.c]

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readlinkSync } from 'node:fs';
import { ElfFile } from './elf.js';

/** One line of /proc/<pid>/maps. */
export interface Mapping {
  start: number;
  end: number;
  perms: string;
  /** offset in the file of the mapping's first byte */
  offset: number;
  inode: number;
  /** the file, or '' / a pseudo-name ([heap], [vdso]) for anonymous memory */
  path: string;
}

/** A file a process maps with at least one executable mapping. */
export interface MappedObject {
  /** the file, as the process's maps name it */
  path: string;
  /** the probe module: the base name of the file */
  module: string;
  /** the process's executable (whose module "a.out" also names) */
  isExec: boolean;
  /** the file ranges [offset, offset + length) mapped executable: code lies there */
  code: Array<[number, number]>;
}

/** Parses the text of /proc/<pid>/maps. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    // "7f12a0000000-7f12a0028000 r-xp 00028000 fd:01 1234   /usr/lib/x86_64-linux-gnu/libc.so.6"
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], offset: parseInt(m[4], 16), inode: Number(m[5]), path: m[6] });
  }
  return out;
}

/** The base name of an object's path: its module name. */
export function moduleName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? path : path.slice(slash + 1);
}

/**
 * The objects of a process's mappings that hold code: file-backed, mapped executable, in the
 * order they are mapped. A file deleted since it was mapped is left out (the kernel cannot
 * place a uprobe in it by its name). `exe` is the executable's path (/proc/<pid>/exe).
 */
export function mappedObjects(maps: Mapping[], exe: string | null): MappedObject[] {
  const byPath = new Map<string, MappedObject>();
  for (const m of maps) {
    if (m.inode === 0 || !m.path.startsWith('/') || m.path.endsWith(' (deleted)')) continue;
    if (m.perms[2] !== 'x') continue;
    let o = byPath.get(m.path);
    if (o === undefined) {
      o = { path: m.path, module: moduleName(m.path), isExec: m.path === exe, code: [] };
      byPath.set(m.path, o);
    }
    o.code.push([m.offset, m.offset + (m.end - m.start)]);
  }
  return [...byPath.values()];
}

/** The objects of a running process (null: it is gone, or cannot be read). */
export function processObjects(pid: number): MappedObject[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return null;
  }
  let exe: string | null = null;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // a kernel thread, or no permission: no object is the executable
  }
  return mappedObjects(parseMaps(text), exe);
}

/** Whether a file offset lies in an object's code. */
export function inCode(o: MappedObject, fileOffset: number): boolean {
  for (const [a, b] of o.code) if (fileOffset >= a && fileOffset < b) return true;
  return false;
}

/** The system's dynamic loader: the one this process was loaded by. */
function systemLoader(): string | null {
  try {
    const m = /\s(\/\S*\/ld-linux[^/\s]*\.so\.\d+)$/m.exec(readFileSync('/proc/self/maps', 'latin1'));
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/** The interpreter a "#!" script names (its first word), or null for anything else. */
export function interpreterOf(path: string): string | null {
  let head: string;
  try {
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(256);
    const n = readSync(fd, b, 0, b.length, 0);
    closeSync(fd);
    head = b.toString('latin1', 0, n);
  } catch {
    return null;
  }
  const m = /^#![ \t]*(\/[^ \t\n]+)/.exec(head);
  return m ? m[1] : null;
}

/** The objects of a "ld.so --list" listing ("libc.so.6 => /lib/.../libc.so.6 (0x...)", "/lib64/ld-linux-x86-64.so.2 (0x...)"). */
export function parseLoaderList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(?:\S+ => )?(\/\S+) \(0x[0-9a-f]+\)\s*$/.exec(line);
    if (m && !out.includes(m[1])) out.push(m[1]);
  }
  return out;
}

/**
 * The objects a command will map once it has exec'd (a -c process is held before its exec, so
 * its maps are not yet its command's): the executable, then what the system's dynamic loader
 * says it loads with it (ld.so --list: the loader reads the objects, runs none of their code).
 * Objects it opens later (dlopen) are not among them.
 */
export function plannedObjects(command: string): MappedObject[] {
  // a script runs its interpreter: that is the process's executable
  const exe = interpreterOf(command) ?? command;
  const paths = [exe];
  const loader = systemLoader();
  if (loader !== null) {
    // the command inherits dtrace's environment: LD_LIBRARY_PATH says where its objects are
    const env: NodeJS.ProcessEnv = process.env.LD_LIBRARY_PATH !== undefined ? { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH } : {};
    const r = spawnSync(loader, ['--list', exe], { encoding: 'latin1', timeout: 10_000, env });
    if (r.status === 0) for (const p of parseLoaderList(r.stdout)) if (!paths.includes(p)) paths.push(p);
  }
  const out: MappedObject[] = [];
  for (const path of paths) {
    let code: Array<[number, number]>;
    try {
      const f = ElfFile.open(path);
      code = f.codeRanges();
      f.close();
    } catch {
      continue;
    }
    out.push({ path, module: moduleName(path), isExec: path === exe, code });
  }
  return out;
}
