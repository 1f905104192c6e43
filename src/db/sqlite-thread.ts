/**
 * A second SQLite connection on the same file, in a thread of its own, for bulk writes the main
 * thread need not run itself: the emulator store's commits (docs/performance.md, "Ninth round: the
 * emulator store's SQLite off the main thread"). The main thread sends the statements' texts and
 * values (structured clone: the rows' JSON texts are made on the main thread as before) and
 * awaits the outcome; the event loop never waits for SQLite's lock.
 *
 * SQLite has one writer at a time. The main connection's exclusive writes (group commits,
 * `exclusive.transaction`: synchronous, one task each), this thread's commits and the
 * checkpointer's hold take turns by a word in shared memory (`WriteTurn`): the thread blocks on it
 * (`Atomics.wait`, in its own thread), the main thread awaits it (`Atomics.waitAsync`), so neither
 * reaches SQLite's busy handler, which sleeps (on the main thread it would block the event loop).
 * Kysely's statements on the main connection do not take the turn (they are rare on the hot paths:
 * a lease renewed, a key's `lastUse`); a write of theirs that meets the thread's transaction waits
 * in the busy handler for that commit, and their transactions begin `immediate` (sqlite-statement-
 * cache.ts), so that a transaction that reads before it writes never finds its snapshot stale.
 *
 * Ordering: the thread handles writes in the order they were sent, one at a time. A write
 * resolves once its transaction has committed (`synchronous = NORMAL` in WAL mode, as the main
 * connection: durable across a process crash), so a read the main connection starts after that
 * sees it; it rejects with SQLite's error (nothing of it kept) otherwise. `close()` waits for
 * every write sent, then closes the connection.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The turn word's values: nobody writes, the main thread writes (or holds for the checkpointer), the thread writes. */
const FREE = 0;
const MAIN = 1;
const THREAD = 2;

/** Node 20 has `Atomics.waitAsync` (V8); TypeScript's ES2023 library does not declare it. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ):
      | { async: false; value: 'not-equal' | 'timed-out' }
      | { async: true; value: Promise<'ok' | 'timed-out'> };
  }
).waitAsync;

/**
 * Whose turn it is to write to the SQLite file: the main thread's side of the word shared with
 * the connection thread (`SqliteThread`). Taken and given back within one synchronous write, or
 * for the checkpointer's hold.
 */
export class WriteTurn {
  readonly shared = new SharedArrayBuffer(4);
  readonly #word = new Int32Array(this.shared);

