// D's string and integer subroutines, as pure functions over our value representation.
//                                                          [dt_cg.c dt_cg_subr_*, bpf/*.S]
//
// Oracle's DTrace for Linux is the spec: every function reproduces what its BPF implementation
// computes, quirks included (each one is noted where it happens). Subroutines Oracle does not
// have (strtoll, toupper, tolower, lltostr's base argument) follow illumos.
//
// Conventions
//
// * Strings are latin1 JS strings (one char per byte). In Oracle's DTrace a string holds up to
//   `strsize` chars (its buffer is strsize + 1 bytes with the NUL): strsize=5 makes
//   strjoin("123", "abcdefgh") "123ab" and strlen("123456789") 5. Every function that builds a
//   string takes `strsize` (the option's value) as its last parameter and caps its result at
//   `strsize` chars.
// * The NULL string (what strchr, strrchr, strstr and strtok return when nothing is found) is
//   `null`; see `DStr`. Every string parameter accepts `null` and faults the way Oracle's
//   dt_cg_check_ptr_arg() does: DFault(FLT_BADADDR, 0n), printed as "invalid address (0x0)".
//   Callers tell NULL from "" with `=== null`; `x == NULL` in D compiles to `x === null`.
//   Oracle also faults when a NULL string is traced or printed (tst.strtok_nullstr2): it is
//   never printed as "" or "<null>".
// * A D string value (variable, literal, tstring) is passed as is. For a `char *` that is not a
//   D string, pass the bytes read from memory up to the first NUL, capped at 2 * strsize chars:
//   a few subroutines read further than strsize through such pointers (substr reads up to
//   strsize chars from s + index; index/rindex see up to roundup(strsize, 8) - 1 chars).
// * Integer parameters and results follow the representation: int, char, uint16_t and uint32_t
//   are numbers; int64_t, uint64_t and size_t are bigints.
// * Run-time faults throw `DFault` (DTrace's fault code and the faulting value); the runtime
//   catches it per clause and reports it like DTrace.

export type DStr = string | null;

// -- faults ------------------------------------------------------------------------------------

/** DTrace fault codes (DTRACEFLT_*), as reported to the ERROR probe. */
export const FLT_UNKNOWN = 0;
export const FLT_BADADDR = 1;
export const FLT_BADALIGN = 2;
export const FLT_ILLOP = 3;
export const FLT_DIVZERO = 4;
export const FLT_NOSCRATCH = 5;
export const FLT_KPRIV = 6;
export const FLT_UPRIV = 7;
export const FLT_TUPOFLOW = 8;
export const FLT_BADSTACK = 9;
export const FLT_BADSIZE = 10;
export const FLT_BADINDEX = 11;

/** A run-time fault: aborts the current clause and fires ERROR with `fault` and `value`. */
export class DFault extends Error {
  constructor(
    /** DTRACEFLT_* code, e.g. FLT_BADADDR */
    readonly fault: number,
    /** the faulting address or value (arg5 of the ERROR probe) */
    readonly value: bigint = 0n,
  ) {
    super(`DTrace fault ${fault} (0x${BigInt.asUintN(64, value).toString(16)})`);
  }
}

/** The argument, or the fault Oracle raises for a NULL string argument. */
function need(s: DStr): string {
  if (s === null) throw new DFault(FLT_BADADDR, 0n);
  return s;
}

