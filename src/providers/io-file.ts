// io:::start's fileinfo_t at firing time: where BPF can be used and the kernel has BTF, and a
// clause reads args[2], io:::start comes from a raw tracepoint program on block_bio_queue
// (its argument: the struct bio) that reads, as the probe fires, what the tracefs record
// carries (the device, sector, size and operation) and the file the I/O is for:
// - buffered I/O (a page cache page: read-ahead, writeback): bio->bi_io_vec[0].bv_page->mapping
//   ->host, the inode, and its first dentry (i_dentry), and the page's index (fi_offset);
// - direct I/O through iomap (ext4, xfs, btrfs...: bi_end_io is iomap_dio_bio_end_io):
//   bi_private, the iomap_dio, ->iocb->ki_filp->f_path.dentry, ki_pos, and the file's f_flags
//   (fi_oflags: a page cache page has an inode but no open file, so buffered I/O has 0);
// then the dentry's names up to its file system's root (at most FILE_SLOTS names of under
// FILE_NAME_BYTES). The mount point is the first mount of that file system's device (its
// super block's s_dev) in /proc/self/mountinfo. Anything else (the block device read itself,
// a journal or metadata block, an anonymous page) has no file: "<none>", as DTrace prints.

import { Alu, Helper, Jmp, type Program, R0, R1, R2, R3, R6, R8, R9, R10 } from '../kernel/bpf/asm.js';
import type { CaptureValues } from '../kernel/bpf/capture.js';
import { kernelTypes, memberOffset } from '../kernel/btf.js';
import { kernelSymbols } from '../kernel/ksyms.js';

/** The area's layout: [u32 dev][u32 opf][u64 sector][u32 size][i32 names][u32 s_dev][u32 at root][u64 offset][u32 f_flags][u32 pad][names...] */
export const IOF_DEV = 0;
export const IOF_OPF = 4;
export const IOF_SECTOR = 8;
export const IOF_SIZE = 16;
/** how many names were read (0: no file known) */
export const IOF_NAMES = 20;
export const IOF_SDEV = 24;
/** 1: the names reach the file system's root (the last is its root's, "/") */
export const IOF_ROOT = 28;
export const IOF_OFFSET = 32;
/** the open file's f_flags (direct I/O; 0: no file known) */
export const IOF_OFLAGS = 40;
export const IOF_NAME = 48;
export const FILE_SLOTS = 16;
export const FILE_NAME_BYTES = 64;
export const IOF_BYTES = IOF_NAME + FILE_SLOTS * FILE_NAME_BYTES;

interface Places {
  bdev: number;
  opf: number;
  sector: number;
  size: number;
  ioVec: number;
  endIo: number;
  priv: number;
  bdDev: number;
  bvPage: number;
  bvOffset: number;
  mapping: number;
  index: number;
  host: number;
  iSb: number;
  iDentry: number;
  sDev: number;
  dAlias: number;
  dParent: number;
  dName: number;
  /** direct I/O through iomap: iomap_dio.iocb, kiocb.ki_filp and .ki_pos, file.f_path.dentry and .f_flags, and where bi_end_io points for it (0: not known) */
  dioIocb: number;
  kiFilp: number;
  kiPos: number;
  fDentry: number;
  fFlags: number;
  dioEndIo: bigint;
}

let places: Places | null | undefined;

