/** waitFor: what it returns, and that every wait is bounded, a pending probe included. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { waitFor } from './wait.ts';

describe('waitFor', () => {
  test('returns the first value that is not undefined, null or false, retrying thrown errors', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('not reachable yet');
        return calls >= 3 ? `ready after ${calls}` : false;
      },
      { intervalMs: 1 },
    );
    assert.equal(value, 'ready after 3');
  });

  test('times out with what was awaited and the last value', async () => {
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 50, intervalMs: 5, what: 'nothing' }),
      /Timed out after 50 ms waiting for nothing \(last value: false\)/,
    );
  });

  test('a probe whose promise never settles ends at the deadline, not later', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(() => new Promise<boolean>(() => {}), { timeoutMs: 100, what: 'a hung probe' }),
      /Timed out after 100 ms waiting for a hung probe \(the probe was still pending\)/,
    );
    // Bounded by the deadline: far below the test runner's own timeout (it would hang forever before).
    assert.ok(Date.now() - started < 5_000);
  });
});
