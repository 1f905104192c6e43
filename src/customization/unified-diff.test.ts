import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { unifiedDiff } from './unified-diff.ts';

/** GNU diff's own output for the same texts, labels fixed so the headers carry no dates. */
function gnuDiff(before: string, after: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-diff-'));
  try {
    fs.writeFileSync(path.join(dir, 'a'), before);
    fs.writeFileSync(path.join(dir, 'b'), after);
    const result = spawnSync('diff', ['-u', '--label', 'a', '--label', 'b', 'a', 'b'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return result.stdout;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const numbered = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => `line ${from + index}\n`).join('');

const CASES: Array<[name: string, before: string, after: string]> = [
  ['one line changed in the middle', numbered(1, 12), numbered(1, 12).replace('line 6\n', 'line six\n')],
  ['lines added at the end', numbered(1, 5), `${numbered(1, 5)}iptables:\n  syncPeriod: 1m0s\n`],
  ['lines removed at the start', numbered(1, 8), numbered(4, 8)],
  [
    'two changes far apart make two hunks',
    numbered(1, 20),
    numbered(1, 20).replace('line 2\n', 'two\n').replace('line 18\n', 'eighteen\n'),
  ],
  [
    'two changes close together share a hunk',
    numbered(1, 20),
    numbered(1, 20).replace('line 5\n', 'five\n').replace('line 10\n', 'ten\n'),
  ],
  ['from empty', '', numbered(1, 3)],
  ['to empty', numbered(1, 3), ''],
];

for (const [name, before, after] of CASES) {
  test(`the diff is GNU diff -u's, byte for byte: ${name}`, () => {
    assert.equal(unifiedDiff(before, after, { before: 'a', after: 'b' }), gnuDiff(before, after));
  });
}

test('equal texts have an empty diff', () => {
  assert.equal(unifiedDiff(numbered(1, 4), numbered(1, 4), { before: 'a', after: 'b' }), '');
});
