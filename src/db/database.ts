/**
 * Opens the store. Engine differences live here, in the `Database` union: a store that needs an
 * engine's fast path opens its `*.sqlite.ts` or `*.postgres.ts` implementation once, never as
 * scattered `if (dialect)` checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.ts';
import { migrateToLatest } from './migrate.ts';
import { type PostgresNotifications, postgresNotifications } from './postgres-notifications.ts';
import { type PostgresSql, postgresSql } from './postgres-sql.ts';
import type { Schema } from './schema.ts';
import { startCheckpointer } from './sqlite-checkpointer.ts';
import { type ExclusiveSql, sqliteConnection } from './sqlite-statement-cache.ts';

export type Engine = 'sqlite' | 'postgres';

interface DatabaseHandle {
  readonly db: Kysely<Schema>;
  close(): Promise<void>;
}

/**
 * The embedded default: one process owns the file and every write to it, so stores may serve
 * reads from memory kept current on each write, and hot writes run as synchronous transactions.
 */
export interface SqliteDatabase extends DatabaseHandle {
  readonly engine: 'sqlite';
  readonly scaleOut: false;
  /** Synchronous write transactions, for hot write paths (see sqlite-statement-cache.ts). */
  readonly exclusiveSql: ExclusiveSql;
}

/**
 * Scale-out: several mks processes share the database, so nothing another process may write is
 * cached, and hot paths use named prepared statements straight on the pool.
 */
export interface PostgresDatabase extends DatabaseHandle {
  readonly engine: 'postgres';
  readonly scaleOut: true;
  readonly postgresSql: PostgresSql;
  /** LISTEN/NOTIFY between the processes sharing the database (postgres-notifications.ts). */
  readonly notifications: PostgresNotifications;
}

/**
 * The store, discriminated by `engine`. Stores that take an engine-specific path open one
 * implementation per engine with an exhaustive `switch (database.engine)`.
 */
export type Database = SqliteDatabase | PostgresDatabase;

export interface OpenOptions {
  /** Run migrations on open (default true). */
  readonly migrate?: boolean;
}

export async function openDatabase(
  database: Config['database'],
  options: OpenOptions = {},
): Promise<Database> {
  const opened = database.kind === 'sqlite' ? openSqlite(database.file) : openPostgres(database.url);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(opened.db, opened.engine);
    } catch (error) {
      await opened.close();
      throw error;
    }
  }
  return opened;
}

function openSqlite(file: string): SqliteDatabase {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new BetterSqlite(file);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL is durable across application crashes in WAL mode; only an OS crash may lose the
  // last transactions. The fsync per commit that FULL costs would cap writes far below the API's.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const connection = sqliteConnection(sqlite);
  // Checkpoints (and their fsync) run in a worker thread, not inside a request's commit.
  const checkpointer = file === ':memory:' ? undefined : startCheckpointer(file, connection.writes);
  if (checkpointer !== undefined) sqlite.pragma('wal_autocheckpoint = 0');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: connection.kysely }) });
  return {
    engine: 'sqlite',
    scaleOut: false,
    db,
    exclusiveSql: connection.exclusive,
    close: async () => {
      await db.destroy();
      await checkpointer?.stop();
    },
  };
}

function openPostgres(url: string): PostgresDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client losing its server (restart, failover) must not crash the process.
  pool.on('error', () => {});
  // Nor one in use: a connection lost between two queries of a transaction emits 'error' on its
  // client, which the pool listens to only while the client is idle. Its next query fails (and the
  // pool drops it on release); the event itself needs no handling.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  const notifications = postgresNotifications(url, pool);
  return {
    engine: 'postgres',
    scaleOut: true,
    db,
    postgresSql: postgresSql(pool),
    notifications,
    close: async () => {
      await notifications.close();
      await db.destroy();
    },
  };
}

/**
 * Tells whether an error means "the database cannot be reached right now" (connection refused or
 * lost, server shutting down, SQLite busy past its timeout): the API answers 503 and clients retry.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  // pg reports a connection dropped mid-query by this message alone, with no code.
  if (error instanceof Error && error.message === 'Connection terminated unexpectedly') return true;
  const code = (error as { code?: unknown } | null)?.code;
  // pg's own errors for a connection lost in use carry no code, only these texts.
  if (error instanceof Error && PG_CONNECTION_LOST.test(error.message)) return true;
  if (typeof code !== 'string') return false;
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'SQLITE_BUSY', 'SQLITE_LOCKED'].includes(code) ||
    // PostgreSQL SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown).
    /^08[0-9A-Z]{3}$/.test(code) ||
    /^57P0[1-3]$/.test(code)
  );
}

const PG_CONNECTION_LOST =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect)$/;
