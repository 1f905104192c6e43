/**
 * PostgreSQL for the benchmark: one throwaway server (test/support/postgres-server.ts) started on
 * first use, and a fresh database for every mks server process.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { findPostgresBin, type PostgresServer, startPostgres } from '../../test/support/postgres-server.ts';

let server: Promise<PostgresServer> | undefined;

export function postgresAvailable(): boolean {
  return findPostgresBin() !== undefined;
}

/** A new empty database on the shared throwaway server; its `postgres://` URL. */
export async function createPostgresDatabase(): Promise<string> {
  server ??= startPostgres();
  const { url } = await server;
  const name = `mks_bench_${crypto.randomBytes(4).toString('hex')}`;
  // The server accepts connections a little before it accepts sessions ("starting up"): retry.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const admin = new pg.Client({ connectionString: url });
    try {
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== '57P03' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await admin.end().catch(() => {});
    }
  }
  return url.replace(/\/[^/]*$/, `/${name}`);
}

export async function stopPostgres(): Promise<void> {
  if (server === undefined) return;
  const started = server;
  server = undefined;
  await (await started).stop();
}
