/**
 * A server under test, in its own process.
 *
 *   server-process.ts mks     — the real mks as `mks serve --no-worker` runs it (startRuntime: API
 *                               and emulated clusters; the reconciler is measured by the fleet
 *                               figure), temp data dir, log level info as
 *                               in production, MKS_DATABASE_URL if given, one cluster created
 *                               through the signed API.
 *   server-process.ts hello   — the baseline: a bare Fastify app with one `GET /hello` route, and the
 *                               same logger and log settings as mks (pino at info, no per-request line).
 *
 * Both listen on a free loopback port and report it in their `ready` message; both answer `usage`
 * (CPU time, the main thread's alone, event-loop utilization and the main thread's garbage
 * collections so far) so the orchestrator can tell who saturated, and what the collector did in a
 * window.
 */
import { performance } from 'node:perf_hooks';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { ApiClient } from '../src/client/api-client.ts';
import { createLogger } from '../src/logger.ts';
import { startLocalRuntime } from '../test/support/server.ts';
import { fatal, serveParent } from './lib/child.ts';
import { GcTally } from './lib/gc-tally.ts';
import { mainThreadCpuMicros } from './lib/thread-cpu.ts';

const LOG_LEVEL = 'info';

async function startMks() {
  const local = await startLocalRuntime({
    databaseUrl: process.env.BENCH_DATABASE_URL,
    logLevel: LOG_LEVEL,
    // The API figures measure the API: the reconciler runs elsewhere (`mks serve --no-worker`), so a
    // rollout triggered by each PUT does not share this process's CPU. The fleet figure measures it.
    env: {
      ...process.env,
      MKS_LOG_LEVEL: undefined,
      MKS_DATABASE_URL: undefined,
      MKS_DATA_DIR: undefined,
      MKS_WORKER: 'false',
      // The figures measure throughput: one bench credential must not be held to a client's rate.
      MKS_RATE_LIMIT_PER_SECOND: '0',
    },
  });
  // As `mks serve --no-worker` runs it: the API and the emulated clusters' Kubernetes API.
  const { runtime, config, credentials } = local;
  const client = new ApiClient(credentials);
  const cluster = await client.call<{ id: string }>(
    'POST',
    `/cloud/project/${runtime.first.projectId}/kube`,
    {
      name: 'bench',
      region: config.regions[0],
    },
  );
  return {
    app: runtime.app,
    ready: {
      port: local.port,
      publicUrl: config.publicUrl,
      credentials,
      projectId: runtime.first.projectId,
      clusterId: cluster.id,
      database: config.database.kind,
    },
    close: () => local.close(),
  };
}

async function startHello() {
  const app: FastifyInstance = Fastify({
    loggerInstance: createLogger(LOG_LEVEL) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/hello', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { app, ready: { port }, close: () => app.close() };
}

const collections = new GcTally();

try {
  const kind = process.argv[2];
  const server = kind === 'mks' ? await startMks() : kind === 'hello' ? await startHello() : undefined;
  if (server === undefined) throw new Error(`unknown server kind '${kind}' (mks | hello)`);
  serveParent(
    async (message) => {
      if (message.type === 'usage') {
        return {
          type: 'usage',
          cpu: process.cpuUsage(),
          elu: performance.eventLoopUtilization(),
          gc: collections.snapshot(),
          mainCpuMicros: mainThreadCpuMicros(),
          // Monotonic microseconds, the clock of V8's CPU profile timestamps.
          hrtimeMicros: Number(process.hrtime.bigint() / 1000n),
        };
      }
      throw new Error(`unknown request '${message.type}'`);
    },
    () => server.close(),
  );
  process.send?.({ type: 'ready', kind, pid: process.pid, ...server.ready });
} catch (error) {
  fatal(error);
}
