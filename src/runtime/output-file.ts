// The files dtrace writes its output to (-o, freopen()). dtrace runs as root, and the name may
// be in a directory anyone can write to (/tmp): there, another user could plant a symbolic link
// named like the output, to make root append to a file of its choosing. So, as the kernel does
// with fs.protected_symlinks and fs.protected_regular (which may be off), a symbolic link in a
// world-writable sticky directory is followed only if dtrace's user or the directory's owner
// owns it, and an existing file there only opened on the same condition; every component of the
// path is checked. A file dtrace creates is readable by its owner only (0600): to give it
// another mode, create it first with that mode (an existing file keeps its own).

import { type Stats, closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The mode of a file dtrace creates: its output is nobody else's business. */
const CREATE_MODE = 0o600;

/** Symbolic links followed at most, as the kernel's MAXSYMLINKS. */
const MAX_LINKS = 40;

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  ENAMETOOLONG: 'File name too long',
  ENXIO: 'No such device or address',
  ETXTBSY: 'Text file busy',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
};

/** A failure to open an output file; the message is the C library's text for it (strerror). */
export class OutputFileError extends Error {}

function failure(e: unknown): OutputFileError {
  const code = (e as NodeJS.ErrnoException).code;
  return new OutputFileError((code && STRERROR[code]) || (e as Error).message);
}

function refused(path: string, what: string): OutputFileError {
  return new OutputFileError(`Permission denied (${path} is another user's ${what} in a world-writable sticky directory)`);
}

/** Whether an entry owned by `uid` in directory `dir` may be used: outside world-writable sticky directories, always. */
function trusted(uid: number, dir: Stats): boolean {
  if ((dir.mode & 0o1002) !== 0o1002) return true;
  return uid === (process.geteuid?.() ?? 0) || uid === dir.uid;
}

/**
 * Checks each symbolic link on the way to `path` and what it names in the end; returns the
 * directory that holds the file (null if the walk cannot tell: an entry missing on the way, or a
 * link of /proc's like /dev/stdout's, which only open() resolves) and whether `path` itself
 * names a link. What was checked cannot change before the open: in a sticky directory only an
 * entry's owner or the directory's can replace it, and both are trusted.
 */
function check(path: string): { dir: string | null; isLink: boolean } {
  let dir = path.startsWith('/') ? '/' : process.cwd();
  const parts = (p: string) => p.split('/').filter((c) => c !== '' && c !== '.');
  let rest = parts(path);
  // the components of `path` itself still to walk (a link's target goes before them)
  let own = rest.length;
  let isLink = false;
  let links = 0;
  while (rest.length > 0) {
    const c = rest.shift()!;
    const original = own === rest.length + 1;
    if (original) own--;
    if (c === '..') {
      dir = dirname(dir);
      continue;
    }
    const p = join(dir, c);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      // a new file (created in a directory already checked), or open() says what is wrong
      return { dir: rest.length === 0 ? dir : null, isLink };
    }
    if (st.isSymbolicLink()) {
      if (original && own === 0) isLink = true;
      if (++links > MAX_LINKS) return { dir: null, isLink };
      if (!trusted(st.uid, statSync(dir))) throw refused(p, 'symbolic link');
      const target = readlinkSync(p);
      if (target.startsWith('/')) dir = '/';
      rest = [...parts(target), ...rest];
      continue;
    }
    if (rest.length === 0) {
      // an existing file, FIFO or device planted there is refused before open() can block on it
      if (!trusted(st.uid, statSync(dir))) throw refused(p, 'file');
      return { dir, isLink };
    }
    dir = p;
  }
  return { dir: null, isLink };
}

/**
 * Opens a file to append dtrace's output to, creating it (0600) if needed; throws an
 * OutputFileError whose message says why it cannot.
 */
export function openOutputFile(path: string): number {
  let fd: number;
  let dir: string | null;
  try {
    const c = check(path);
    dir = c.dir;
    // O_NOFOLLOW: the last component was checked as what it is; a link put there since is refused
    const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (c.isLink ? 0 : constants.O_NOFOLLOW);
    fd = openSync(path, flags, CREATE_MODE);
  } catch (e) {
    if (e instanceof OutputFileError) throw e;
    throw failure(e);
  }
  try {
    // what was opened, had it been swapped in after the check
    if (dir !== null && !trusted(fstatSync(fd).uid, statSync(dir))) throw refused(path, 'file');
  } catch (e) {
    closeSync(fd);
    if (e instanceof OutputFileError) throw e;
    throw failure(e);
  }
  return fd;
}
