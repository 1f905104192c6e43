/**
 * Starts a real mks API (real store, real HTTP on a loopback port) for medium tests, with the
 * embedded default's first-start credentials, and a signed client for them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type Runtime, startRuntime } from '../../src/server.ts';
import type { Services } from '../../src/services.ts';
import { createTestDatabase, type Dialect, type TestDatabase } from './dialects.ts';
import { freePort } from './postgres-server.ts';

export interface TestServer {
  readonly app: FastifyInstance;
  readonly services: Services;
  readonly config: Config;
  readonly baseUrl: string;
  readonly credentials: OvhCredentials;
  readonly client: ApiClient;
  readonly projectId: string;
  readonly database: TestDatabase;
  readonly runtime: Runtime;
  close(): Promise<void>;
}

/**
 * `env` sets mks's environment-backed options (e.g. MKS_POD_START_MS); by default pods start at
 * once and nothing resyncs on its own during a test.
 */
export async function startTestServer(dialect: Dialect, env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  env = { MKS_POD_START_MS: '0', ...env };
  const database = await createTestDatabase(dialect);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-data-'));
  const port = await freePort();
  const kubePort = await freePort();
  const config = loadConfig(
    {
      dataDir,
      listen: `127.0.0.1:${port}`,
      kubeListen: `127.0.0.1:${kubePort}`,
      databaseUrl: database.url,
      logLevel: 'silent',
    },
    env,
  );
  const runtime = await startRuntime(
    config,
    createLogger(
      process.env.MKS_TEST_LOG_LEVEL === undefined ? 'silent' : (process.env.MKS_TEST_LOG_LEVEL as 'info'),
    ),
  );
  const { app, services, first } = runtime;
  const credentials = readOvhConf(first.file) as OvhCredentials;
  return {
    app,
    services,
    config,
    baseUrl: `http://127.0.0.1:${port}`,
    credentials,
    client: new ApiClient(credentials),
    projectId: first.projectId!,
    database,
    runtime,
    async close() {
      await runtime.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
