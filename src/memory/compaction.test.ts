import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import pino from 'pino';
import { waitFor } from '../../test/support/wait.ts';
import { compactionTotals, compactMemoryWhenQuiet, QUIET, QuietWatch, quietFor } from './compaction.ts';
import { type Compaction, compactIfGrown, ThreadCompactions } from './heap.ts';

const MIB = 1024 * 1024;
const TIMEOUT = { timeoutMs: 10_000, intervalMs: 5 };

test('the quiet watch runs once after a burst has gone quiet: never during it, not again until the next', async () => {
  const options = { quietMs: 60, checkMs: 5 };
  let polled = 0;
  let reads = 0;
  let quiets = 0;
  const watch = new QuietWatch(
    options,
    () => {
      reads += 1;
      return polled;
    },
    () => {
      quiets += 1;
    },
  );
  try {
    // Nothing happened yet: no burst, nothing to run for.
    const readsAtStart = reads;
    await waitFor(() => reads >= readsAtStart + 30, { ...TIMEOUT, what: '30 checks' });
    assert.equal(quiets, 0, 'no burst, no compaction');

    // A burst: events and a polled figure moving, more often than the quiet period, for longer.
    const burst = setInterval(() => {
      watch.activity();
      polled += 1;
    }, 10);
    const readsInBurst = reads;
    await waitFor(() => reads >= readsInBurst + 40, { ...TIMEOUT, what: '40 checks during the burst' });
    clearInterval(burst);
    assert.equal(quiets, 0, 'not during the burst');

    await waitFor(() => quiets === 1, { ...TIMEOUT, what: 'the compaction after the burst' });
    const readsAfter = reads;
    await waitFor(() => reads >= readsAfter + 40, { ...TIMEOUT, what: '40 quiet checks' });
    assert.equal(quiets, 1, 'not twice for one burst');

    // One event is a burst too; the polled figure alone as well.
    watch.activity();
    await waitFor(() => quiets === 2, { ...TIMEOUT, what: 'the compaction after an event' });
    polled += 1;
    await waitFor(() => quiets === 3, { ...TIMEOUT, what: 'the compaction after the figure moved' });
  } finally {
    watch.close();
  }
});

/** Commits heap: `mib` MiB of small objects, held until the returned function drops them. */
function grow(mib: number): () => void {
  let held: object[][] | undefined = [];
  for (let i = 0; i < mib * 16; i++) {
    held.push(Array.from({ length: 1024 }, (_, j) => ({ i, j })));
  }
  return () => {
    held = undefined;
  };
}

test('a compaction returns the committed heap a burst left, and does not run again without new growth', () => {
  const drop = grow(64);
  drop();
  const compaction = compactIfGrown('main');
  assert.ok(compaction !== undefined, 'the heap grew by 64 MiB: it runs');
  assert.equal(compaction.isolate, 'main');
  assert.ok(
    compaction.committedBefore - compaction.committedAfter >= 32 * MIB,
    `committed ${compaction.committedBefore / MIB} → ${compaction.committedAfter / MIB} MiB`,
  );
  assert.ok(compaction.usedAfter <= compaction.committedAfter);
  assert.ok(compaction.pauseMs > 0 && compaction.cpuMs >= 0);
  assert.equal(compactIfGrown('main'), undefined, 'nothing grew since: it does not run');
});

/**
 * A thread running heap.ts from the sources (TypeScript through tsx's loader, as pass-thread.ts
 * starts its thread): `body` runs with the module's exports in scope as `heap`.
 */