function cap(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

const SLASH = 0x2f;
const DOT = 0x2e;

// -- strlen, strjoin, substr -------------------------------------------------------------------

/** strlen(s): the length of s (size_t, so a bigint), at most strsize. */
export function strlen(s: DStr, strsize: number): bigint {
  const n = need(s).length;
  return BigInt(n < strsize ? n : strsize);
}

/** strjoin(a, b): a followed by b, capped at strsize chars. */
export function strjoin(a: DStr, b: DStr, strsize: number): string {
  const x = need(a);
  const y = need(b);
  if (x.length >= strsize) return cap(x, strsize);
  const r = x + y;
  return r.length > strsize ? r.slice(0, strsize) : r;
}

/**
 * substr(s, index[, length]): `cnt` is undefined when D passes no length. Oracle's rules
 * (bpf/substr.S), with len = min(strlen(s), strsize) and cnt defaulting to strsize:
 *   - a negative index counts from the end (index += len); if it is still negative, the slice
 *     starts at 0 and loses the chars before it (cnt += index), "" if nothing is left;
 *   - index >= len gives "";
 *   - a negative cnt counts from the end: cnt += len - index, "" if that is <= 0;
 *   - at most strsize chars are copied.
 * index and cnt are D ints (only their low 32 bits count).
 */
export function substr(s: DStr, index: number, cnt: number | undefined, strsize: number): string {
  const str = need(s);
  const len = str.length < strsize ? str.length : strsize;
  if (len === 0) return '';
  let i = index | 0;
  let n = cnt === undefined ? strsize : cnt | 0;
  if (i < 0) {
    i += len;
    if (i < 0) {
      if (n <= -i) return '';
      n += i;
      i = 0;
    }
  }
  if (i >= len) return '';
  if (n < 0) {
    n += len - i;
    if (n <= 0) return '';
  }
  if (n > strsize) n = strsize;
  // copied from the source itself, which may be longer than len for a char * (nonDPTR)
  return i === 0 && n >= str.length ? str : str.slice(i, i + n);
}

// -- index, rindex, strstr ---------------------------------------------------------------------

/**
 * Oracle's index/rindex copy both strings into buffers of roundup(strsize, 8) bytes, so they see
 * at most that minus one chars of each: with strsize a multiple of 8, the last char of a string
 * of exactly strsize chars is not searched (bpf/index.S).
 */
function searchCap(strsize: number): number {
  return Math.ceil(strsize / 8) * 8 - 1;
}

/**
 * index(s, t[, start]): the first position >= start (default 0; negative means 0) where t occurs
 * in s, or -1. Oracle returns -1 when start > strlen(s) - strlen(t), even for an empty t:
 * index("foobar", "", 7) is -1 (illumos said 6).
 */
export function index(s: DStr, t: DStr, start: number | undefined, strsize: number): number {
  const lim = searchCap(strsize);
  const str = cap(need(s), lim);
  const sub = cap(need(t), lim);
  const maxi = str.length - sub.length;
  if (maxi < 0) return -1;
  let st = start === undefined ? 0 : start | 0;
  if (st < 0) st = 0;
  if (st > maxi) return -1;
  return str.indexOf(sub, st);
}

/**
 * rindex(s, t[, start]): the last position <= start (default and upper bound:
 * strlen(s) - strlen(t)) where t occurs in s, or -1. A negative start gives -1, even for an
 * empty t: rindex("foobar", "", -1) is -1 (illumos said 0).
 */
export function rindex(s: DStr, t: DStr, start: number | undefined, strsize: number): number {
  const lim = searchCap(strsize);
  const str = cap(need(s), lim);
  const sub = cap(need(t), lim);
  let st = start === undefined ? -1 : start | 0;
  if (start !== undefined && st < 0) return -1;
  const maxi = str.length - sub.length;
  if (maxi < 0) return -1;
  if (st < 0 || st > maxi) st = maxi;
  return str.lastIndexOf(sub, st);
}

/**
 * strstr(s, t): s from the first occurrence of t (as index(s, t) finds it), or NULL (`null`)
 * when t does not occur. strstr("", "") is "".
 */
export function strstr(s: DStr, t: DStr, strsize: number): DStr {
  const i = index(s, t, 0, strsize);
  if (i < 0) return null;
  return substr(s, i, undefined, strsize);
}

// -- strchr, strrchr ---------------------------------------------------------------------------

/**
 * strchr(s, c): s from the first c, or NULL (`null`). Oracle reads s into a strsize-byte buffer,
 * so only its first strsize - 1 chars are searched and returned (bpf/strchr.S): with
 * strsize=5, strchr("12345", '1') is "1234" and strchr("12345", '5') is NULL. c is a D char
 * (low 8 bits); c == 0 gives NULL.
 */
export function strchr(s: DStr, c: number, strsize: number): DStr {
  const str = need(s);
  const lim = str.length < strsize - 1 ? str.length : strsize - 1;
  const ch = c & 0xff;
  for (let i = 0; i < lim; i++) {
    if (str.charCodeAt(i) === ch) return i === 0 && lim === str.length ? str : str.slice(i, lim);
  }
  return null;
}

/** strrchr(s, c): s from the last c, or NULL (`null`); same strsize - 1 window as strchr. */
export function strrchr(s: DStr, c: number, strsize: number): DStr {
  const str = need(s);
  const lim = str.length < strsize - 1 ? str.length : strsize - 1;
  const ch = c & 0xff;
  for (let i = lim - 1; i >= 0; i--) {
    if (str.charCodeAt(i) === ch) return i === 0 && lim === str.length ? str : str.slice(i, lim);
  }
  return null;
}

// -- strtok ------------------------------------------------------------------------------------

/**
 * strtok()'s internal state. Oracle keeps one per CPU in its scratch memory and marks it
 * uninitialised at the start of every probe firing, so the state carries across the clauses of
 * one firing but never from one firing to the next: the runtime owns one StrtokState (per
 * CPU/thread of execution) and calls reset() before running a probe's clauses.
 */
export class StrtokState {
  /** the string being tokenised (at most strsize chars) */
  str = '';
  /** where the next scan starts; -1 while uninitialised */
  off = -1;

  reset(): void {
    this.off = -1;
  }
}

const delimTab = new Uint8Array(256);

/**
 * strtok(s, delims) with a string first argument (even one that turns out NULL at run time,
 * which faults): starts tokenising s. Returns the first token, or NULL (`null`) if s has
 * nothing but delimiters. The state is set before delims is checked, as in Oracle.
 */
export function strtok(st: StrtokState, s: DStr, delims: DStr, strsize: number): DStr {
  const str = need(s);
  st.str = cap(str, strsize);
  st.off = 0;
  return nextToken(st, need(delims), strsize);
}

/**
 * strtok(NULL, delims), i.e. with the literal NULL (decided at compile time): the next token of
 * the string given to the last strtok(s, ...) of this probe firing. Faults with
 * DFault(FLT_BADADDR, 0n) if there was none.
 */
export function strtokNext(st: StrtokState, delims: DStr, strsize: number): DStr {
  if (st.off === -1) throw new DFault(FLT_BADADDR, 0n);
  return nextToken(st, need(delims), strsize);
}

/**
 * Oracle's tokeniser (bpf/strtok.S) skips leading delimiters, returns the run of non-delimiters
 * and leaves the offset just after it (the delimiter that ended the token is not consumed, so it
 * counts if the next call uses other delimiters). When no token is left it stores the length of
 * the scanned remainder as the new offset: a relative value, so a later strtok(NULL, ...) scans
 * again from that position (e.g. after "a,b" gave "a", "b" and NULL, the next call gives "a").
 */
function nextToken(st: StrtokState, delims: string, strsize: number): DStr {
  const d = delims.length > strsize ? strsize : delims.length;
  for (let i = 0; i < d; i++) delimTab[delims.charCodeAt(i) & 0xff] = 1;
  const str = st.str;
  const n = str.length;
  const off = st.off < 0 ? 0 : st.off > n ? n : st.off;
  let b = off;
  while (b < n && delimTab[str.charCodeAt(b) & 0xff] === 1) b++;
  let e = b;
  while (e < n && delimTab[str.charCodeAt(e) & 0xff] === 0) e++;
  for (let i = 0; i < d; i++) delimTab[delims.charCodeAt(i) & 0xff] = 0;
  if (b >= n) {
    st.off = n - off;
    return null;
  }
  st.off = e;
  return str.slice(b, e);
}

// -- basename, dirname, cleanpath --------------------------------------------------------------

/** basename(s): the last component of path s, ignoring trailing '/'s; "." for "", "/" for all '/'s. */
export function basename(s: DStr, strsize: number): string {
  const str = cap(need(s), strsize);
  if (str.length === 0) return '.';
  let end = str.length - 1;
  while (end >= 0 && str.charCodeAt(end) === SLASH) end--;
  if (end < 0) return '/';
  let b = end - 1;
  while (b >= 0 && str.charCodeAt(b) !== SLASH) b--;
  return b < 0 && end === str.length - 1 ? str : str.slice(b + 1, end + 1);
}

/** dirname(s): s without its last component and the '/'s around it; "." if none, "/" for root. */
export function dirname(s: DStr, strsize: number): string {
  const str = cap(need(s), strsize);
  if (str.length === 0) return '.';
  let i = str.length - 1;
  while (i >= 0 && str.charCodeAt(i) === SLASH) i--;
  if (i < 0) return '/';
  while (i >= 0 && str.charCodeAt(i) !== SLASH) i--;
  if (i < 0) return '.';
  while (i >= 0 && str.charCodeAt(i) === SLASH) i--;
  if (i < 0) return '/';
  return str.slice(0, i + 1);
}

/**
 * cleanpath(s): s with "//", "/./" and "name/../" simplified (bpf/cleanpath.S):
 *   - "" stays "", a single char is kept as is ("." and "/" included);
 *   - an absolute path drops ".." at its root ("/../a" is "/a"); a relative one keeps the
 *     unresolved ".."s in front ("a/../.." is ".."), but only (count mod 16) of them;
 *   - trailing '/' is dropped, an empty result is "." ("a/.." is "."), "/" stays "/".
 * Oracle works in place on "/" + s + "/" and gives up when that does not leave room for the
 * NUL (strlen(s) >= strsize - 2): the result is then the partly squeezed buffer, strsize chars
 * long, leading and trailing '/' included. That is reproduced too.
 */
export function cleanpath(s: DStr, strsize: number): string {
  const src = cap(need(s), strsize);
  const n = src.length;
  if (n <= 1) return src;
  if (n + 2 >= strsize) return cleanpathOverflow(src, strsize);

  // Components of s without "" and "." (what the first, squeezing pass leaves), then ".."
  // resolved from the right as Oracle's second pass does.
  const comps = src.split('/');
  const kept: string[] = [];
  let up = 0;
  for (let i = comps.length - 1; i >= 0; i--) {
    const c = comps[i];
    if (c === '' || c === '.') continue;
    if (c === '..') up++;
    else if (up > 0) up--;
    else kept.push(c);
  }
  kept.reverse();
  const body = kept.join('/');
  if (src.charCodeAt(0) === SLASH) return '/' + body;
  const prefix = '../'.repeat(up & 15);
  if (body.length > 0) return prefix + body;
  return prefix.length > 0 ? prefix.slice(0, -1) : '.';
}

/** cleanpath's buffer after its squeezing pass ran out of room (see cleanpath). */
function cleanpathOverflow(src: string, strsize: number): string {
  const buf = new Uint8Array(src.length + 2);
  buf[0] = SLASH;
  for (let i = 0; i < src.length; i++) buf[i + 1] = src.charCodeAt(i) & 0xff;
  buf[src.length + 1] = SLASH;
  let to = 0;
  for (let from = 0; from < strsize; from++) {
    buf[to] = buf[from];
    to++;
    // squeeze "//" to "/" and "/./" to "/" as they appear at the end of the output
    if (to >= 2 && buf[to - 1] === SLASH && buf[to - 2] === SLASH) to--;
    else if (to >= 3 && buf[to - 1] === SLASH && buf[to - 2] === DOT && buf[to - 3] === SLASH) to -= 2;
  }
  let r = '';
  for (let i = 0; i < strsize; i++) r += String.fromCharCode(buf[i]);
  return r;
}

// -- lltostr, strtoll, toupper, tolower --------------------------------------------------------

/**
 * lltostr(v[, base]): v (an int64_t; an unsigned bigint is read as its signed value) in
 * decimal, capped at strsize chars (its leading chars are kept: "-123456" for -1234567 with
 * strsize=7). Oracle's prototype has no base (passing one is a compile-time D_PROTO_LEN); with
 * a base this follows illumos: base 2..36 else DFault(FLT_ILLOP); the digits of v's 64-bit
 * two's complement unless base is 10; a "0x" prefix for base 16 ("0x0" for 0), a "0" prefix
 * for base 8.
 */
export function lltostr(v: bigint, base: number | undefined, strsize: number): string {
  const i = BigInt.asIntN(64, v);
  if (base === undefined) return cap(i.toString(), strsize);
  const b = base | 0;
  if (b <= 1 || b > 36) throw new DFault(FLT_ILLOP, 0n);
  if (b === 10) return cap(i.toString(), strsize);
  const digits = i === 0n ? '' : BigInt.asUintN(64, i).toString(b);
  let r: string;
  if (b === 16) r = i === 0n ? '0x0' : '0x' + digits;
  else if (i === 0n || b === 8) r = '0' + digits;
  else r = digits;
  return cap(r, strsize);
}

function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41 + 10;
  return 99;
}

