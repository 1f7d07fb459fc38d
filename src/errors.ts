// Errors every layer may raise or word: a fatal error (printed "dtrace: MSG", exit status 1),
// and a system call's failure in the C library's words (strerror), as DTrace prints them:
// Node's own messages ("ENOSPC: no space left on device, write") are not what users see.

/** A fatal runtime or setup error printed as "dtrace: MSG", exit status 1. */
export class DFatalError extends Error {}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EINTR: 'Interrupted system call',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENOTFOUND: 'Name or service not known',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files',
  EFBIG: 'File too large',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  EPIPE: 'Broken pipe',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EDQUOT: 'Disk quota exceeded',
  E2BIG: 'Argument list too long',
};

/** The C library's message for a Node system error (its errno name), else its own message. */
export function errnoMessage(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return (code !== undefined && STRERROR[code]) || (e instanceof Error ? e.message : String(e));
}