/** Where BTF places what the program reads; null without BTF (or a kernel laid out otherwise). */
function ioPlaces(): Places | null {
  if (places !== undefined) return places;
  const T = (n: string) => kernelTypes.lookup(`struct ${n}`);
  const v = {
    bdev: memberOffset(T('bio'), ['bi_bdev']),
    opf: memberOffset(T('bio'), ['bi_opf']),
    sector: memberOffset(T('bio'), ['bi_iter', 'bi_sector']),
    size: memberOffset(T('bio'), ['bi_iter', 'bi_size']),
    ioVec: memberOffset(T('bio'), ['bi_io_vec']),
    endIo: memberOffset(T('bio'), ['bi_end_io']),
    priv: memberOffset(T('bio'), ['bi_private']),
    bdDev: memberOffset(T('block_device'), ['bd_dev']),
    bvPage: memberOffset(T('bio_vec'), ['bv_page']),
    bvOffset: memberOffset(T('bio_vec'), ['bv_offset']),
    mapping: memberOffset(T('page'), ['mapping']) ?? memberOffset(T('folio'), ['mapping']),
    // the page's index: a folio's (its first page's; `__folio_index` in struct page since 6.16)
    index: memberOffset(T('folio'), ['index']) ?? memberOffset(T('page'), ['index']),
    host: memberOffset(T('address_space'), ['host']),
    iSb: memberOffset(T('inode'), ['i_sb']),
    iDentry: memberOffset(T('inode'), ['i_dentry']),
    sDev: memberOffset(T('super_block'), ['s_dev']),
    dAlias: memberOffset(T('dentry'), ['d_u', 'd_alias']),
    dParent: memberOffset(T('dentry'), ['d_parent']),
    dName: memberOffset(T('dentry'), ['d_name', 'name']),
    dioIocb: memberOffset(T('iomap_dio'), ['iocb']) ?? -1,
    kiFilp: memberOffset(T('kiocb'), ['ki_filp']) ?? -1,
    kiPos: memberOffset(T('kiocb'), ['ki_pos']) ?? -1,
    fDentry: memberOffset(T('file'), ['f_path', 'dentry']) ?? -1,
    fFlags: memberOffset(T('file'), ['f_flags']) ?? -1,
  };
  if (Object.values(v).some((x) => x === null)) {
    places = null;
    return null;
  }
  const endIo = kernelSymbols.address('iomap_dio_bio_end_io') ?? 0n;
  places = { ...(v as Omit<Places, 'dioEndIo'>), dioEndIo: v.dioIocb >= 0 && v.kiFilp >= 0 && v.kiPos >= 0 && v.fDentry >= 0 && v.fFlags >= 0 ? endIo : 0n };
  return places;
}

/** Whether io:::start can have its file at firing time here (BTF places what it reads). */
export function ioFileKnowable(): boolean {
  return ioPlaces() !== null;
}

/**
 * The values block_bio_queue's raw tracepoint program computes (IOF_*): R6 is the context (its
 * one argument, the bio).
 */