/**
 * strtoll(s[, base]) (illumos; Oracle has no strtoll): skips leading spaces and tabs, takes a
 * '+' or '-', for base 16 skips a "0x"/"0X" followed by a hex digit, then reads digits of the
 * base up to the first char that is not one. Overflow wraps (int64_t). Base defaults to 10 and
 * must be 2..36, else DFault(FLT_ILLOP). "" is 0.
 */
export function strtoll(s: DStr, base?: number): bigint {
  let b = 10;
  if (base !== undefined) {
    b = base | 0;
    if (b <= 1 || b > 36) throw new DFault(FLT_ILLOP, 0n);
  }
  const str = need(s);
  const n = str.length;
  let p = 0;
  while (p < n && (str.charCodeAt(p) === 0x20 || str.charCodeAt(p) === 0x09)) p++;
  let neg = false;
  if (p < n && (str.charCodeAt(p) === 0x2d || str.charCodeAt(p) === 0x2b)) {
    neg = str.charCodeAt(p) === 0x2d;
    p++;
  }
  if (b === 16 && p + 2 < n && str.charCodeAt(p) === 0x30) {
    const x = str.charCodeAt(p + 1);
    if ((x === 0x78 || x === 0x58) && digitValue(str.charCodeAt(p + 2)) < 16) p += 2;
  }
  // accumulate in numbers while exact, in 64-bit bigints beyond
  let small = 0;
  let big = -1n;
  const bb = BigInt(b);
  for (; p < n; p++) {
    const d = digitValue(str.charCodeAt(p));
    if (d >= b) break;
    if (big < 0n) {
      const next = small * b + d;
      if (next <= Number.MAX_SAFE_INTEGER) {
        small = next;
        continue;
      }
      big = BigInt(small);
    }
    big = BigInt.asUintN(64, big * bb + BigInt(d));
  }
  const val = big < 0n ? BigInt(small) : big;
  return BigInt.asIntN(64, neg ? -val : val);
}

