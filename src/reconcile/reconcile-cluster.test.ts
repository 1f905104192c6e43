import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jittered } from './reconcile-cluster.ts';

test('a follow-up read waits its interval spread over half of it either way', () => {
  assert.equal(
    jittered(100, () => 0),
    50,
  );
  assert.equal(
    jittered(100, () => 0.5),
    100,
  );
  assert.ok(jittered(100, () => 0.999_999) < 150);
  // Passes that start together do not wait alike: Math.random's spread over a claim's 64 passes.
  const waits = new Set(Array.from({ length: 64 }, () => Math.round(jittered(33))));
  assert.ok(waits.size > 10, `${waits.size} distinct waits`);
  for (const wait of waits) assert.ok(wait >= 16 && wait <= 50, String(wait));
});
