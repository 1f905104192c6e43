import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateLimiter } from './rate-limit.ts';

test('a credential gets its burst at once, then the sustained rate, and says how long to wait', () => {
  let now = 0;
  const limiter = new RateLimiter({ requestsPerSecond: 2, burst: 3 }, () => now);
  assert.deepEqual(
    [1, 2, 3].map(() => limiter.take('a')),
    [0, 0, 0],
  );
  assert.equal(limiter.take('a'), 1, 'the fourth waits');
  assert.equal(limiter.take('b'), 0, 'another credential has its own budget');
  now += 500;
  assert.equal(limiter.take('a'), 0, 'half a second gives one request back at 2/s');
  assert.equal(limiter.take('a'), 1);
  now += 60_000;
  assert.deepEqual(
    [1, 2, 3, 4].map(() => limiter.take('a')),
    [0, 0, 0, 1],
    'refilled up to the burst, no more',
  );
});
