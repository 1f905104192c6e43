import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timestampSeconds } from './authenticator.ts';

test('a timestamp is read as Number() reads 1 to 12 decimal digits, and anything else is NaN', () => {
  const digits = [
    '0',
    '7',
    '000',
    '0042',
    '1765000000',
    '999999999999',
    String(Number.MAX_SAFE_INTEGER).slice(0, 12),
  ];
  for (const text of digits) assert.equal(timestampSeconds(text), Number(text), text);
  for (let seconds = 1_765_000_000; seconds < 1_765_000_000 + 2_000; seconds += 7) {
    assert.equal(timestampSeconds(String(seconds)), seconds);
  }
  const refused = [
    '',
    '1234567890123',
    ' 1',
    '1 ',
    '+1',
    '-1',
    '1.5',
    '1e3',
    '0x10',
    '/',
    ':',
    '12:3',
    '１',
    'soon',
  ];
  for (const text of refused) assert.ok(Number.isNaN(timestampSeconds(text)), JSON.stringify(text));
});
