import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isoText } from './iso-time.ts';

test('isoText writes what toISOString writes, within a second and across seconds, years and eras', () => {
  const instants = [
    0, 1, 999, 1000, -1, -999, -1000, -1001, 1_764_915_000_000, 1_764_915_000_007, 1_764_915_000_070,
    1_764_915_000_700, 1_764_915_000_999, 1_764_915_001_000, 253_402_300_799_999, 253_402_300_800_000,
    -62_167_219_200_001, 8.64e15, -8.64e15,
  ];
  let seed = 17;
  for (let index = 0; index < 2000; index++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    const base = instants[index % instants.length]!;
    const offset = index % 3 === 0 ? seed % 1000 : (seed % 5_000_000) - 2_500_000;
    instants.push(Math.max(-8.64e15, Math.min(8.64e15, base + offset)));
  }
  for (const ms of instants) {
    const date = new Date(ms);
    assert.equal(isoText(date), date.toISOString(), String(ms));
  }
});

test('isoText refuses an invalid date as toISOString does', () => {
  assert.throws(() => isoText(new Date(Number.NaN)), RangeError);
});
