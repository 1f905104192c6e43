import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GoDurationError, parseGoDuration } from './go-duration.ts';

const refusal = (text: string): string => {
  try {
    parseGoDuration(text);
  } catch (error) {
    assert.ok(error instanceof GoDurationError);
    return error.message;
  }
  assert.fail(`${JSON.stringify(text)} was accepted`);
};

test('Go durations parse to nanoseconds, units and fractions as Go reads them', () => {
  assert.equal(parseGoDuration('0'), 0n);
  assert.equal(parseGoDuration('-0'), 0n);
  assert.equal(parseGoDuration('1h30m'), 5_400_000_000_000n);
  assert.equal(parseGoDuration('1.5s'), 1_500_000_000n);
  assert.equal(parseGoDuration('.5s'), 500_000_000n);
  assert.equal(parseGoDuration('5.s'), 5_000_000_000n);
  assert.equal(parseGoDuration('-1s'), -1_000_000_000n);
  assert.equal(parseGoDuration('+2ms'), 2_000_000n);
  assert.equal(parseGoDuration('1µs'), 1_000n);
  assert.equal(parseGoDuration('1μs'), 1_000n);
  assert.equal(parseGoDuration('1us1ns'), 1_001n);
  // Go truncates what is finer than a nanosecond.
  assert.equal(parseGoDuration('1.0000000001s'), 1_000_000_000n);
  assert.equal(parseGoDuration('2562047h47m16.854775807s'), (1n << 63n) - 1n);
  assert.equal(parseGoDuration('-2562047h47m16.854775808s'), -(1n << 63n));
});

test('Go refuses with its own texts', () => {
  assert.equal(refusal(''), 'time: invalid duration ""');
  assert.equal(refusal('30'), 'time: missing unit in duration "30"');
  assert.equal(refusal('1d'), 'time: unknown unit "d" in duration "1d"');
  assert.equal(refusal('1 s'), 'time: unknown unit " s" in duration "1 s"');
  assert.equal(refusal('.s'), 'time: invalid duration ".s"');
  assert.equal(refusal('PT30S'), 'time: invalid duration "PT30S"');
  assert.equal(refusal('2562047h47m16.854775808s'), 'time: invalid duration "2562047h47m16.854775808s"');
  assert.equal(refusal('9223372036854775808ns'), 'time: invalid duration "9223372036854775808ns"');
  assert.equal(refusal('1é'), 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"');
  assert.equal(refusal('"1s'), 'time: invalid duration "\\"1s"');
});
