// fds[fd] at firing time: where BPF can be used and the kernel has BTF, a probe whose clauses
// index fds[] with one of its arguments (fds[arg0]) has the file open on that descriptor copied
// as it fires (kernel/bpf/capture.ts, UserCopy.file): curthread->files->fdt->fd[fd]'s f_pos,
// f_flags, f_path.dentry->d_name and f_path.mnt->mnt_sb->s_type->name, as io.d's fileinfo_t
// translator reads them, and the path, walked up the dentries and across mounts to the root
// (bpf_d_path cannot be called from a tracepoint) as far as 16 names of under 64 bytes. The
// mount, and a path too deep or long, are read from /proc when the clause runs (runtime.ts), as
// every field is where nothing was copied.                                            [io.d]

import {
  FILE_COMPONENT_BYTES,
  FILE_COPY_BYTES,
  FILE_DEPTH,
  FILE_FLAGS,
  FILE_FS,
  FILE_FS_BYTES,
  FILE_NAME,
  FILE_NAME_BYTES,
  FILE_PATH,
  FILE_POS,
  type FileCopy,
  type UserCopy,
} from '../kernel/bpf/capture.js';
import { kernelTypes, memberOffset } from '../kernel/btf.js';
import type { UserMemory } from '../kernel/user-memory.js';
import type { ProbeContext } from '../runtime/context.js';
import type { ClausePlan } from './clause-plan.js';

let places: FileCopy | null | undefined;

/** Where BTF places what a file copy reads; null without BTF (or a kernel laid out otherwise). */
function filePlaces(): FileCopy | null {
  if (places !== undefined) return places;
  const T = (n: string) => kernelTypes.lookup(`struct ${n}`);
  const v = {
    files: memberOffset(T('task_struct'), ['files']),
    fdt: memberOffset(T('files_struct'), ['fdt']),
    maxFds: memberOffset(T('fdtable'), ['max_fds']),
    fd: memberOffset(T('fdtable'), ['fd']),
    pos: memberOffset(T('file'), ['f_pos']),
    flags: memberOffset(T('file'), ['f_flags']),
    dentry: memberOffset(T('file'), ['f_path', 'dentry']),
    mnt: memberOffset(T('file'), ['f_path', 'mnt']),
    dname: memberOffset(T('dentry'), ['d_name', 'name']),
    sb: memberOffset(T('vfsmount'), ['mnt_sb']),
    stype: memberOffset(T('super_block'), ['s_type']),
    fsname: memberOffset(T('file_system_type'), ['name']),
  };
  places = Object.values(v).some((x) => x === null) ? null : (v as FileCopy);
  const w = {
    dparent: memberOffset(T('dentry'), ['d_parent']),
    mountMnt: memberOffset(T('mount'), ['mnt']),
    mntParent: memberOffset(T('mount'), ['mnt_parent']),
    mntMountpoint: memberOffset(T('mount'), ['mnt_mountpoint']),
    mntRoot: memberOffset(T('vfsmount'), ['mnt_root']),
  };
  if (places !== null && !Object.values(w).some((x) => x === null)) places.walk = w as NonNullable<FileCopy['walk']>;
  return places;
}

/** The arguments the clauses index fds[] with (none if some clause indexes it otherwise: it is then read from /proc). */
export function fdArgsOf(plans: ClausePlan[]): number[] {
  const out = new Set<number>();
  for (const p of plans) for (const n of p.fdArgs ?? []) out.add(n);
  return out.has(-1) ? [] : [...out];
}

/** A copy of the file open on the descriptor in the record's integer field at `offset` (`size` bytes). */
export function fileCopy(offset: number, size: number): UserCopy | null {
  const f = filePlaces();
  if (f === null || (size !== 4 && size !== 8)) return null;
  return { ptrOffset: offset, maxLen: FILE_COPY_BYTES, countSize: size, file: f };
}

/** A NUL-terminated string of at most `max` bytes at `from` in a copy, as latin1. */
export function cstr(v: DataView, from: number, max: number): string {
  let s = '';
  for (let i = 0; i < max; i++) {
    const c = v.getUint8(from + i);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Hands the file copy `j` of a captured record (descriptor `fd`) to the firing; false if there
 * is none (fds[] then reads /proc when the clause runs).
 */
export function attachFile(ctx: ProbeContext, user: UserMemory, eventId: number, view: DataView, off: number, j: number, fd: number): boolean {
  const at = user.fileCopyAt(eventId, view, off, j);
  if (at === -1) return false;
  ctx.firedFd = fd;
  ctx.firedFdOpen = at >= 0;
  if (at < 0) return true;
  ctx.firedFdPos = view.getUint32(at + FILE_POS, true) + view.getInt32(at + FILE_POS + 4, true) * 4294967296;
  ctx.firedFdFlags = view.getInt32(at + FILE_FLAGS, true);
  ctx.firedFdName = cstr(view, at + FILE_NAME, FILE_NAME_BYTES);
  ctx.firedFdFs = cstr(view, at + FILE_FS, FILE_FS_BYTES);
  ctx.firedFdPath = pathOf(view, at, ctx.firedFdFs);
  return true;
}

/**
 * The copy's path (the names walked, root first), or '' if the walk did not reach the root or
 * the file system's names are no path (pipes, sockets, anonymous inodes: /proc says those).
 */
function pathOf(view: DataView, at: number, fs: string): string {
  const depth = view.getInt32(at + FILE_DEPTH, true);
  if (depth < 0 || PSEUDO.has(fs)) return '';
  let path = '';
  for (let k = 0; k < depth; k++) {
    const name = cstr(view, at + FILE_PATH + k * FILE_COMPONENT_BYTES, FILE_COMPONENT_BYTES);
    // a name as long as its slot may be cut
    if (name.length >= FILE_COMPONENT_BYTES - 1) return '';
    if (name !== '' && name !== '/') path = `/${name}${path}`;
  }
  return path === '' ? '/' : path;
}

/** File systems whose files' names are made up by the kernel, not a path from the root. */
const PSEUDO = new Set(['pipefs', 'sockfs', 'anon_inodefs', 'nsfs', 'pidfs', 'bpf', 'dmabuf', 'secretmem']);
