/**
 * The fleet under test, in its own process: the real runtime (`mks serve`: API, the emulated
 * clusters' HTTPS Kubernetes API, the emulator and the reconciler worker) on a temp data dir,
 * with emulated pods that start at once (MKS_POD_START_MS=0, set by the parent) and log level
 * info as in production.
 *
 * Requests (bench/lib/child.ts):
 *   populate { clusters }  creates that many clusters through ClusterService, waits until all are
 *                          READY; answers the seconds it took.
 *   rollout { customization, timeoutMs }
 *                          changes every cluster's customization at once, then waits until every
 *                          cluster is READY with the new generation observed; answers the seconds
 *                          until then (from the first change), CPU time, peak RSS.
 *   verify { sample }      reads a sample of clusters through their Kubernetes API: the kube-proxy
 *                          ConfigMap must carry the new config, every kube-proxy pod must have
 *                          loaded it; answers the problems found.
 *   usage                  CPU time so far and the monotonic clock (for profile windows).
 *
 * The readiness check is one SQL count over the clusters table, so it reads the same on SQLite
 * and PostgreSQL (where other worker processes may do the work).
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import type { CustomizationInput } from '../src/customization/customization.model.ts';
import { configHash, renderClusterConfig } from '../src/customization/kube-proxy-config.ts';
import { createLogger } from '../src/logger.ts';
import { startRuntime } from '../src/server.ts';
import { freePort } from '../test/support/postgres-server.ts';
import { fatal, serveParent } from './lib/child.ts';

const LOG_LEVEL = 'info';
/** How often the readiness count runs (the figure's resolution; it shares the server's CPU). */
const POLL_MS = 50;
const LOADED_CONFIG_ANNOTATION = 'mks.ovh/loaded-config-hash';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-fleet-'));

