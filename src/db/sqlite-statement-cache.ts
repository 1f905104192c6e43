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
 */
import type { Database as BetterSqlite } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const MAX_STATEMENTS = 500;

export interface SyncSql {
  run(sql: string, parameters: readonly unknown[]): void;
  get<T>(sql: string, parameters: readonly unknown[]): T | undefined;
}

export interface ExclusiveSql {
  /** Runs `work` as one synchronous transaction; nothing of it is kept if it throws. */
  transaction<T>(work: (sql: SyncSql) => T): Promise<T>;
}

export function sqliteConnection(database: BetterSqlite): {
  kysely: SqliteDatabase;
  exclusive: ExclusiveSql;
} {
  const cache = new Map<string, SqliteStatement>();
  const prepare = (sql: string): SqliteStatement => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = database.prepare(sql) as unknown as SqliteStatement;
      // Dynamic SQL (e.g. IN lists of varying length) could grow the cache without bound.
      if (cache.size >= MAX_STATEMENTS) cache.clear();
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
  const runInTransaction = database.transaction((work: (sql: SyncSql) => unknown) => work(sync));

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
        while (kyselyTransactionOpen) await new Promise<void>((resolve) => waiters.push(resolve));
        return runInTransaction(work) as T;
      },
    },
  };
}
