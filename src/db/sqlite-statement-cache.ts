/**
 * The SQLite connection as Kysely and the synchronous write path share it.
 *
 * Prepared statements are cached by SQL text: Kysely's SQLite driver calls `prepare()` for every
 * query, and with better-sqlite3 that re-parses and re-plans the SQL each time, most of a
 * primary-key read's cost (docs/performance.md). better-sqlite3 statements are synchronous and
 * never re-entered.
 *
 * `exclusive.transaction()` runs a write synchronously (no awaits, so no other work interleaves
 * and no lock is held across the event loop), several times faster for a cluster change than an
 * async Kysely transaction (docs/performance.md). It shares Kysely's one connection, so it waits while Kysely has
 * a transaction open on it (seen here as `begin` … `commit`/`rollback`).
 *
 * `exclusive.grouped()` is the group commit of hot writes: the calls made while the event loop
 * handles one batch of I/O (concurrent requests arriving together) run at the end of that turn
 * (setImmediate) in ONE transaction, one WAL commit, without a savepoint each (1.5–2 µs of CPU per
 * change, docs/performance.md). A call that throws before it ran any
 * statement (a refused check: callers validate before they write) rejects alone and left nothing
 * to undo. A call that throws after it wrote may have left part of its writes: the whole group is
 * rolled back (with the in-memory changes its calls registered through `undo`) and every call runs
 * again alone, in its own transaction, so that one still rejects alone and the others commit.
 * Every promise settles only after the commit that holds its writes, so an answer never
 * acknowledges a change before it is in the WAL.
 *
 * Rows that every call of a group writes the same way (a history row, an outbox upsert) can be
 * `batch`ed: they are written by multi-row statements after the group's last call, before its
 * commit, instead of one statement each (docs/performance.md). Columns of one row that several
 * calls of a group set (changes of one cluster) can be `set`: the row is updated once, with every
 * column any of them set, the last value of each winning (docs/performance.md).
 */

import type { Database as BetterSqlite, Statement } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { BoundedMap } from '../bounded-map.ts';

const MAX_STATEMENTS = 500;

export interface SyncSql {
  run(sql: string, parameters: readonly unknown[]): void;
  get<T>(sql: string, parameters: readonly unknown[]): T | undefined;
  /** Every row `sql` selects (rows batched so far are written first, as for `get`). */
  all<T>(sql: string, parameters: readonly unknown[]): T[];
  /**
   * As `all`, each row an array of its columns in the select's order: better-sqlite3 then makes no
   * object per row, whose properties it sets one V8 API call each (a cluster load's read of ≈ 100
   * rows: ≈ 18 % less CPU; docs/performance.md, "Eleventh round").
   */
  rows(sql: string, parameters: readonly unknown[]): unknown[][];
  /**
   * Registers how to take back a change made in memory alongside this transaction's writes (a
   * cache updated): it runs if the transaction holding the writes is rolled back or fails to
   * commit, never after a commit.
   */
  undo(undo: () => void): void;
  /**
   * Writes one row of `statement` with the rows the transaction's other calls batch on it, by
   * multi-row statements run after its last call and before its commit (or before the next
   * `get`, so reads see them). With a `key`, the row replaces one batched earlier under the same
   * key (an upsert of the same row, where the last one wins). Statements run with `run` must not
   * depend on rows still batched.
   */
  batch(statement: RowsStatement, parameters: readonly unknown[], key?: string): void;
  /**
   * Sets `columns` of the row `id` of `statement`'s table, written with the transaction's
   * batched rows (after its last call and before its commit, or before the next `get`): the
   * columns the transaction's calls set on one row are written by one `update`, the last value
   * of each column winning. A column set here must not also be written by `run` in the same
   * transaction.
   */
  set(statement: RowUpdate, id: string, columns: Readonly<Record<string, unknown>>): void;
}

/**
 * `update "<table>" set … where "id" = ?` over a list of columns, its text made once per list: a
 * change builds no SQL text, and the statement cache finds it by a string whose hash V8 already
 * holds. The list of the previous call is compared name by name first (≈ 55 ns instead of ≈ 500
 * for a joined key of 13 columns, docs/performance.md).
 */
