// An initramfs is a cpio archive in the "newc" format: per file a 110-byte ASCII header of hex
// fields, the NUL-terminated name, the data, each padded to 4 bytes; a TRAILER!!! entry ends it.
// Written here so the lab needs no cpio(1).                  [Documentation/driver-api/early-userspace]

import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export class Initramfs {
  private readonly parts: Buffer[] = [];
  private readonly dirs = new Set<string>();
  private ino = 1;

  private entry(name: string, mode: number, data: Buffer): void {
    const fields = [
      this.ino++, mode, 0 /* uid */, 0 /* gid */, 1 /* nlink */, 0 /* mtime */, data.length,
      0, 0, 0, 0 /* dev and rdev major/minor */, name.length + 1, 0 /* check */,
    ];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    const head = Buffer.from(header + name + '\0', 'latin1');
    this.parts.push(head, Buffer.alloc(pad4(head.length)), data, Buffer.alloc(pad4(data.length)));
  }

  /** A directory and its parents (names have no leading slash). */
  dir(path: string): void {
    const parts = path.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (this.dirs.has(d)) continue;
      this.dirs.add(d);
      this.entry(d, S_IFDIR | 0o755, Buffer.alloc(0));
    }
  }

  file(path: string, data: Buffer, mode = 0o644): void {
    this.parentOf(path);
    this.entry(path, S_IFREG | mode, data);
  }

  symlink(path: string, target: string): void {
    this.parentOf(path);
    this.entry(path, S_IFLNK | 0o777, Buffer.from(target, 'latin1'));
  }

  /** A file of the host, links followed, at `path` in the archive. */
  copy(hostPath: string, path: string): void {
    const st = lstatSync(hostPath);
    this.file(path, readFileSync(hostPath), st.mode & 0o777);
  }

  /** A host directory tree, symbolic links kept as links. */
  tree(hostDir: string, path: string, skip: (name: string) => boolean = () => false): void {
    this.dir(path);
    for (const name of readdirSync(hostDir)) {
      if (skip(name)) continue;
      const h = join(hostDir, name);
      const p = `${path}/${name}`;
      const st = lstatSync(h);
      if (st.isSymbolicLink()) this.symlink(p, readlinkSync(h));
      else if (st.isDirectory()) this.tree(h, p, skip);
      else if (st.isFile()) this.file(p, readFileSync(h), st.mode & 0o777);
    }
  }

  private parentOf(path: string): void {
    const i = path.lastIndexOf('/');
    if (i > 0) this.dir(path.slice(0, i));
  }

  /** The archive, gzip'ed (fast level: the kernel unpacks it once). */
  build(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    return gzipSync(Buffer.concat(this.parts), { level: 1 });
  }
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}
