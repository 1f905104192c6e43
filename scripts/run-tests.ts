/**
 * `npm run test:unit`: starts one throwaway PostgreSQL server for the whole run (each test file
 * makes its own database in it), runs node's test runner over every test file, stops the server.
 * Set MKS_TEST_DIALECTS=sqlite to skip the PostgreSQL leg on a machine without its binaries.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startPostgres } from '../test/support/postgres-server.ts';

const dialects = (process.env.MKS_TEST_DIALECTS ?? 'sqlite,postgres').split(',');
const env = { ...process.env };
const postgres = dialects.includes('postgres') ? await startPostgres() : undefined;
if (postgres !== undefined) env.MKS_TEST_POSTGRES_URL = postgres.url;

// Node 20's test runner takes no glob patterns: list the test files here.
const files =
  process.argv.length > 2
    ? process.argv.slice(2)
    : [...findTests('src'), ...findTests('test'), ...findTests('scripts')];
// Each test file's npm packages are loaded before tsx's hooks are registered (preload-packages.mjs).
const preload = pathToFileURL(path.resolve('test/support/preload-packages.mjs')).href;
const child = spawn(
  process.execPath,
  [
    '--import',
    preload,
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=2',
    '--test-timeout=300000',
    ...files,
  ],
  { stdio: 'inherit', env },
);
const code: number = await new Promise((resolve) => child.on('exit', (exitCode) => resolve(exitCode ?? 1)));
await postgres?.stop();
process.exit(code);

function findTests(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : findTests(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}
