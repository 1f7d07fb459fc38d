// Block devices by number: their driver and names, as DTrace's devinfo_t gives them, from
// /sys/dev/block and /proc/devices.

import { readFileSync, readlinkSync } from 'node:fs';

/** A block device's names, as devinfo_t gives them. */
export interface DevNames {
  name: string;
  statname: string;
  pathname: string;
  instance: number;
}

/** Block drivers by major number (/proc/devices' "Block devices:" section). */
export function blockDrivers(text: string): Map<number, string> {
  const m = new Map<number, string>();
  const at = text.indexOf('Block devices:');
  if (at < 0) return m;
  for (const line of text.slice(at).split('\n').slice(1)) {
    const r = /^\s*(\d+)\s+(\S+)/.exec(line);
    if (r) m.set(Number(r[1]), r[2]!);
  }
  return m;
}

/** The devinfo_t names of device major:minor, from /sys/dev/block and /proc/devices. */
export function deviceNames(major: number, minor: number, sys = '/sys', proc = '/proc'): DevNames {
  let drivers: Map<number, string>;
  try {
    drivers = blockDrivers(readFileSync(`${proc}/devices`, 'latin1'));
  } catch {
    drivers = new Map();
  }
  const name = drivers.get(major) ?? '<unknown>';
  let statname = '<unknown>';
  let pathname = '<unknown>';
  try {
    const dir = `${sys}/dev/block/${major}:${minor}`;
    const uevent = readFileSync(`${dir}/uevent`, 'latin1');
    const dev = /^DEVNAME=(.*)$/m.exec(uevent)?.[1];
    let partno = 0;
    try {
      partno = Number(readFileSync(`${dir}/partition`, 'latin1').trim());
    } catch {
      // a whole disk
    }
    // DTrace's statname: the disk's name, followed by the partition's number
    const disk = partno > 0 ? readlinkSync(dir).split('/').at(-2) ?? dev ?? '' : (dev ?? '');
    statname = partno > 0 ? `${disk}${partno}` : disk;
    if (dev) pathname = `/dev/${dev}`;
  } catch {
    // gone, or no sysfs
  }
  return { name, statname, pathname, instance: 0 };
}


