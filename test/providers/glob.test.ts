// Probe description globs: gmatch as Oracle's DTrace runs it (glibc fnmatch, no flags), matched
// without backtracking.

import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { globMatch } from '../../src/providers/registry.js';

test('*, ? and literal characters', () => {
  assert.ok(globMatch('', 'anything'));
  assert.ok(globMatch('*', ''));
  assert.ok(globMatch('sys_*', 'sys_read'));
  assert.ok(!globMatch('sys_*', 'xsys_read'));
  assert.ok(globMatch('*read', 'sys_read'));
  assert.ok(globMatch('s?s_*e*d', 'sys_read'));
  assert.ok(!globMatch('s?s', 'ss'));
  assert.ok(globMatch('**a**b**', 'xxaxxbxx'));
  assert.ok(globMatch('a*a', 'aa'));
  assert.ok(!globMatch('a*a', 'a'));
  assert.ok(globMatch('*ab*ab*', 'abab'));
  assert.ok(!globMatch('*ab*ab*', 'aba'));
});

test('[set]: ranges, ! and ^, ] first, [:classes:], escapes; unterminated [ is a character', () => {
  assert.ok(globMatch('tick-[0-9]*', 'tick-1s'));
  assert.ok(!globMatch('tick-[!0-9]*', 'tick-1s'));
  assert.ok(!globMatch('tick-[^0-9]*', 'tick-1s'));
  assert.ok(globMatch('[]x]', ']'));
  assert.ok(globMatch('[!]x]', 'a'));
  assert.ok(!globMatch('[!]x]', ']'));
  assert.ok(globMatch('[[:upper:]]*', 'BEGIN'));
  assert.ok(!globMatch('[[:digit:]]*', 'BEGIN'));
  assert.ok(!globMatch('[[:nosuch:]]', 'a'));
  assert.ok(globMatch('[a-]', '-'));
  assert.ok(globMatch('[\\]]', ']'));
  assert.ok(globMatch('[', '['));
  assert.ok(globMatch('[ab', '[ab'));
  assert.ok(!globMatch('[ab', 'a'));
  assert.ok(!globMatch('[[', '[['));
});

test('backslash quotes the next character; a trailing one matches nothing', () => {
  assert.ok(globMatch('a\\*', 'a*'));
  assert.ok(!globMatch('a\\*', 'ab'));
  assert.ok(globMatch('\\[x]', '[x]'));
  assert.ok(!globMatch('a\\', 'a\\'));
  assert.ok(!globMatch('*\\', 'a\\'));
});

test('many stars against long names take time linear in the stars, not exponential', () => {
  const s = 'a'.repeat(5000);
  assert.ok(!globMatch(`${'*a'.repeat(200)}*b`, s));
  assert.ok(globMatch(`${'*a'.repeat(200)}*`, s));
  assert.ok(!globMatch(`${'*'.repeat(10000)}BEGINX`, 'BEGIN'));
  assert.ok(!globMatch(`${'?*'.repeat(100)}x`, 'y'.repeat(3000)));
});