  /** Takes the turn if nobody has it. */
  take(): boolean {
    return Atomics.compareExchange(this.#word, 0, FREE, MAIN) === FREE;
  }

  give(): void {
    Atomics.store(this.#word, 0, FREE);
    Atomics.notify(this.#word, 0);
  }

  /** Resolves when the turn may have become free (the thread gave it back); at once if it is. */
  async whileTaken(): Promise<void> {
    const holder = Atomics.load(this.#word, 0);
    if (holder === FREE) return;
    const waiting = waitAsync(this.#word, 0, holder);
    if (waiting.async) await waiting.value;
  }

  /** After the thread died: a turn it held is given back. */
  takenBack(): void {
    if (Atomics.compareExchange(this.#word, 0, THREAD, FREE) === THREAD) Atomics.notify(this.#word, 0);
  }
}

export interface SqliteThread {
  /**
   * Runs the statements in one write transaction, the `index`th with `parameters[index]` and the
   * text `texts[statements[index]]`; resolves once it has committed.
   */
  write(
    texts: readonly string[],
    statements: readonly number[],
    parameters: readonly unknown[][],
  ): Promise<void>;
  /** Waits for the requests sent, then closes the connection and ends the thread. */
  close(): Promise<void>;
}

// Plain JavaScript: the thread must not depend on the TypeScript loader the main thread runs under.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
// Checkpoints are the checkpointer thread's.
db.pragma('wal_autocheckpoint = 0');
const turn = new Int32Array(workerData.turn);
const statements = new Map();
const prepare = (sql) => {
  let statement = statements.get(sql);
  if (statement === undefined) {
    if (statements.size >= 200) statements.clear();
    statement = db.prepare(sql);
    statements.set(sql, statement);
  }
  return statement;
};
const begin = db.prepare('begin immediate');
const commit = db.prepare('commit');
const rollback = db.prepare('rollback');
const take = () => {
  for (;;) {
    const holder = Atomics.compareExchange(turn, 0, ${FREE}, ${THREAD});
    if (holder === ${FREE}) return;
    Atomics.wait(turn, 0, holder);
  }
};
const give = () => {
  Atomics.store(turn, 0, ${FREE});
  Atomics.notify(turn, 0);
};
// The write whose parts are being received: its error, once one failed (the rest are skipped).
let writing;
const failure = (error) => ({ message: String(error && error.message), code: error && error.code });
parentPort.on('message', (request) => {
  if (request.kind === 'close') {
    db.close();
    parentPort.postMessage({ id: request.id });
    return;
  }
  // A write comes in parts (WRITE_PART statements each, sent back to back): one transaction,
  // from the first part's BEGIN to the last part's COMMIT, the turn held in between.
  if (request.first) {
    take();
    writing = { error: undefined };
    try {
      begin.run();
    } catch (error) {
      writing.error = error;
    }
  }
  if (writing.error === undefined) {
    const { texts, statements: which, parameters } = request;
    try {
      for (let index = 0; index < which.length; index++) prepare(texts[which[index]]).run(...parameters[index]);
      if (request.last) commit.run();
    } catch (error) {
      writing.error = error;
    }
  }
  if (writing.error !== undefined && db.inTransaction) rollback.run();
  if (!request.last) return;
  const { error } = writing;
  writing = undefined;
  give();
  parentPort.postMessage(error === undefined ? { id: request.id } : { id: request.id, error: failure(error) });
});
`;

/**
 * The thread's young generation: what it allocates (the requests' rows) is garbage once
 * written, so a small one is scavenged often and cheaply, and keeps the thread's
 * heap small (docs/performance.md, "Ninth round").
 */
const THREAD_YOUNG_GENERATION_MB = 4;

/** Statements per message of a write (≈ 2 KiB of text each for the emulator's objects). */
const WRITE_PART = 128;

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

interface Answer {
  readonly id: number;
  readonly value?: unknown;
  readonly error?: { readonly message: string; readonly code?: unknown };
}

/**
 * The connection thread of the SQLite file `file`, started on its first request (a process that
 * never loads or writes an emulated cluster starts none) and again after it died.
 */
export function sqliteThread(file: string, turn: WriteTurn): SqliteThread {
  let worker: Worker | undefined;
  let nextId = 0;
  const pending = new Map<number, Pending>();
  const failAll = (error: unknown) => {
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  };
  const started = (): Worker => {
    if (worker !== undefined) return worker;
    const thread = new Worker(WORKER_SOURCE, {
      eval: true,
      resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
      workerData: {
        module: createRequire(import.meta.url).resolve('better-sqlite3'),
        file,
        turn: turn.shared,
      },
    });
    thread.unref();
    thread.on('message', (answer: Answer) => {
      const waiter = pending.get(answer.id);
      if (waiter === undefined) return;
      pending.delete(answer.id);
      if (pending.size === 0) thread.unref();
      if (answer.error === undefined) waiter.resolve(answer.value);
      else waiter.reject(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
    });
    const died = (error: unknown) => {
      if (worker !== thread) return;
      worker = undefined;
      turn.takenBack();
      failAll(error);
    };
    thread.on('error', died);
    thread.on('exit', (code) => died(new Error(`the SQLite connection thread exited (code ${code})`)));
    worker = thread;
    return thread;
  };
  const awaitAnswer = <T>(thread: Worker, id: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      // While an answer is awaited the thread keeps the process alive.
      if (pending.size === 0) thread.ref();
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    });
  const request = <T>(message: Record<string, unknown>): Promise<T> => {
    const thread = started();
    const id = nextId++;
    const answer = awaitAnswer<T>(thread, id);
    thread.postMessage({ ...message, id });
    return answer;
  };
  return {
    write(texts, statements, parameters) {
      const thread = started();
      const id = nextId++;
      const answer = awaitAnswer<void>(thread, id);
      // In parts, so that the thread's heap holds one part's rows at a time, not the whole
      // commit's (megabytes under a fleet's change): they stay in the young generation.
      for (let from = 0; from === 0 || from < statements.length; from += WRITE_PART) {
        const to = Math.min(from + WRITE_PART, statements.length);
        thread.postMessage({
          kind: 'write',
          id,
          first: from === 0,
          last: to === statements.length,
          texts,
          statements: statements.slice(from, to),
          parameters: parameters.slice(from, to),
        });
      }
      return answer;
    },
    async close() {
      const thread = worker;
      if (thread === undefined) return;
      await request<void>({ kind: 'close' }).catch(() => {});
      worker = undefined;
      await thread.terminate();
    },
  };
}