function heapThread(body: string, workerData?: unknown): Worker {
  const loader = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const module = JSON.stringify(new URL('./heap.ts', import.meta.url).href);
  return new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    import(${loader}).then(({ register }) => { register(); return import(${module}); }).then((heap) => {
      ${body}
    });
    `,
    { eval: true, workerData },
  );
}

test('a thread compacts its own heap when the main thread asks, and says what it did', async () => {
  // The thread runs heap.ts as the reconciler thread does (its entry's one line), after a burst.
  const worker = heapThread(`
    let held = [];
    for (let i = 0; i < 48 * 16; i++) held.push(Array.from({ length: 1024 }, (_, j) => ({ i, j })));
    held = undefined;
    heap.compactWhenAsked('test-thread');
    // What keeps the reconciler thread alive: its port to the main thread (the channel does not).
    parentPort.on('message', () => {});
    parentPort.postMessage('listening');
  `);
  const reported: Compaction[] = [];
  const threads = new ThreadCompactions((compaction) => reported.push(compaction));
  try {
    await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    threads.ask();
    const compaction = await waitFor(() => reported.find((c) => c.isolate === 'test-thread'), {
      ...TIMEOUT,
      what: "the thread's compaction",
    });
    assert.ok(
      compaction.committedBefore - compaction.committedAfter >= 16 * MIB,
      `committed ${compaction.committedBefore / MIB} → ${compaction.committedAfter / MIB} MiB`,
    );
  } finally {
    threads.close();
    await worker.terminate();
  }
});

test('no compaction while the API answers requests: it waits until they stop', async () => {
  let answered = 0;
  const listeners = new Set<() => void>();
  const memory = compactMemoryWhenQuiet({
    logger: pino({ level: 'silent' }),
    workSignal: { on: (listener) => listeners.add(listener), off: (listener) => listeners.delete(listener) },
    answered: () => answered,
    quiet: { quietMs: 60, checkMs: 5 },
    growingPercent: 0,
  });
  const before = compactionTotals().main?.count ?? 0;
  // Held (not garbage V8 could give back by itself meanwhile): the heap grew, so a compaction runs.
  const drop = grow(64);
  // A change (the burst), then requests answered all along, for many quiet periods.
  for (const listener of listeners) listener();
  const serving = setInterval(() => {
    answered += 1;
  }, 2);
  try {
    const started = performance.now();
    await waitFor(() => performance.now() - started >= 600, {
      ...TIMEOUT,
      what: '10 quiet periods of serving',
    });
    assert.equal(compactionTotals().main?.count ?? 0, before, 'not while requests are answered');
  } finally {
    clearInterval(serving);
  }
  try {
    await waitFor(() => (compactionTotals().main?.count ?? 0) === before + 1, {
      ...TIMEOUT,
      what: 'the compaction once the requests stopped',
    });
  } finally {
    memory.close();
    drop();
  }
});

test('with emulated clusters, quiet lasts longer than an idle cluster takes to leave memory', () => {
  assert.deepEqual(quietFor(undefined), QUIET, 'no emulated clusters: the base period');
  // The default residency: idle 5 s, a sweep every 0.5 s.
  const quiet = quietFor(5_500);
  assert.ok(quiet.quietMs > 5_500, `quiet ${quiet.quietMs} ms`);
  assert.equal(quiet.checkMs, QUIET.checkMs);
  // Clusters leaving memory sooner than the base period: the base period stands.
  assert.equal(quietFor(100).quietMs, QUIET.quietMs);
});

/**
 * Major collections made by the same allocation in a child node after `setup` (heap.ts's exports in
 * scope), node started with `nodeFlags` (`bin/mks.js` gives none of the heap's growth: mks sets it
 * once its runtime is up, `quietHeapGrowth`).
 */
function majorCollections(setup: string, nodeFlags: readonly string[] = []): number {
  const heap = JSON.stringify(new URL('./heap.ts', import.meta.url).href);
  const script = `
    const { burstGrowth, quietHeapGrowth } = await import(${heap});
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    let majors = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    });
    observer.observe({ entryTypes: ['gc'] });
    ${setup}
    // A sliding window of live objects over a stream of garbage, as a fleet's change makes.
    const live = [];
    for (let round = 0; round < 300; round++) {
      for (let i = 0; i < 20000; i++) {
        const o = { a: 'x' + i, b: [i], c: { d: i } };
        if (i % 4 === 0) live.push(o);
      }
      if (live.length > 200000) live.splice(0, 100000);
    }
    // The observer's entries are delivered on a later turn.
    await new Promise((resolve) => setTimeout(resolve, 20));
    observer.disconnect();
    process.stdout.write(String(majors));
  `;
  const child = spawnSync(
    process.execPath,
    [...nodeFlags, '--import', 'tsx', '--input-type=module', '--eval', script],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(child.status, 0, child.stderr);
  return Number(child.stdout);
}

/** Two processes each (a run's count moves by one between runs), compared by their sums. */
function twice(setup: string, nodeFlags: readonly string[] = []): number {
  return majorCollections(setup, nodeFlags) + majorCollections(setup, nodeFlags);
}

test('in a burst the heap grows by a looser factor than the quiet one mks sets: fewer full collections', () => {
  const quiet = twice('quietHeapGrowth(30); burstGrowth(false);');
  const burst = twice('quietHeapGrowth(30); burstGrowth(true);');
  assert.ok(quiet >= 2, `the tight factor collects in full several times (${quiet})`);
  assert.ok(burst < quiet, `in a burst ${burst} full collections, quiet ${quiet}`);
  // Quiet again after the burst: the tight factor is back.
  const after = twice('quietHeapGrowth(30); burstGrowth(true); burstGrowth(false);');
  assert.ok(after > burst, `after the burst ${after} full collections, in it ${burst}`);
});

test("a growth factor on node's command line wins over the one mks sets once up", () => {
  // One process each: V8's own factor collects about a third as often here.
  const tight = majorCollections('quietHeapGrowth(30);');
  // V8's own factor asked for on the command line: mks's 30 % is not set over it.
  const commandLine = majorCollections('quietHeapGrowth(30);', ['--heap-growing-percent=0']);
  assert.ok(
    commandLine < tight,
    `V8's own from the command line: ${commandLine} full collections; 30 %: ${tight}`,
  );
});

test("an isolate's first full collection holds while another isolate sets and clears --expose-gc", async () => {
  // The main thread and the reconciler thread compact at the same moment (ThreadCompactions.ask,
  // then compactIfGrown('main')), and V8's flags are the process's: one isolate's
  // `--no-expose-gc` could land between the other's `--expose-gc` and the context it made to get
  // `gc`, whose `gc` was then not defined. Thrown from the quiet watch's timer, that ended mks.
  // Here this thread plays the other isolate, flipping the flag without pause, while fresh threads
  // (a fresh heap.ts each, no `gc` found yet) make their first collection: before the fix, one of
  // these 16 threads threw in each of four runs.
  const v8 = await import('node:v8');
  for (let round = 0; round < 16; round++) {
    const done = new Int32Array(new SharedArrayBuffer(4));
    const worker = heapThread(
      `
      let outcome;
      try {
        outcome = heap.compactIfGrown('contended', 0) === undefined ? 'no collection' : 'collected';
      } catch (error) {
        outcome = 'threw: ' + error.message;
      }
      Atomics.store(workerData.done, 0, 1);
      parentPort.postMessage(outcome);
      `,
      { done },
    );
    const outcome = new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    try {
      const deadline = performance.now() + 20_000;
      for (let flips = 1; Atomics.load(done, 0) === 0 && performance.now() < deadline; flips++) {
        v8.setFlagsFromString('--expose-gc');
        v8.setFlagsFromString('--no-expose-gc');
        // This thread's event loop gets a turn now and then (the test runner's timers).
        if (flips % 1_000 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(await outcome, 'collected', `round ${round}`);
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
      await worker.terminate();
    }
  }
});