/** Peak RSS, sampled (VmHWM covers the whole process life, creation included). */
class RssSampler {
  peak = 0;
  readonly #timer: NodeJS.Timeout;
  constructor(everyMs: number) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

function vmHwmBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

const hrtimeMicros = () => Number(process.hrtime.bigint() / 1000n);

try {
  const config = loadConfig(
    {
      dataDir,
      listen: `127.0.0.1:${await freePort()}`,
      kubeListen: `127.0.0.1:${await freePort()}`,
      databaseUrl: process.env.BENCH_DATABASE_URL,
      logLevel: LOG_LEVEL,
    },
    {
      ...process.env,
      MKS_LOG_LEVEL: undefined,
      MKS_DATABASE_URL: undefined,
      MKS_DATA_DIR: undefined,
      // BENCH_WORKER=false: the reconciler runs in separate `mks worker` processes (bench/fleet-workers.ts).
      MKS_WORKER: process.env.BENCH_WORKER ?? 'true',
      // The figures measure throughput: one bench credential must not be held to a client's rate.
      MKS_RATE_LIMIT_PER_SECOND: '0',
    },
  );
  const logger = createLogger(config.logLevel);
  const runtime = await startRuntime(config, logger);
  const { services } = runtime;
  const projectId = runtime.first.projectId;
  if (projectId === undefined) throw new Error('bootstrap created no project');
  const caPem = fs.readFileSync(runtime.kubeCaFile, 'utf8');
  // Kubernetes API calls by method (what the reconciler costs the clusters), and TLS handshakes.
  let kubeCalls: Record<string, number> = {};
  let handshakes = 0;
  runtime.kubeApp.server.on('request', (request: { method?: string }) => {
    const method = request.method ?? '?';
    kubeCalls[method] = (kubeCalls[method] ?? 0) + 1;
  });
  runtime.kubeApp.server.on('secureConnection', () => {
    handshakes++;
  });
  let ids: string[] = [];

  /** Clusters of the fleet that are READY with their newest generation observed. */
  const settled = async (): Promise<number> => {
    const row = await services.database.db
      .selectFrom('clusters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .where('deleted_at', 'is', null)
      .where('status', '=', 'READY')
      .whereRef('observed_generation', '=', 'generation')
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  const waitSettled = async (count: number, timeoutMs: number): Promise<number> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const n = await settled();
      if (n >= count) return n;
      if (performance.now() > deadline) return n;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  };

  const populate = async (clusters: number, timeoutMs: number) => {
    const started = performance.now();
    const region = config.regions[0]!;
    // In batches: the creations themselves are not the figure, but they should not take long.
    for (let i = 0; i < clusters; i += 100) {
      const batch = Array.from({ length: Math.min(100, clusters - i) }, (_, j) =>
        services.clusters.create(projectId, { name: `fleet-${i + j}`, region }),
      );
      ids.push(...(await Promise.all(batch)).map((cluster) => cluster.id));
    }
    const created = (performance.now() - started) / 1000;
    const ready = await waitSettled(clusters, timeoutMs);
    return { type: 'populated', created, seconds: (performance.now() - started) / 1000, ready };
  };

  const rollout = async (customization: CustomizationInput, timeoutMs: number) => {
    const sampler = new RssSampler(25);
    const cpuBefore = process.cpuUsage();
    const startMicros = hrtimeMicros();
    kubeCalls = {};
    handshakes = 0;
    const t0 = performance.now();
    await Promise.all(ids.map((id) => services.clusters.updateCustomization(projectId, id, customization)));
    const accepted = (performance.now() - t0) / 1000;
    const ready = await waitSettled(ids.length, timeoutMs);
    const seconds = (performance.now() - t0) / 1000;
    const endMicros = hrtimeMicros();
    const cpu = process.cpuUsage(cpuBefore);
    const peakRss = sampler.stop();
    return {
      type: 'rolledOut',
      clusters: ids.length,
      ready,
      accepted,
      seconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRss,
      vmHwm: vmHwmBytes(),
      kubeCalls,
      handshakes,
      window: { start: startMicros, end: endMicros },
    };
  };

  const kubeGet = (clusterId: string, token: string, urlPath: string): Promise<unknown> => {
    const url = new URL(`${config.kubePublicUrl}/k8s/${clusterId}${urlPath}`);
    return new Promise((resolve, reject) => {
      const request = https.get(
        url,
        { ca: caPem, headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
        (response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            body += chunk;
          });
          response.on('end', () => {
            if (response.statusCode !== 200)
              reject(new Error(`GET ${urlPath}: ${response.statusCode} ${body}`));
            else resolve(JSON.parse(body));
          });
        },
      );
      request.on('error', reject);
    });
  };

  /** Reads a sample of clusters through their Kubernetes API; lists what is wrong. */
  const verify = async (sample: number, expect: string) => {
    const problems: string[] = [];
    const step = Math.max(1, Math.floor(ids.length / sample));
    const chosen = ids.filter((_, index) => index % step === 0).slice(0, sample);
    for (const id of chosen) {
      const cluster = await services.clusterStore.get(id);
      if (cluster === undefined) {
        problems.push(`${id}: gone`);
        continue;
      }
      const token = services.clusterToken(id, cluster.tokenEpoch);
      const configMap = (await kubeGet(
        id,
        token,
        '/api/v1/namespaces/kube-system/configmaps/kube-proxy',
      )) as {
        data?: Record<string, string>;
      };
      const text = configMap.data?.['config.conf'] ?? '';
      const desired = renderClusterConfig(cluster.kubeProxyMode, cluster.customization);
      if (!text.includes(expect)) problems.push(`${id}: the ConfigMap lacks '${expect}'`);
      if (text !== desired) problems.push(`${id}: the ConfigMap's config.conf is not the desired one`);
      const hash = configHash(text);
      const pods = (await kubeGet(
        id,
        token,
        '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-proxy',
      )) as { items: Array<{ metadata: { name: string; annotations?: Record<string, string> } }> };
      const nodeCount = cluster.nodePools.reduce((sum, pool) => sum + pool.nodes.length, 0);
      if (pods.items.length !== nodeCount) {
        problems.push(`${id}: ${pods.items.length} kube-proxy pods for ${nodeCount} nodes`);
      }
      for (const pod of pods.items) {
        const loaded = pod.metadata.annotations?.[LOADED_CONFIG_ANNOTATION];
        if (loaded !== hash) problems.push(`${id}: pod ${pod.metadata.name} loaded ${loaded}, not ${hash}`);
      }
    }
    return { type: 'verified', checked: chosen.length, problems };
  };

  serveParent(
    async (message) => {
      switch (message.type) {
        case 'populate':
          return populate(message.clusters as number, message.timeoutMs as number);
        case 'rollout':
          return rollout(message.customization as CustomizationInput, message.timeoutMs as number);
        case 'verify':
          return verify(message.sample as number, message.expect as string);
        case 'usage':
          return { type: 'usage', cpu: process.cpuUsage(), hrtimeMicros: hrtimeMicros() };
        default:
          throw new Error(`unknown request '${message.type}'`);
      }
    },
    async () => {
      await runtime.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      ids = [];
    },
  );
  process.send?.({
    type: 'ready',
    pid: process.pid,
    database: config.database.kind,
    dataDir,
    kubePublicUrl: config.kubePublicUrl,
  });
} catch (error) {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fatal(error);
}