/** toupper(s) (illumos; not in Oracle): ASCII a-z to A-Z, other chars unchanged. */
export function toupper(s: DStr, strsize: number): string {
  const str = cap(need(s), strsize);
  return /[a-z]/.test(str) ? str.replace(/[a-z]+/g, (m) => m.toUpperCase()) : str;
}

/** tolower(s) (illumos; not in Oracle): ASCII A-Z to a-z, other chars unchanged. */
export function tolower(s: DStr, strsize: number): string {
  const str = cap(need(s), strsize);
  return /[A-Z]/.test(str) ? str.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : str;
}

// -- byte order --------------------------------------------------------------------------------
// The hosts DTrace runs on (x86_64, aarch64) are little-endian: these always swap. The argument
// is already converted to the parameter type (uint16_t, uint32_t: number; uint64_t: bigint),
// so htons(0x123456789abcdef0) gets 0xdef0 and returns 0xf0de.

/** htons(v): uint16_t v with its two bytes swapped. */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >>> 8) & 0xff);
}

/** htonl(v): uint32_t v with its four bytes reversed. */
export function htonl(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | ((v >>> 24) & 0xff)) >>> 0;
}

/** htonll(v): uint64_t v with its eight bytes reversed. */
export function htonll(v: bigint): bigint {
  const hi = Number(BigInt.asUintN(32, v >> 32n));
  const lo = Number(BigInt.asUintN(32, v));
  return (BigInt(htonl(lo)) << 32n) | BigInt(htonl(hi));
}

