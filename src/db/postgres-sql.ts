/**
 * Direct statements on the PostgreSQL pool, for hot paths where Kysely's query building and its
 * transaction round trips cost more than the work itself (see ClusterStore.update).
 *
 * Statements are named: `pg` prepares each name once per connection, so later executions skip
 * parsing and planning on the server and send only Bind/Execute. Every call is one round trip.
 */
import type pg from 'pg';

export interface PostgresQuery {
  /** Runs one prepared statement; `name` must always denote the same `text`. */
  query<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]>;
}

export interface PostgresSql extends PostgresQuery {
  /**
   * Runs `work` in a transaction on one connection (BEGIN … COMMIT, ROLLBACK if it throws). For
   * rare paths: it costs two round trips more than the work's own statements.
   */
  transaction<T>(work: (sql: PostgresQuery) => Promise<T>): Promise<T>;
}

export function postgresSql(pool: pg.Pool): PostgresSql {
  const on = (client: pg.Pool | pg.PoolClient): PostgresQuery => ({
    async query<R>(name: string, text: string, values: readonly unknown[]): Promise<R[]> {
      const result = await client.query({ name, text, values: values as unknown[] });
      return result.rows as R[];
    },
  });
  const direct = on(pool);
  return {
    query: direct.query,
    async transaction<T>(work: (sql: PostgresQuery) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('begin');
        const result = await work(on(client));
        await client.query('commit');
        return result;
      } catch (error) {
        try {
          await client.query('rollback');
        } catch (rollbackError) {
          // The connection is unusable: the pool must drop it rather than lend it again.
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}
