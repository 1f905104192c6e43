/**
 * `npm run test:unit`: starts one throwaway PostgreSQL server for the whole run (each test file
 * makes its own database in it), runs node's test runner over every test file, stops the server.
 * Set MKS_TEST_DIALECTS=sqlite to skip the PostgreSQL leg on a machine without its binaries.
 */
import { spawn } from 'node:child_process';
import { startPostgres } from '../test/support/postgres-server.ts';

const dialects = (process.env.MKS_TEST_DIALECTS ?? 'sqlite,postgres').split(',');
const env = { ...process.env };
const postgres = dialects.includes('postgres') ? await startPostgres() : undefined;
if (postgres !== undefined) env.MKS_TEST_POSTGRES_URL = postgres.url;

const patterns = process.argv.length > 2 ? process.argv.slice(2) : ['src/**/*.test.ts', 'test/**/*.test.ts'];
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...patterns],
  { stdio: 'inherit', env },
);
const code: number = await new Promise((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
await postgres?.stop();
process.exit(code);
