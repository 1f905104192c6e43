/**
 * Starts a real mks API (real store, real HTTP on a loopback port) for medium tests, with the
 * embedded default's first-start credentials, and a signed client for them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
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
 * once and nothing resyncs on its own during a test, and the heap grows by V8's own factor (the
 * tests' process holds many runtimes; the factor mks sets is tested in src/memory/compaction.test.ts).
 */
export async function startTestServer(dialect: Dialect, env: NodeJS.ProcessEnv = {}): Promise<TestServer> {
  const database = await createTestDatabase(dialect);
  const local = await startLocalRuntime({
    databaseUrl: database.url,
    logLevel: 'silent',
    env: { MKS_POD_START_MS: '0', MKS_HEAP_GROWING_PERCENT: '0', ...env },
    logger: createLogger(
      process.env.MKS_TEST_LOG_LEVEL === undefined ? 'silent' : (process.env.MKS_TEST_LOG_LEVEL as 'info'),
    ),
  });
  const { runtime, config, credentials } = local;
  return {
    app: runtime.app,
    services: runtime.services,
    config,
    baseUrl: `http://127.0.0.1:${local.port}`,
    credentials,
    client: new ApiClient(credentials),
    projectId: runtime.first.projectId!,
    database,
    runtime,
    async close() {
      await local.close();
      await database.drop();
    },
  };
}

/** How many times a test runtime starts, each on newly chosen ports, when its port was taken meanwhile. */
const LISTEN_ATTEMPTS = 5;

export interface LocalRuntime {
  readonly runtime: Runtime;
  readonly config: Config;
  /** The API's port on 127.0.0.1. */
  readonly port: number;
  /** The first start's credentials (the embedded default's ovh.conf). */
  readonly credentials: OvhCredentials;
  /** Closes the runtime and removes its data directory. */
  close(): Promise<void>;
}

/**
 * mks's runtime in this process as `mks serve` starts it, on free loopback ports (the API and the
 * clusters' Kubernetes API) with a fresh data directory: for tests and the benchmark's server.
 * `env` is what loadConfig reads as the environment; `logger` defaults to one at `logLevel`.
 */
export async function startLocalRuntime(options: {
  readonly databaseUrl: string | undefined;
  readonly logLevel: Config['logLevel'];
  readonly env: NodeJS.ProcessEnv;
  readonly logger?: Logger;
}): Promise<LocalRuntime> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-data-'));
  for (let attempt = 1; ; attempt++) {
    // Port 0 is not accepted by the config (publicUrl is derived from it): take a free port first.
    // Another process (a test file beside this one) can still take it before the runtime listens:
    // then the runtime, closed again (startRuntime), starts on other ports, same data directory.
    const port = await freePort();
    const kubePort = await freePort();
    const config = loadConfig(
      {
        dataDir,
        listen: `127.0.0.1:${port}`,
        kubeListen: `127.0.0.1:${kubePort}`,
        databaseUrl: options.databaseUrl,
        logLevel: options.logLevel,
      },
      options.env,
    );
    let runtime: Runtime;
    try {
      runtime = await startRuntime(config, options.logger ?? createLogger(config.logLevel));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < LISTEN_ATTEMPTS) continue;
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
    return {
      runtime,
      config,
      port,
      credentials: readOvhConf(runtime.first.file) as OvhCredentials,
      async close() {
        await runtime.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
}
