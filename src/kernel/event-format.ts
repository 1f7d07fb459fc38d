// events/<system>/<event>/format: the layout the kernel publishes for each event's record.
// Field readers are built from it, never from hard-coded offsets.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface EventField {
  name: string;
  /** the C type as the format file writes it, without the name: "const char *", "char[16]" */
  type: string;
  offset: number;
  size: number;
  signed: boolean;
  /** char[N] (a fixed string) */
  charArray: boolean;
  /** __data_loc: a u32 holding (length << 16 | offset) of data stored after the fixed part */
  dataLoc: boolean;
  /** a pointer (an address; user or kernel memory) */
  pointer: boolean;
}

export interface EventFormat {
  system: string;
  name: string;
  id: number;
  /** the event's own fields (the common_* header excluded) */
  fields: EventField[];
  /** the common header: common_type, common_flags, common_preempt_count, common_pid */
  common: EventField[];
}

const FIELD = /^\s*field:(.*?);\s*offset:(\d+);\s*size:(\d+);\s*signed:(\d+);/;

function parseField(decl: string, offset: number, size: number, signed: boolean): EventField {
  let d = decl.trim();
  let dataLoc = false;
  if (d.startsWith('__data_loc ')) {
    dataLoc = true;
    d = d.slice('__data_loc '.length);
  }
  // the name is the last identifier, before an optional [N]
  const m = /^(.*?)([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?$/.exec(d)!;
  const base = m[1].trim();
  const array = m[3] ?? '';
  const type = (base + (array ? array.replace(/\s+/g, '') : '')).trim();
  const charArray = /^(unsigned )?char$/.test(base.replace(/^const /, '')) && array !== '';
  return { name: m[2], type, offset, size, signed, charArray, dataLoc, pointer: /\*\s*$/.test(base) };
}

export function parseEventFormat(system: string, text: string): EventFormat {
  const name = /^name: (\S+)/m.exec(text)?.[1] ?? '';
  const id = Number(/^ID: (\d+)/m.exec(text)?.[1] ?? -1);
  const fields: EventField[] = [];
  const common: EventField[] = [];
  for (const line of text.split('\n')) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const f = parseField(m[1], Number(m[2]), Number(m[3]), m[4] === '1');
    if (f.name.startsWith('common_')) common.push(f);
    else fields.push(f);
  }
  return { system, name, id, fields, common };
}

export function readEventFormat(root: string, system: string, event: string): EventFormat {
  return parseEventFormat(system, readFileSync(join(root, 'events', system, event, 'format'), 'latin1'));
}