export const ntohs = htons;
export const ntohl = htonl;
export const ntohll = htonll;

// -- inet_ntoa, inet_ntoa6, inet_ntop ----------------------------------------------------------
// The caller reads the address from memory (faulting on NULL like any pointer argument) and
// passes its bytes: 4 for inet_ntoa, 16 for inet_ntoa6. Missing bytes read as 0.

/** inet_ntoa(addr): the 4 bytes as dotted decimal, "192.168.1.23", capped at strsize. */
export function inet_ntoa(addr: Uint8Array, strsize: number): string {
  const r = `${addr[0] ?? 0}.${addr[1] ?? 0}.${addr[2] ?? 0}.${addr[3] ?? 0}`;
  return r.length > strsize ? r.slice(0, strsize) : r;
}

/** link_ntop's address lengths by ARP hardware type (bpf/link_ntop.S): Ethernet, InfiniBand. */
export const LINK_ADDR_LEN: Record<number, number> = { 1: 6, 32: 20 };

/** link_ntop(type, addr): the address bytes as two-digit lowercase hex joined by ":". */
export function link_ntop(addr: Uint8Array, strsize: number): string {
  let r = '';
  for (let i = 0; i < addr.length; i++) r += (i ? ':' : '') + (addr[i] < 16 ? '0' : '') + addr[i].toString(16);
  return r.length > strsize ? r.slice(0, strsize) : r;
}

