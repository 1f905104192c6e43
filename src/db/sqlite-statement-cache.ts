/**
 * Kysely's SQLite driver calls `prepare()` for every query; with better-sqlite3 that re-parses and
 * re-plans the SQL each time (measured: 40–57 % of a primary-key read). Kysely compiles a given
 * query shape to the same SQL text, so caching prepared statements by text removes that cost.
 * better-sqlite3 statements are synchronous and not re-entered while in use, so sharing is safe.
 */
import type { Database as BetterSqlite } from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

const MAX_STATEMENTS = 500;

export function withStatementCache(database: BetterSqlite): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => database.close(),
    prepare(sql: string): SqliteStatement {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql) as unknown as SqliteStatement;
        // Dynamic SQL (e.g. IN lists of varying length) could grow the cache without bound.
        if (cache.size >= MAX_STATEMENTS) cache.clear();
        cache.set(sql, statement);
      }
      return statement;
    },
  };
}
