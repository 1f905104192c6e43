/**
 * WAL checkpoints off the event loop. In WAL mode with `synchronous = NORMAL` a commit only appends
 * to the WAL; the fsync happens when a checkpoint copies the WAL back into the database. SQLite's
 * automatic checkpoint runs inside whichever commit crosses the threshold, so on the event loop it
 * stalls every request for the length of an fsync (tail latency and throughput both suffer:
 * docs/performance.md). Here the main connection never checkpoints; a worker thread with its own
 * connection runs a PASSIVE checkpoint (never blocks writers) every second, and a TRUNCATE one at
 * close. Durability is unchanged: NORMAL already leaves the last commits to the WAL until then.
 *
 * The WAL starts over (its next commit writes at its beginning) only when a write transaction
 * begins with every frame copied back. Under a steady stream of writes that never happens by
 * itself: commits made while a checkpoint runs are always left after it, and the WAL grew without
 * end (hundreds of MB in seconds under the API's PUT load), every commit extending the file, which
 * costs the kernel more than rewriting pages it holds (≈ 1.8 µs per change, docs/performance.md).
 * So when a checkpoint leaves frames behind, the worker asks the main thread to hold its exclusive
 * writes (`WriteHold`: they wait, the event loop does not), copies the few frames written
 * meanwhile, and lets them go: the next commit starts the WAL over. The hold lasts that second,
 * short checkpoint (its fsync included: the frames must be in the database before the WAL can be
 * overwritten); if the worker does not answer within `MAX_HOLD_MS`, the writes go on anyway.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { WriteHold } from './sqlite-statement-cache.ts';

/** Longest the main thread holds its writes for the worker's second checkpoint. */
const MAX_HOLD_MS = 1_000;

// Plain JavaScript: the worker must not depend on the TypeScript loader the main thread runs under.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// Named as src/thread-name.ts names threads (this source cannot import it).
try { require('node:fs').writeFileSync('/proc/thread-self/comm', 'mks-checkpoint'); } catch {}
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const checkpoint = (mode) => { try { return db.pragma('wal_checkpoint(' + mode + ')')[0]; } catch { return undefined; } };
// The WAL's length at the last checkpoint: unchanged, nothing was written since (no hold needed).
let lastLog = 0;
// A hold asked and not yet answered (the main thread may be slower than the interval).
let holding = false;
const timer = setInterval(() => {
  if (holding) return;
  const result = checkpoint('PASSIVE');
  if (result === undefined || result.log === lastLog) return;
  lastLog = result.log;
  // Frames written while it ran (it copies those there when it began) are left: the writer holds
  // while they are copied too, so that its next commit starts the WAL over.
  if (result.log > 0) {
    holding = true;
    parentPort.postMessage('hold');
  }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'held') {
    holding = false;
    checkpoint('PASSIVE');
    parentPort.postMessage('release');
    return;
  }
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint('TRUNCATE');
  db.close();
  parentPort.postMessage('stopped');
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

export function startCheckpointer(file: string, writes: WriteHold, intervalMs = 1_000): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs },
  });
  worker.unref();
  let released: NodeJS.Timeout | undefined;
  const release = () => {
    clearTimeout(released);
    released = undefined;
    writes.release();
  };
  let stopped: Promise<void> | undefined;
  worker.on('message', (message) => {
    if (message === 'hold' && stopped === undefined) {
      // Between two tasks of the event loop: no exclusive write is running (they are synchronous).
      writes.hold();
      released = setTimeout(release, MAX_HOLD_MS);
      released.unref();
      worker.postMessage('held');
    } else if (message === 'release') release();
  });
  return {
    stop() {
      release();
      stopped ??= new Promise<void>((resolve) => {
        const done = () => {
          void worker.terminate().then(() => resolve());
        };
        worker.on('message', (message) => {
          if (message === 'stopped') done();
        });
        worker.once('error', done);
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
