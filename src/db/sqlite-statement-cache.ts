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
 * (setImmediate) in ONE transaction, one WAL commit, each in its own savepoint: a call that throws
 * is undone alone and rejects alone, the others commit. Every promise settles only after the
 * shared commit, so an answer never acknowledges a change before it is in the WAL.
 */

import type { Database as BetterSqlite } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { BoundedMap } from '../bounded-map.ts';

const MAX_STATEMENTS = 500;

export interface SyncSql {
  run(sql: string, parameters: readonly unknown[]): void;
  get<T>(sql: string, parameters: readonly unknown[]): T | undefined;
}

export interface ExclusiveSql {
  /** Runs `work` as one synchronous transaction; nothing of it is kept if it throws. */
  transaction<T>(work: (sql: SyncSql) => T): Promise<T>;
  /**
   * Runs `work` at the end of this turn of the event loop, in one transaction with the other
   * `grouped` calls of the turn (group commit), in its own savepoint: nothing of it is kept if it
   * throws, and its promise settles once the shared transaction has committed (or failed).
   */
  grouped<T>(work: (sql: SyncSql) => T): Promise<T>;
}

interface GroupedWork {
  readonly work: (sql: SyncSql) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

export function sqliteConnection(database: BetterSqlite): {
  kysely: SqliteDatabase;
  exclusive: ExclusiveSql;
} {
  // Dynamic SQL (e.g. IN lists of varying length) could grow the cache without bound.
  const cache = new BoundedMap<string, SqliteStatement>(MAX_STATEMENTS);
  const prepare = (sql: string): SqliteStatement => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = database.prepare(sql) as unknown as SqliteStatement;
      cache.set(sql, statement);
    }
    return statement;
  };

  let kyselyTransactionOpen = false;
  let waiters: Array<() => void> = [];
  const sync: SyncSql = {
    run: (sql, parameters) => {
      prepare(sql).run(parameters);
    },
    get: <T>(sql: string, parameters: readonly unknown[]) => prepare(sql).all(parameters)[0] as T | undefined,
  };

  // better-sqlite3 builds its BEGIN/COMMIT wrapper per db.transaction() call: build it once.
  // Called inside another transaction, the same wrapper uses a savepoint instead.
  const runInTransaction = database.transaction((work: (sql: SyncSql) => unknown) => work(sync));
  const attempt = (work: (sql: SyncSql) => unknown): Outcome => {
    try {
      return { ok: true, value: runInTransaction(work) };
    } catch (error) {
      return { ok: false, error };
    }
  };
  const runGroup = database.transaction((group: readonly GroupedWork[]) =>
    group.map((item) => attempt(item.work)),
  );
  const waitForKysely = async () => {
    while (kyselyTransactionOpen) await new Promise<void>((resolve) => waiters.push(resolve));
  };

  let group: GroupedWork[] = [];
  const commitGroup = async () => {
    await waitForKysely();
    const members = group;
    group = [];
    let outcomes: Outcome[];
    try {
      // One member needs no savepoint: its own transaction is the same commit.
      outcomes = members.length === 1 ? [attempt(members[0]!.work)] : runGroup(members);
    } catch (error) {
      // The shared commit failed: nothing of the group was kept.
      outcomes = members.map(() => ({ ok: false, error }));
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
          const ready = waiters;
          waiters = [];
          queueMicrotask(() => {
            for (const resume of ready) resume();
          });
        }
        return prepare(sql);
      },
    },
    exclusive: {
      async transaction<T>(work: (sql: SyncSql) => T): Promise<T> {
        await waitForKysely();
        return runInTransaction(work) as T;
      },
      grouped<T>(work: (sql: SyncSql) => T): Promise<T> {
        return new Promise<T>((resolve, reject) => {
          const first = group.push({ work, resolve: resolve as (value: unknown) => void, reject }) === 1;
          if (first) setImmediate(() => void commitGroup());
        });
      },
    },
  };
}
