// Event formats and the ring's page layout, parsed from what tracefs publishes.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { parseEventFormat, parsePageLayout } from '../../src/kernel/event-format.js';

const OPENAT = `name: sys_enter_openat
ID: 637
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;

print fmt: "dfd: 0x%08lx, filename: 0x%08lx", ((unsigned long)(REC->dfd)), ((unsigned long)(REC->filename))
`;

test('a syscall event: id, common header apart, typed fields', () => {
  const f = parseEventFormat('syscalls', OPENAT);
  assert.equal(f.name, 'sys_enter_openat');
  assert.equal(f.id, 637);
  assert.deepEqual(f.common.map((c) => c.name), ['common_type', 'common_flags', 'common_preempt_count', 'common_pid']);
  assert.deepEqual(f.fields.map((x) => [x.name, x.type, x.offset, x.size]), [
    ['__syscall_nr', 'int', 8, 4],
    ['dfd', 'int', 16, 8],
    ['filename', 'const char *', 24, 8],
    ['flags', 'int', 32, 8],
    ['mode', 'umode_t', 40, 8],
  ]);
  assert.equal(f.fields[2].pointer, true);
});

test('char arrays and __data_loc strings', () => {
  const f = parseEventFormat(
    'sched',
    `name: sched_process_exec
ID: 300
format:
\tfield:__data_loc char[] filename;\toffset:8;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;
`,
  );
  assert.deepEqual(
    f.fields.map((x) => [x.name, x.type, x.dataLoc, x.charArray]),
    [
      ['filename', 'char[]', true, false],
      ['comm', 'char[16]', false, true],
    ],
  );
});

test('the page and event-header layout', () => {
  const l = parsePageLayout(
    `\tfield: u64 timestamp;\toffset:0;\tsize:8;\tsigned:0;
\tfield: local_t commit;\toffset:8;\tsize:8;\tsigned:1;
\tfield: int overwrite;\toffset:8;\tsize:1;\tsigned:1;
\tfield: char data;\toffset:16;\tsize:4080;\tsigned:0;
`,
    `# compressed entry header
\ttype_len    :    5 bits
\ttime_delta  :   27 bits
\tarray       :   32 bits

\tpadding     : type == 29
\ttime_extend : type == 30
\ttime_stamp : type == 31
\tdata max type_len  == 28
`,
  );
  assert.deepEqual(l, { timestampAt: 0, commitAt: 8, dataAt: 16, dataSize: 4080, typeLenBits: 5, padding: 29, timeExtend: 30, timeStamp: 31 });
});
