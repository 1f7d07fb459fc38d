// %I and %P: an address as its host's name, a port as its service's name, as illumos's
// pfprint_inetaddr and pfprint_port print them (the DTrace book's tcpacceptx.d).
//
//   %I  a string holding an IPv4 or IPv6 address: the name its host has, else the string
//   %P  a uint16_t port: the name of its service (any protocol), else the port in decimal
//
// illumos asks gethostbyaddr_r() and getservbyport_r(); here the names are those of /etc/hosts
// and /etc/services (what glibc's "files" sources read), read once: asking DNS would hold up
// the output while it answers.

import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';

let hosts: Map<string, string> | null = null;
let services: Map<number, string> | null = null;

function read(path: string): string {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return '';
  }
}

/** An address as one key whatever way it was written (IPv6: its 16 bytes). */
function addressKey(s: string): string | null {
  if (isIPv4(s)) return s;
  if (!isIPv6(s)) return null;
  // expand "::" and an IPv4 tail to eight groups
  let t = s.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    t = t.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, null];
  const h = head === '' ? [] : head.split(':');
  const tl = tail === null || tail === '' ? [] : tail.split(':');
  const groups = tail === null ? h : [...h, ...new Array<string>(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** /etc/hosts' text as address -> the first name a line gives it (the first line's). */
export function hostsTable(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/);
    if (f.length < 2) continue;
    const k = addressKey(f[0]);
    if (k !== null && !m.has(k)) m.set(k, f[1]);
  }
  return m;
}

/** /etc/services' text as port -> the first service name a line gives it, any protocol. */
export function servicesTable(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.replace(/#.*/, '').trim().split(/\s+/);
    const pp = f.length >= 2 ? /^(\d+)\//.exec(f[1]) : null;
    if (pp === null) continue;
    const p = Number(pp[1]);
    if (!m.has(p)) m.set(p, f[0]);
  }
  return m;
}

/** The host name of an address (as %I prints it), or null. */
export function hostName(addr: string, table: Map<string, string> = (hosts ??= hostsTable(read('/etc/hosts')))): string | null {
  const k = addressKey(addr);
  return k === null ? null : (table.get(k) ?? null);
}

/** The service name of a port (as %P prints it), or null. */
export function serviceName(port: number, table: Map<number, string> = (services ??= servicesTable(read('/etc/services')))): string | null {
  return table.get(port) ?? null;
}
