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

/**
 * The ring buffer's page and event-header layout, as events/header_page and
 * events/header_event publish them.
 */
export interface PageLayout {
  timestampAt: number;
  commitAt: number;
  /** where events start, and how many bytes a page holds after that */
  dataAt: number;
  dataSize: number;
  /** bits of an event header's type_len (the rest is the time delta) */
  typeLenBits: number;
  padding: number;
  timeExtend: number;
  timeStamp: number;
}

/** The layout of every kernel since 2.6.3x, for when the header files cannot be read. */
const USUAL_LAYOUT: PageLayout = {
  timestampAt: 0, commitAt: 8, dataAt: 16, dataSize: 4080, typeLenBits: 5, padding: 29, timeExtend: 30, timeStamp: 31,
};

export function parsePageLayout(headerPage: string, headerEvent: string): PageLayout {
  const field = (name: string) => new RegExp(`field: [^;]*\\b${name};\\s*offset:(\\d+);\\s*size:(\\d+);`).exec(headerPage);
  const ts = field('timestamp');
  const commit = field('commit');
  const data = field('data');
  const num = (re: RegExp, dflt: number) => Number(re.exec(headerEvent)?.[1] ?? dflt);
  return {
    timestampAt: ts ? Number(ts[1]) : USUAL_LAYOUT.timestampAt,
    commitAt: commit ? Number(commit[1]) : USUAL_LAYOUT.commitAt,
    dataAt: data ? Number(data[1]) : USUAL_LAYOUT.dataAt,
    dataSize: data ? Number(data[2]) : USUAL_LAYOUT.dataSize,
    typeLenBits: num(/type_len\s*:\s*(\d+) bits/, USUAL_LAYOUT.typeLenBits),
    padding: num(/padding\s*:\s*type == (\d+)/, USUAL_LAYOUT.padding),
    timeExtend: num(/time_extend\s*:\s*type == (\d+)/, USUAL_LAYOUT.timeExtend),
    timeStamp: num(/time_stamp\s*:\s*type == (\d+)/, USUAL_LAYOUT.timeStamp),
  };
}

export function readPageLayout(root: string): PageLayout {
  try {
    return parsePageLayout(
      readFileSync(join(root, 'events', 'header_page'), 'latin1'),
      readFileSync(join(root, 'events', 'header_event'), 'latin1'),
    );
  } catch {
    return USUAL_LAYOUT;
  }
}
