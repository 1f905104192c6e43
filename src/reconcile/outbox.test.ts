import assert from 'node:assert/strict';
import test from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { outbox } from './outbox.ts';

test('messages queued in one turn of the microtasks leave as one array, in order', async () => {
  const posted: unknown[] = [];
  const post = outbox<number>({ postMessage: (message) => posted.push(message) });
  post(1);
  post(2);
  // The flush was queued with the first message: what a microtask queued after it posts leaves
  // with the next message.
  await Promise.resolve().then(() => post(3));
  assert.deepEqual(posted, [[1, 2], [3]]);
  post(4);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(posted, [[1, 2], [3], [4]]);
});

test('across a real MessagePort, the receiver gets each batch as one message', async () => {
  const { port1, port2 } = new MessageChannel();
  try {
    const received: unknown[] = [];
    const twoArrived = new Promise<void>((resolve) => {
      port2.on('message', (message: unknown) => {
        received.push(message);
        if (received.length === 2) resolve();
      });
    });
    const post = outbox<{ id: number }>(port1);
    for (let id = 0; id < 5; id++) post({ id });
    await new Promise((resolve) => setImmediate(resolve));
    post({ id: 5 });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      twoArrived,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no second batch within 5 s')), 5_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.deepEqual(received, [[{ id: 0 }, { id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }], [{ id: 5 }]]);
  } finally {
    port1.close();
    port2.close();
  }
});
