/**
 * Starts a real mks API (real store, real HTTP on a loopback port) for medium tests, with the
 * embedded default's first-start credentials, and a signed client for them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { bootstrap } from '../../src/bootstrap.ts';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createLogger } from '../../src/logger.ts';
import { openServices, type Services } from '../../src/services.ts';
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
  close(): Promise<void>;
}

export async function startTestServer(dialect: Dialect, env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const database = await createTestDatabase(dialect);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-data-'));
  const port = await freePort();
  const config = loadConfig(
    { dataDir, listen: `127.0.0.1:${port}`, databaseUrl: database.url, logLevel: 'silent' },
    env,
  );
  const logger = createLogger('silent');
  const services = await openServices(config, logger);
  const first = await bootstrap(services);
  const app = await buildApp({ ...services, logger });
  await app.listen({ host: '127.0.0.1', port });
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
    async close() {
      await app.close();
      await services.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
