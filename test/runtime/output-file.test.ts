// Output files (-o, freopen()) as root in a world-writable sticky directory: a symbolic link or
// a file planted there by another user is refused, on every component of the path; files are
// created 0600; elsewhere, links are followed as usual.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, lchownSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { OutputFileError, openOutputFile } from '../../src/runtime/output-file.js';

const NOBODY = 65534;
const skip = process.geteuid?.() !== 0 ? 'needs root (files owned by another user)' : false;

/** A world-writable sticky directory (as /tmp) and, beside it, a file another user must not reach. */
function setup(): { base: string; sticky: string; victim: string } {
  const base = mkdtempSync(join(tmpdir(), 'outfile-'));
  const sticky = join(base, 'tmp');
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const victim = join(base, 'victim');
  writeFileSync(victim, 'precious\n');
  return { base, sticky, victim };
}

function append(path: string, text: string): void {
  const fd = openOutputFile(path);
  writeSync(fd, text);
  closeSync(fd);
}

const REFUSED = (e: unknown): boolean =>
  e instanceof OutputFileError &&
  /^Permission denied \(.+ is another user's (symbolic link|file) in a world-writable sticky directory\)$/.test(e.message);

test('a symbolic link another user planted in a sticky directory is not followed; one of root\'s is', { skip }, () => {
  const { base, sticky, victim } = setup();
  try {
    const link = join(sticky, 'out');
    symlinkSync(victim, link);
    lchownSync(link, NOBODY, NOBODY);
    assert.throws(() => openOutputFile(link), REFUSED);
    assert.equal(readFileSync(victim, 'latin1'), 'precious\n');
    lchownSync(link, 0, 0);
    append(link, 'more\n');
    assert.equal(readFileSync(victim, 'latin1'), 'precious\nmore\n');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('so is a link on the way to the file, and a link to a link', { skip }, () => {
  const { base, sticky, victim } = setup();
  try {
    const dir = join(sticky, 'traces');
    symlinkSync(base, dir);
    lchownSync(dir, NOBODY, NOBODY);
    assert.throws(() => openOutputFile(join(dir, 'victim')), REFUSED);
    // root's link in the sticky directory, to another user's link there
    const inner = join(sticky, 'inner');
    symlinkSync(victim, inner);
    lchownSync(inner, NOBODY, NOBODY);
    symlinkSync(inner, join(sticky, 'outer'));
    assert.throws(() => openOutputFile(join(sticky, 'outer')), REFUSED);
    assert.equal(readFileSync(victim, 'latin1'), 'precious\n');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a file or FIFO another user made in a sticky directory is refused (without waiting on the FIFO)', { skip }, () => {
  const { base, sticky } = setup();
  try {
    const file = join(sticky, 'theirs');
    writeFileSync(file, '');
    chownSync(file, NOBODY, NOBODY);
    assert.throws(() => openOutputFile(file), REFUSED);
    const fifo = join(sticky, 'fifo');
    spawnSync('mkfifo', [fifo]);
    chownSync(fifo, NOBODY, NOBODY);
    assert.throws(() => openOutputFile(fifo), REFUSED);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('outside sticky directories links are followed as usual, /proc\'s included', { skip }, () => {
  const { base, victim } = setup();
  try {
    const link = join(base, 'link');
    symlinkSync(victim, link);
    lchownSync(link, NOBODY, NOBODY);
    append(link, 'more\n');
    assert.equal(readFileSync(victim, 'latin1'), 'precious\nmore\n');
    // /dev/fd -> /proc/self/fd -> /proc/<pid>/fd/N -> the file
    const fd = openSync(victim, 'r');
    append(`/dev/fd/${fd}`, 'again\n');
    closeSync(fd);
    assert.equal(readFileSync(victim, 'latin1'), 'precious\nmore\nagain\n');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a new file is created 0600; an existing one keeps its mode', () => {
  const base = mkdtempSync(join(tmpdir(), 'outfile-'));
  const old = process.umask(0o022);
  try {
    append(join(base, 'new'), 'x');
    assert.equal(statSync(join(base, 'new')).mode & 0o7777, 0o600);
    writeFileSync(join(base, 'shared'), '');
    chmodSync(join(base, 'shared'), 0o644);
    append(join(base, 'shared'), 'x');
    assert.equal(statSync(join(base, 'shared')).mode & 0o7777, 0o644);
  } finally {
    process.umask(old);
    rmSync(base, { recursive: true, force: true });
  }
});

test('failures say what the C library says', () => {
  const base = mkdtempSync(join(tmpdir(), 'outfile-'));
  try {
    assert.throws(() => openOutputFile(join(base, 'no', 'such')), { message: 'No such file or directory' });
    assert.throws(() => openOutputFile(base), { message: 'Is a directory' });
    writeFileSync(join(base, 'f'), '');
    assert.throws(() => openOutputFile(join(base, 'f', 'x')), { message: 'Not a directory' });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