export function ioFileValues(): CaptureValues | null {
  const P = ioPlaces();
  if (P === null) return null;
  return {
    bytes: IOF_BYTES,
    emit(p: Program, baseAt: number, areaAt: number): void {
      const end = 'iofEnd';
      // R9: the area; R8: what is in hand; the stack at -16 takes what a helper reads
      p.load(8, R9, R10, baseAt).addImm(R9, areaAt);
      p.storeImm(8, R9, IOF_DEV, 0).storeImm(8, R9, IOF_SECTOR, 0).storeImm(8, R9, IOF_SIZE, 0).storeImm(8, R9, IOF_SDEV, 0).storeImm(8, R9, IOF_OFFSET, 0).storeImm(8, R9, IOF_OFLAGS, 0);
      /** *(R9 + to) = `size` bytes at R8 + off; to `end` if it faults */
      const copy = (to: number, size: number, off: number): void => {
        p.mov(R1, R9).addImm(R1, to).movImm(R2, size).mov(R3, R8).addImm(R3, off).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
      };
      /** R8 = *(u64 *)(R8 + off); to `fail` if it faults or is NULL */
      const follow = (off: number, fail = end): void => {
        p.mov(R1, R10).addImm(R1, -16).movImm(R2, 8).mov(R3, R8).addImm(R3, off).call(Helper.ProbeReadKernel).jsltImm(R0, 0, fail).load(8, R8, R10, -16).jeqImm(R8, 0, fail);
      };
      // the bio: the context's (R6's) first u64, kept at -24
      p.load(8, R8, R6, 0).store(8, R10, -24, R8);
      copy(IOF_OPF, 4, P.opf);
      copy(IOF_SECTOR, 8, P.sector);
      copy(IOF_SIZE, 4, P.size);
      follow(P.bdev, 'iofFile');
      copy(IOF_DEV, 4, P.bdDev);
      p.label('iofFile');
      // buffered: the first page's mapping, unless anonymous (its low bits set)
      p.load(8, R8, R10, -24);
      follow(P.ioVec, 'iofDio');
      p.store(8, R10, -32, R8);
      follow(P.bvPage, 'iofDio');
      p.store(8, R10, -40, R8);
      follow(P.mapping, 'iofDio');
      p.mov(R1, R8).aluImm(Alu.And, R1, 3).jmpImm(Jmp.Ne, R1, 0, 'iofDio');
      follow(P.host, 'iofDio');
      p.store(8, R10, -48, R8);
      // the offset: the page's index in pages, and the data's offset in its page (bv_offset)
      p.load(8, R8, R10, -40);
      p.mov(R1, R10).addImm(R1, -16).movImm(R2, 8).mov(R3, R8).addImm(R3, P.index).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
      p.load(8, R1, R10, -16).aluImm(Alu.Lsh, R1, 12).store(8, R9, IOF_OFFSET, R1);
      p.load(8, R8, R10, -32);
      p.storeImm(8, R10, -16, 0).mov(R1, R10).addImm(R1, -16).movImm(R2, 4).mov(R3, R8).addImm(R3, P.bvOffset).call(Helper.ProbeReadKernel);
      p.load(8, R1, R10, -16).load(8, R2, R9, IOF_OFFSET).alu(Alu.Add, R2, R1).store(8, R9, IOF_OFFSET, R2);
      // the inode's super block's device, and its first dentry
      p.load(8, R8, R10, -48);
      follow(P.iSb);
      copy(IOF_SDEV, 4, P.sDev);
      p.load(8, R8, R10, -48);
      follow(P.iDentry);
      p.addImm(R8, -P.dAlias);
      p.ja('iofWalk');
      p.label('iofDio');
      if (P.dioEndIo !== 0n) {
        // direct I/O through iomap: bi_private is the iomap_dio
        p.load(8, R8, R10, -24);
        p.mov(R1, R10).addImm(R1, -16).movImm(R2, 8).mov(R3, R8).addImm(R3, P.endIo).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
        p.load(8, R1, R10, -16).movImm64(R2, P.dioEndIo).jmp(Jmp.Ne, R1, R2, end);
        follow(P.priv);
        follow(P.dioIocb);
        p.store(8, R10, -48, R8);
        copy(IOF_OFFSET, 8, P.kiPos);
        follow(P.kiFilp);
        copy(IOF_OFLAGS, 4, P.fFlags);
        follow(P.fDentry);
        p.store(8, R10, -56, R8);
        // its super block's device: dentry->d_sb
        const dSb = memberOffset(kernelTypes.lookup('struct dentry'), ['d_sb']);
        if (dSb !== null) {
          follow(dSb, 'iofDioWalk');
          copy(IOF_SDEV, 4, P.sDev);
        }
        p.label('iofDioWalk');
        p.load(8, R8, R10, -56);
      } else {
        p.ja(end);
      }
      // the names, from the file up: R8 the dentry
      p.label('iofWalk');
      for (let k = 0; k < FILE_SLOTS; k++) {
        p.store(8, R10, -56, R8);
        p.mov(R1, R10).addImm(R1, -16).movImm(R2, 8).mov(R3, R8).addImm(R3, P.dName).call(Helper.ProbeReadKernel).jsltImm(R0, 0, end);
        p.mov(R1, R9)
          .addImm(R1, IOF_NAME + k * FILE_NAME_BYTES)
          .movImm(R2, FILE_NAME_BYTES)
          .load(8, R3, R10, -16)
          .call(Helper.ProbeReadKernelStr)
          .jsltImm(R0, 0, end)
          .storeImm(4, R9, IOF_NAMES, k + 1);
        p.load(8, R8, R10, -56);
        follow(P.dParent);
        // its own parent: the root
        p.load(8, R1, R10, -56).jmp(Jmp.Eq, R1, R8, 'iofRoot');
      }
      p.ja(end);
      p.label('iofRoot').storeImm(4, R9, IOF_ROOT, 1);
      p.label(end);
    },
  };
}