export class RowUpdate {
  readonly #table: string;
  readonly #texts = new BoundedMap<string, string>(256);
  /** The last list asked for and its text: consecutive changes mostly write the same columns. */
  #lastColumns: readonly string[] = [];
  #lastText = '';

  constructor(table: string) {
    this.#table = table;
  }

  /** The statement's text for `columns`, bound as (...values, id). */
  sql(columns: readonly string[]): string {
    if (sameColumns(columns, this.#lastColumns)) return this.#lastText;
    const key = columns.join();
    let text = this.#texts.get(key);
    if (text === undefined) {
      text = `update "${this.#table}" set ${columns.map((column) => `"${column}" = ?`).join(', ')} where "id" = ?`;
      this.#texts.set(key, text);
    }
    this.#lastColumns = columns;
    this.#lastText = text;
    return text;
  }
}

/** The same names in the same order (names from `Object.keys`, compared without a joined key). */
function sameColumns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/**
 * Rows per multi-row statement: any number up to `EXACT_BATCH_ROWS` (a group's usual size), above
 * it powers of two up to `MAX_BATCH_ROWS`, so that a statement has at most 18 texts to prepare.
 */
const EXACT_BATCH_ROWS = 16;
const MAX_BATCH_ROWS = 64;

/**
 * An `insert` of rows: `head` up to `values`, the placeholders of one row, and what follows the
 * rows (e.g. `on conflict …`). Its text for n rows is made once per n.
 */
export class RowsStatement {
  readonly #head: string;
  readonly #row: string;
  readonly #tail: string;
  readonly #texts = new Map<number, string>();

  constructor(head: string, row: string, tail = '') {
    this.#head = head;
    this.#row = row;
    this.#tail = tail;
  }

  sql(rows: number): string {
    let text = this.#texts.get(rows);
    if (text === undefined) {
      text = `${this.#head} values ${Array.from({ length: rows }, () => this.#row).join(', ')}${this.#tail}`;
      this.#texts.set(rows, text);
    }
    return text;
  }
}

export interface ExclusiveSql {
  /** Runs `work` as one synchronous transaction; nothing of it is kept if it throws. */
  transaction<T>(work: (sql: SyncSql) => T): Promise<T>;
  /**
   * Runs `work` at the end of this turn of the event loop, in one transaction with the other
   * `grouped` calls of the turn (group commit): nothing of it is kept if it throws, and its
   * promise settles once the transaction holding its writes has committed (or failed). `work`
   * may run twice (again alone, when another call of its group failed after writing): it must
   * decide from what it reads, and register what it changes in memory with `sql.undo`.
   */
  grouped<T>(work: (sql: SyncSql) => T): Promise<T>;
}

interface GroupedWork {
  readonly work: (sql: SyncSql) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** A group member threw after writing: the group's transaction is rolled back, its members run alone. */
class GroupAborted extends Error {}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

/** The rows pending on `statement` in `pending`, made empty on its first use in a transaction. */
function rowsOf<S, K, V>(pending: Map<S, Map<K, V>>, statement: S): Map<K, V> {
  let rows = pending.get(statement);
  if (rows === undefined) {
    rows = new Map();
    pending.set(statement, rows);
  }
  return rows;
}

/**
 * Holds the connection's exclusive writes (group commits and transactions) while the checkpointer
 * copies the WAL's last frames back, so that the next write starts the WAL over instead of
 * appending to it (sqlite-checkpointer.ts). Writes asked meanwhile wait (their promises settle
 * later); Kysely's are not held (a write of theirs in between only means the WAL goes on).
 */
export interface WriteHold {
  hold(): void;
  release(): void;
}

export function sqliteConnection(database: BetterSqlite): {
  kysely: SqliteDatabase;
  exclusive: ExclusiveSql;
  writes: WriteHold;
} {
  // Dynamic SQL (e.g. IN lists of varying length) could grow the cache without bound. The
  // synchronous path binds its positional values as the call's arguments (`run(...values)`):
  // given an array, better-sqlite3 reads each element through a V8 API call, ≈ 300 ns more for a
  // history row's 13 values (docs/performance.md). Values are never plain objects (named
  // parameters), which an argument would be read as.
  const cache = new BoundedMap<string, Statement<unknown[]>>(MAX_STATEMENTS);
  const prepare = (sql: string): Statement<unknown[]> => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = database.prepare<unknown[]>(sql);
      cache.set(sql, statement);
    }
    return statement;
  };

  let kyselyTransactionOpen = false;
  let held = false;
  let waiters: Array<() => void> = [];
  /** Resumes the writes waiting (after the statement that ended Kysely's transaction has run). */
  const wake = () => {
    const ready = waiters;
    waiters = [];
    queueMicrotask(() => {
      for (const resume of ready) resume();
    });
  };
  // What the running transaction's work changed in memory, taken back if its writes are not kept.
  let undos: Array<() => void> = [];
  // Statements the running group member has asked for (one that throws after any aborts the group).
  let written = 0;
  // The rows batched in the running transaction, by statement (keyed ones by their key).
  const batches = new Map<RowsStatement, Map<unknown, readonly unknown[]>>();
  let unkeyed = 0;
  // A batched statement that failed (the rows of other calls went with it, whoever wrote them).
  let batchFailure: { readonly error: unknown } | undefined;
  // The columns set in the running transaction, by statement and row id (merged per row).
  const updates = new Map<RowUpdate, Map<string, Readonly<Record<string, unknown>>>>();
  const writeBatches = () => {
    if (batches.size === 0 && updates.size === 0) return;
    try {
      writeEachUpdate();
      writeEachBatch();
    } catch (error) {
      batchFailure = { error };
      throw error;
    } finally {
      batches.clear();
      updates.clear();
    }
  };
  const writeEachUpdate = () => {
    for (const [statement, rows] of updates) {
      for (const [id, row] of rows) {
        const columns = Object.keys(row);
        const values: unknown[] = [];
        for (const column of columns) values.push(row[column]);
        values.push(id);
        prepare(statement.sql(columns)).run(...values);
      }
    }
  };
  const writeEachBatch = () => {
    for (const [statement, rows] of batches) {
      const all = [...rows.values()];
      let from = 0;
      while (from < all.length) {
        const left = all.length - from;
        let count = left <= EXACT_BATCH_ROWS ? left : MAX_BATCH_ROWS;
        while (count > left) count >>= 1;
        const parameters: unknown[] = [];
        for (let index = from; index < from + count; index++) {
          for (const value of all[index]!) parameters.push(value);
        }
        prepare(statement.sql(count)).run(...parameters);
        from += count;
      }
    }
  };
  const sync: SyncSql = {
    run: (sql, parameters) => {
      written++;
      prepare(sql).run(...parameters);
    },
    get: <T>(sql: string, parameters: readonly unknown[]) => {
      writeBatches();
      return prepare(sql).all(...parameters)[0] as T | undefined;
    },
    all: <T>(sql: string, parameters: readonly unknown[]) => {
      writeBatches();
      return prepare(sql).all(...parameters) as T[];
    },
    rows: (sql, parameters) => {
      writeBatches();
      // The cached statement is shared by SQL text: raw for this call only.
      const statement = prepare(sql).raw(true);
      try {
        return statement.all(...parameters) as unknown[][];
      } finally {
        statement.raw(false);
      }
    },
    undo: (undo) => {
      undos.push(undo);
    },
    batch: (statement, parameters, key) => {
      written++;
      rowsOf(batches, statement).set(key ?? unkeyed++, parameters);
    },
    set: (statement, id, columns) => {
      written++;
      const rows = rowsOf(updates, statement);
      const row = rows.get(id);
      // The caller's object is kept as it is: a second set makes a merged one.
      rows.set(id, row === undefined ? columns : { ...row, ...columns });
    },
  };
  /** Runs the undos registered since `mark`, newest first, and forgets them. */
  const takeBack = (mark = 0) => {
    const taken = undos.splice(mark);
    for (let index = taken.length - 1; index >= 0; index--) taken[index]!();
  };
  /** Forgets the rolled-back transaction: its batched rows and what it changed in memory. */
  const rolledBack = () => {
    batches.clear();
    updates.clear();
    takeBack();
  };

  // better-sqlite3 builds its BEGIN/COMMIT wrapper per db.transaction() call: build it once.
  const runInTransaction = database.transaction((work: (sql: SyncSql) => unknown) => {
    batchFailure = undefined;
    const value = work(sync);
    // (A read of `work` wrote the rows and they failed, though `work` went on.)
    const failure = batchFailure as { readonly error: unknown } | undefined;
    if (failure !== undefined) throw failure.error;
    writeBatches();
    return value;
  });
  /** `work` in a transaction of its own: kept whole, or not at all (its undos run). */
  const attempt = (work: (sql: SyncSql) => unknown): Outcome => {
    undos = [];
    try {
      const value = runInTransaction(work);
      undos = [];
      return { ok: true, value };
    } catch (error) {
      rolledBack();
      return { ok: false, error };
    }
  };
  const runGroup = database.transaction((group: readonly GroupedWork[]): Outcome[] => {
    const outcomes: Outcome[] = [];
    batchFailure = undefined;
    for (const member of group) {
      written = 0;
      const mark = undos.length;
      try {
        outcomes.push({ ok: true, value: member.work(sync) });
      } catch (error) {
        // Refused before writing: nothing of it is in the transaction, which goes on.
        if (written === 0 && batchFailure === undefined && database.inTransaction) {
          takeBack(mark);
          outcomes.push({ ok: false, error });
        } else throw new GroupAborted();
      }
      // Rows of earlier calls failed when this one's read wrote them.
      if (batchFailure !== undefined) throw new GroupAborted();
    }
    try {
      writeBatches();
    } catch {
      // A batched row failed: which call's is unknown, so each runs again alone.
      throw new GroupAborted();
    }
    return outcomes;
  });
  const waitForTurn = async () => {
    while (kyselyTransactionOpen || held) await new Promise<void>((resolve) => waiters.push(resolve));
  };

  let group: GroupedWork[] = [];
  const commitGroup = async () => {
    await waitForTurn();
    const members = group;
    group = [];
    let outcomes: Outcome[];
    if (members.length === 1) {
      // One member needs no group: its own transaction is the same commit.
      outcomes = [attempt(members[0]!.work)];
    } else {
      undos = [];
      try {
        outcomes = runGroup(members);
        undos = [];
      } catch (error) {
        // Nothing of the group was kept.
        rolledBack();
        outcomes =
          error instanceof GroupAborted
            ? // A member failed after writing: each runs again alone, so that it fails alone.
              members.map((member) => attempt(member.work))
            : // The shared commit failed.
              members.map(() => ({ ok: false, error }));
      }
    }
    outcomes.forEach((outcome, index) => {
      const member = members[index]!;
      if (outcome.ok) member.resolve(outcome.value);
      else member.reject(outcome.error);
    });
  };

  return {
    kysely: {
      close: () => database.close(),
      prepare(sql: string): SqliteStatement {
        if (sql === 'begin') kyselyTransactionOpen = true;
        else if (sql === 'commit' || sql === 'rollback') {
          kyselyTransactionOpen = false;
          // The statement runs right after prepare() returns; waiters go once it has.
          wake();
        }
        return prepare(sql) as unknown as SqliteStatement;
      },
    },
    exclusive: {
      async transaction<T>(work: (sql: SyncSql) => T): Promise<T> {
        await waitForTurn();
        const outcome = attempt(work);
        if (!outcome.ok) throw outcome.error;
        return outcome.value as T;
      },
      grouped<T>(work: (sql: SyncSql) => T): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          const first = group.push({ work, resolve: resolve as (value: unknown) => void, reject }) === 1;
          if (first) setImmediate(() => void commitGroup());
        });
      },
    },
    writes: {
      hold() {
        held = true;
      },
      release() {
        if (!held) return;
        held = false;
        wake();
      },
    },
  };
}