function word(addr: Uint8Array, i: number): number {
  return ((addr[2 * i] ?? 0) << 8) | (addr[2 * i + 1] ?? 0);
}

/**
 * inet_ntoa6(addr[, strict]) (bpf/inet_ntoa6.S): the 16 bytes as IPv6 text, lowercase hex
 * words without leading zeros, the longest run (the first of equals) of two or more zero words
 * written "::". IPv4 in IPv6, as legacy DTrace defines it:
 *   - ::ffff:a.b.c.d (words 0-4 zero, word 5 0xffff) prints "a.b.c.d", "::ffff:a.b.c.d" if strict;
 *   - words 0-5 zero and words 6-7 not 0 or 1 prints "a.b.c.d", "::a.b.c.d" if strict
 *     (so "::2" is "0.0.0.2"; "::" and "::1" stay as they are).
 * strict is D's optional constant second argument (non-zero: true). Capped at strsize.
 */
export function inet_ntoa6(addr: Uint8Array, strict: boolean, strsize: number): string {
  let r: string;
  const w5 = word(addr, 5);
  let lead = 0; // zero words at the front, up to 6
  while (lead < 6 && word(addr, lead) === 0) lead++;
  if (lead >= 5 && w5 === 0xffff) {
    r = (strict ? '::ffff:' : '') + inet_ntoa(addr.subarray(12, 16), 64);
  } else if (lead === 6 && (word(addr, 6) !== 0 || word(addr, 7) > 1)) {
    r = (strict ? '::' : '') + inet_ntoa(addr.subarray(12, 16), 64);
  } else {
    // longest run of zero words (length >= 2, the first one on ties)
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (word(addr, i) !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && word(addr, j) === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    r = '';
    for (let i = 0; i < 8; i++) {
      if (i === best) {
        r += '::';
        i += bestLen - 1;
        continue;
      }
      if (r.length > 0 && !r.endsWith(':')) r += ':';
      r += word(addr, i).toString(16);
    }
  }
  return r.length > strsize ? r.slice(0, strsize) : r;
}

/** Linux's AF_INET6 (AF_INET is 2). */
export const AF_INET6 = 10;

/**
 * inet_ntop(af, addr): Oracle compiles it to af == AF_INET6 ? inet_ntoa6(addr, strict) :
 * inet_ntoa(addr); any other af, even an invalid one, formats 4 bytes as IPv4.
 */
export function inet_ntop(af: number, addr: Uint8Array, strsize: number): string {
  return af === AF_INET6 ? inet_ntoa6(addr, true, strsize) : inet_ntoa(addr, strsize);
}

// -- rand --------------------------------------------------------------------------------------

/**
 * rand(): Oracle returns bpf_get_prandom_u32() (the kernel's per-CPU PRNG) sign-extended from
 * 32 bits: a uniformly distributed int, negative half the time. (illumos used a small LCG on
 * the high-resolution clock.) We use xoshiro128** (Blackman & Vigna), 32-bit and
 * allocation-free, one generator per Rand; the default one is seeded from node:crypto.
 */
export class Rand {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** With a seed, a reproducible sequence (for tests); without, a random one. */
  constructor(seed?: number) {
    if (seed === undefined) {
      const w = new Uint32Array(4);
      globalThis.crypto.getRandomValues(w);
      seed = w[0] ^ w[1] ^ w[2] ^ w[3];
    }
    // splitmix32 expands the seed into a state that is never all zero
    let x = seed | 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** The next value, a signed 32-bit int. */
  next(): number {
    const b = this.b;
    const m = Math.imul(b, 5);
    const r = Math.imul((m << 7) | (m >>> 25), 9);
    const t = b << 9;
    this.c ^= this.a;
    this.d ^= b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r | 0;
  }
}

const defaultRand = new Rand();

/** rand(): the next value of the default generator (a signed 32-bit int). */
export function rand(): number {
  return defaultRand.next();
}
