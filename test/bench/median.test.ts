import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lowerMedian } from '../../bench/lib/context.ts';

const seconds = (reading: { seconds: number }) => reading.seconds;

test('the median of an odd count is its middle item by the key, whatever the order given', () => {
  const readings = [{ seconds: 6.19 }, { seconds: 4.91 }, { seconds: 5.27 }];
  assert.equal(lowerMedian(readings, seconds), readings[2]);
  // The items given are left in their order.
  assert.deepEqual(
    readings.map((reading) => reading.seconds),
    [6.19, 4.91, 5.27],
  );
});

test('the median of an even count is the lower of the two middle items', () => {
  const readings = [{ seconds: 4 }, { seconds: 1 }, { seconds: 3 }, { seconds: 2 }];
  assert.equal(lowerMedian(readings, seconds)?.seconds, 2);
});

test('one item is its own median, and none has none', () => {
  assert.equal(lowerMedian([{ seconds: 7 }], seconds)?.seconds, 7);
  assert.equal(lowerMedian([], seconds), undefined);
});
