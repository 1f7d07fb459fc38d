// %Y and %T: a nanosecond timestamp as local time.               [dt_printf.c pfprint_time*]
//
//   %Y  ctime(3) rearranged to "2003 Sep  3 10:23:41"
//   %T  strftime(3) "%a, %d %b %G %T %Z", e.g. "Wed, 03 Sep 2003 10:23:41 PDT" (note %G: the
//       ISO 8601 week-based year, which DTrace uses by mistake; it differs near New Year)
//
// Local time comes from JavaScript's Date (which follows $TZ). The zone abbreviation (%Z) is
// read from the tz database file, as glibc does; Intl's short names are only a fallback.

import { readFileSync } from 'node:fs';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** Whole seconds of a nanosecond timestamp (hrtime_t, signed), as C's division truncates. */
function seconds(ns: bigint): number {
  return Number(BigInt.asIntN(64, ns) / 1000000000n);
}

/** pfprint_time: "YYYY Mon dd hh:mm:ss" cut out of ctime()'s "Www Mon dd hh:mm:ss YYYY\n". */
export function formatTimeY(ns: bigint): string {
  const d = new Date(seconds(ns) * 1000);
  const day = d.getDate();
  const ctime =
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]}${day < 10 ? '  ' : ' '}${day} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}\n`;
  return ctime.substring(20, 24) + ctime.substring(3, 19);
}

/** pfprint_time822: strftime "%a, %d %b %G %T %Z" of local time. */
export function formatTimeT(ns: bigint): string {
  const sec = seconds(ns);
  const d = new Date(sec * 1000);
  return (
    `${DAYS[d.getDay()]}, ${two(d.getDate())} ${MONTHS[d.getMonth()]} ${isoWeekYear(d)} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zoneAbbrev(d, sec)}`
  );
}

/** The ISO 8601 week-based year of a local date: the year of that week's Thursday. */
function isoWeekYear(d: Date): number {
  const dow = (d.getDay() + 6) % 7; // Monday = 0
  const thursday = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate() - dow + 3));
  return thursday.getUTCFullYear();
}

// -- zone abbreviations from the tz database ------------------------------------------------

interface Zone {
  /** transition times (seconds) and the local time type that starts at each */
  times: number[];
  types: number[];
  offsets: number[];
  isdst: boolean[];
  abbrevs: string[];
  /** POSIX TZ rule for times after the last transition: standard and DST names, std offset */
  stdName: string;
  dstName: string;
  stdOffset: number;
  hasRule: boolean;
}

let cachedKey: string | undefined | null = null;
let cachedZone: Zone | null = null;

function zoneAbbrev(d: Date, sec: number): string {
  const key = process.env.TZ;
  if (key !== cachedKey) {
    cachedKey = key;
    cachedZone = loadZone(key);
  }
  const z = cachedZone;
  if (z !== null) {
    const n = z.times.length;
    if (n > 0 && sec >= z.times[0] && (sec < z.times[n - 1] || !z.hasRule)) {
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (z.times[mid] <= sec) lo = mid;
        else hi = mid - 1;
      }
      return z.abbrevs[z.types[lo]];
    }
    if (z.hasRule && (n === 0 || sec >= z.times[n - 1])) {
      if (z.dstName === '') return z.stdName;
      return -d.getTimezoneOffset() * 60 === z.stdOffset ? z.stdName : z.dstName;
    }
    if (z.abbrevs.length > 0) {
      // before the first transition: the first standard-time type
      let i = 0;
      while (i < z.isdst.length && z.isdst[i]) i++;
      return z.abbrevs[i < z.isdst.length ? i : 0];
    }
  }
  return intlAbbrev(d);
}

function intlAbbrev(d: Date): string {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d);
    for (const p of parts) if (p.type === 'timeZoneName') return p.value;
  } catch {
    // fall through
  }
  return 'UTC';
}

function loadZone(tz: string | undefined): Zone | null {
  if (tz === '') return ruleZone('UTC0');
  let file: string;
  if (tz === undefined) file = '/etc/localtime';
  else {
    const name = tz.startsWith(':') ? tz.substring(1) : tz;
    file = name.startsWith('/') ? name : `/usr/share/zoneinfo/${name}`;
  }
  try {
    return parseTzif(readFileSync(file));
  } catch {
    return tz === undefined ? ruleZone('UTC0') : ruleZone(tz);
  }
}

function emptyZone(): Zone {
  return { times: [], types: [], offsets: [], isdst: [], abbrevs: [], stdName: '', dstName: '', stdOffset: 0, hasRule: false };
}

function ruleZone(rule: string): Zone | null {
  const z = emptyZone();
  return parseRule(z, rule) ? z : null;
}

/** Parses "STDoffset[DST...]" into z's names and standard offset. */
function parseRule(z: Zone, rule: string): boolean {
  let i = 0;
  const name = (): string => {
    if (rule[i] === '<') {
      const end = rule.indexOf('>', i);
      if (end < 0) return '';
      const s = rule.substring(i + 1, end);
      i = end + 1;
      return s;
    }
    const start = i;
    while (i < rule.length && /[A-Za-z]/.test(rule[i])) i++;
    return rule.substring(start, i);
  };
  const std = name();
  if (std.length < 3) return false;
  const m = /^([+-]?)(\d{1,2})(?::(\d{1,2}))?(?::(\d{1,2}))?/.exec(rule.substring(i));
  if (m === null) return false;
  i += m[0].length;
  const off = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  z.stdName = std;
  z.stdOffset = m[1] === '-' ? off : -off; // POSIX offsets are west-positive
  z.dstName = i < rule.length ? name() : '';
  z.hasRule = true;
  return true;
}

function parseTzif(buf: Buffer): Zone | null {
  if (buf.length < 44 || buf.toString('latin1', 0, 4) !== 'TZif') return null;
  const version = buf[4];
  let pos = 0;
  let counts = header(buf, pos);
  let timeSize = 4;
  if (version >= 0x32) {
    // skip the version 1 data block, use the 64-bit one
    pos = 44 + blockSize(counts, 4);
    counts = header(buf, pos);
    timeSize = 8;
  }
  const [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] = counts;
  let p = pos + 44;
  const z = emptyZone();
  for (let k = 0; k < timecnt; k++, p += timeSize) {
    z.times.push(timeSize === 8 ? Number(buf.readBigInt64BE(p)) : buf.readInt32BE(p));
  }
  for (let k = 0; k < timecnt; k++) z.types.push(buf[p++]);
  const abbrIdx: number[] = [];
  for (let k = 0; k < typecnt; k++, p += 6) {
    z.offsets.push(buf.readInt32BE(p));
    z.isdst.push(buf[p + 4] !== 0);
    abbrIdx.push(buf[p + 5]);
  }
  const chars = buf.toString('latin1', p, p + charcnt);
  for (const a of abbrIdx) {
    const end = chars.indexOf('\0', a);
    z.abbrevs.push(chars.substring(a, end < 0 ? chars.length : end));
  }
  p += charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt;
  if (timeSize === 8 && buf[p] === 0x0a) {
    const end = buf.indexOf(0x0a, p + 1);
    if (end > p + 1) parseRule(z, buf.toString('latin1', p + 1, end));
  }
  return z;
}

function header(buf: Buffer, pos: number): number[] {
  const c: number[] = [];
  for (let k = 0; k < 6; k++) c.push(buf.readUInt32BE(pos + 20 + 4 * k));
  return c;
}

function blockSize(c: number[], timeSize: number): number {
  const [isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt] = c;
  return timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt;
}
