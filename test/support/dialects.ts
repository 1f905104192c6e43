/**
 * The dialect matrix: medium tests run once per engine. SQLite always; PostgreSQL when the test
 * runner started a server (MKS_TEST_POSTGRES_URL), with a fresh database per test file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Config } from '../../src/config.ts';

export type Dialect = 'sqlite' | 'postgres';

export const DIALECTS: readonly Dialect[] = process.env.MKS_TEST_POSTGRES_URL
  ? ['sqlite', 'postgres']
  : ['sqlite'];

export interface TestDatabase {
  readonly config: Config['database'];
  /** For `--database-url` / MKS_DATABASE_URL. */
  readonly url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-db-'));
    const file = path.join(dir, 'mks.db');
    return {
      config: { kind: 'sqlite', file },
      url: `sqlite:${file}`,
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const serverUrl = process.env.MKS_TEST_POSTGRES_URL;
  if (serverUrl === undefined) throw new Error('MKS_TEST_POSTGRES_URL is not set');
  const name = `mks_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = serverUrl.replace(/\/[^/]*$/, `/${name}`);
  return {
    config: { kind: 'postgres', url },
    url,
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
