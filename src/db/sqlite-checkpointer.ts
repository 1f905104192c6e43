/**
 * WAL checkpoints off the event loop. In WAL mode with `synchronous = NORMAL` a commit only appends
 * to the WAL; the fsync happens when a checkpoint copies the WAL back into the database. SQLite's
 * automatic checkpoint runs inside whichever commit crosses the threshold, so on the event loop it
 * stalls every request for the length of an fsync (tail latency and throughput both suffer:
 * docs/performance.md). Here the main connection never checkpoints; a worker thread with its own
 * connection runs a PASSIVE checkpoint (never blocks writers) every second, and a TRUNCATE one at
 * close. Durability is unchanged: NORMAL already leaves the last commits to the WAL until then.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain JavaScript: the worker must not depend on the TypeScript loader the main thread runs under.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const checkpoint = (mode) => { try { db.pragma('wal_checkpoint(' + mode + ')'); } catch {} };
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.intervalMs);
parentPort.on('message', (message) => {
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

export function startCheckpointer(file: string, intervalMs = 1_000): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, intervalMs },
  });
  worker.unref();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        const done = () => {
          void worker.terminate().then(() => resolve());
        };
        worker.once('message', done);
        worker.once('error', done);
        worker.once('exit', () => resolve());
        worker.postMessage('stop');
      });
      return stopped;
    },
  };
}
