/**
 * The running service: store and services, the HTTP API with the emulated clusters' Kubernetes
 * API, and (unless disabled) the reconcile loop, started and stopped in the right order.
 * `mks serve` and the tests use the same composition.
 */
import fs from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { type BootstrapResult, bootstrap } from './bootstrap.ts';
import {
  clusterAccessCheck,
  clusterIdOfServerName,
  clusterIdOfToken,
  KUBE_SERVER_NAMES,
} from './clusters/cluster-tokens.ts';
import { kubernetesApiUrl } from './clusters/clusters.model.ts';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { mountedClusterId, routeToCluster } from './emulator/apiserver/kube-api.routes.ts';
import { kubeProtocolOptions, registerKubeApiLimits } from './emulator/apiserver/limits.ts';
import { Emulator } from './emulator/emulator.ts';
import { RemoteEmulatorControl } from './emulator/scale-out/control.ts';
import { LeaseOwnership } from './emulator/scale-out/ownership.postgres.ts';
import { LocalOwnership, type Ownership } from './emulator/scale-out/ownership.ts';
import { buildApp } from './http/app.ts';
import { type ReadinessCheck, registerHealthRoutes } from './http/health.routes.ts';
import { lazyChildLogger } from './http/lazy-logger.ts';
import { applyListenerLimits } from './http/limits.ts';
import { Metrics } from './http/metrics.ts';
import { compactMemoryWhenQuiet } from './memory/compaction.ts';
import { KubeClients, MAX_CLIENTS } from './reconcile/kube/kube-client.ts';
import { directLocalKube, dispatchInto, type LocalKube } from './reconcile/kube/local-kube.ts';
import { kubeProxyObserver } from './reconcile/kube-proxy-observer.ts';
import { ReconcileLoop } from './reconcile/loop.ts';
import { PassThread } from './reconcile/pass-thread.ts';
import { type ClusterProvider, servedConnection } from './reconcile/provider.ts';
import { passSettings } from './reconcile/reconcile-cluster.ts';
import { type RolloutEnd, reconcileStore } from './reconcile/reconcile-store.ts';
import { openServices, type Services } from './services.ts';
import { loadOrCreateLocalTls, readLocalCa, syncSharedCa } from './tls/local-ca.ts';

export interface Runtime {
  readonly app: FastifyInstance;
  /** The emulated clusters' Kubernetes API (HTTPS). */
  readonly kubeApp: FastifyInstance;
  /** The CA file to trust for the Kubernetes API. */
  readonly kubeCaFile: string;
  /** The CA file to trust for the API when it serves HTTPS with the local CA (`--tls`). */
  readonly apiCaFile: string | undefined;
  readonly services: Services;
  readonly emulator: Emulator;
  /** The reconciler, unless `--no-worker` (another process, `mks worker`, runs it). */
  readonly reconciler: ReconcileLoop | undefined;
  readonly first: BootstrapResult;
  close(): Promise<void>;
}

/** The reconciler, driving emulated clusters through `provider` (local, or another process's). */
function startReconciler(
  config: Config,
  services: Services,
  provider: ClusterProvider,
  caPem: string | undefined,
  kube: KubeClients,
  logger: Logger,
  rolloutEnd?: RolloutEnd,
  localKube?: LocalKube,
): ReconcileLoop {
  // One process serving every cluster (no scale-out): a settled cluster's resync never loads it,
  // so a pass that makes one READY checks it while it is loaded (reconcile-cluster.ts).
  const settings = { ...passSettings(config.reconcile), recheckReady: !services.database.scaleOut };
  const passes = config.reconcile.thread
    ? new PassThread(
        {
          kubePublicUrl: config.kubePublicUrl,
          caPem,
          kubeTokenKey: services.kubeTokenKey,
          settings,
          logLevel: logger.level,
        },
        logger,
        localKube,
      )
    : undefined;
  const reconciler = new ReconcileLoop(
    services.database,
    services.workSignal,
    {
      store: reconcileStore(services.clusterStore, rolloutEnd),
      provider,
      connection: servedConnection(config.kubePublicUrl, services.clusterToken, caPem),
      kube,
      ...settings,
    },
    config.reconcile,
    logger,
    passes,
  );
  reconciler.start();
  return reconciler;
}

/** `/readyz`: the database answers (within 2 s), and the reconciler this process runs, if any, runs. */
function readinessChecks(database: Database, reconcilerState: () => string | undefined): ReadinessCheck {
  return async () => {
    let databaseState = 'ok';
    try {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2_000);
      });
      await Promise.race([sql`select 1`.execute(database.db), timeout]).finally(() => clearTimeout(timer));
    } catch (error) {
      databaseState = `unreachable: ${(error as Error).message}`;
    }
    const reconcilerNow = reconcilerState();
    return { database: databaseState, ...(reconcilerNow === undefined ? {} : { reconciler: reconcilerNow }) };
  };
}

export interface WorkerRuntime {
  readonly services: Services;
  readonly reconciler: ReconcileLoop;
  close(): Promise<void>;
}

/**
 * `mks worker`: the reconciler alone (scale-out). It reaches the clusters' Kubernetes API, and the
 * emulated clusters' control operations, through the API processes at `--kube-public-url`,
 * trusting the CA in the shared data directory (or the system's, for a certificate of its own).
 */
export async function startWorkerRuntime(config: Config, logger: Logger): Promise<WorkerRuntime> {
  const services = await openServices(config, logger, { migrate: config.migrate });
  // The installation's CA, from the database (API processes publish it), to verify their HTTPS.
  await syncSharedCa(services.database, services.secretBox, config.dataDir, { publish: false });
  const ca = readLocalCa(config.dataDir);
  const control = new RemoteEmulatorControl(config.kubePublicUrl, services.internalToken, ca?.caPem);
  const kube = new KubeClients();
  const reconciler = startReconciler(config, services, control, ca?.caPem, kube, logger);
  const memory = compactMemoryWhenQuiet({
    workSignal: services.workSignal,
    logger,
    reconciler,
    growingPercent: config.heapGrowingPercent,
  });
  return {
    services,
    reconciler,
    async close() {
      memory.close();
      await reconciler.stop();
      kube.close();
      control.close();
      await services.close();
    },
  };
}

/**
 * Scale-out: whether this process serves the cluster a request's path names (`/k8s/<id>/…`, as
 * `kubernetesApiUrl` writes it); the others' calls go over HTTPS to the listener, which forwards.
 */
function servedHere(ownership: Ownership): (path: string) => Promise<boolean> {
  return async (path) => {
    const clusterId = mountedClusterId(path);
    return clusterId !== undefined && (await ownership.route(decodeURIComponent(clusterId))).local;
  };
}

/** The names the local certificate is issued for: every address a client may reach mks at. */
function tlsHosts(config: Config): string[] {
  const hostOf = (url: string) => new URL(url).hostname.replace(/^\[|\]$/g, '');
  return [
    '127.0.0.1',
    'localhost',
    '::1',
    hostOf(config.kubePublicUrl),
    hostOf(config.kubeInternalUrl),
    config.kubeListen.host,
    // Every cluster's Kubernetes API, reached by its server name (the kubeconfig's tls-server-name).
    KUBE_SERVER_NAMES,
    // With `--tls` the same CA and certificate serve the API too.
    ...(config.tls?.kind === 'local-ca' ? [hostOf(config.publicUrl), config.listen.host] : []),
  ].filter((host) => host !== '0.0.0.0' && host !== '::');
}

export async function startRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const services = await openServices(config, logger, { migrate: config.migrate });
  const first = await bootstrap(services);
  // Scale-out: every process signs with the installation's CA, kept in the database.
  if (services.database.scaleOut)
    await syncSharedCa(services.database, services.secretBox, config.dataDir, { publish: true });
  const tls = loadOrCreateLocalTls(config.dataDir, tlsHosts(config));
  // One process serves every emulated cluster on the embedded default; under scale-out each
  // cluster is leased to one process and the others forward to it.
  const ownership = !services.database.scaleOut
    ? new LocalOwnership()
    : new LeaseOwnership(services.database, {
        url: config.kubeInternalUrl,
        leaseMs: config.reconcile.leaseMs,
        onError: (error, what) =>
          logger.warn({ err: error, what }, 'Emulated cluster leases: database call failed'),
      });
  const emulator = new Emulator({
    database: services.database,
    logger,
    podStartMs: config.podStartMs,
    caPem: tls.caPem,
    serverUrl: (clusterId) => kubernetesApiUrl(config.kubePublicUrl, clusterId),
    ownership,
    peers: { caPem: tls.caPem, internalToken: services.internalToken },
    residency: config.emulator,
  });
  const apiTls =
    config.tls === undefined
      ? undefined
      : config.tls.kind === 'local-ca'
        ? { cert: tls.certPem, key: tls.keyPem }
        : {
            cert: fs.readFileSync(config.tls.certFile, 'utf8'),
            key: fs.readFileSync(config.tls.keyFile, 'utf8'),
          };

  const metrics = new Metrics(services.database);
  metrics.observeEmulator(() => emulator.residency());
  // Assigned once the API listens; until then /readyz says the reconciler is not running yet.
  let reconciler: ReconcileLoop | undefined;
  const readiness = readinessChecks(services.database, () =>
    config.worker ? (reconciler?.running === true ? 'ok' : 'not running') : undefined,
  );
  // The Kubernetes API is a separate HTTPS listener: kubectl sends bearer tokens only over TLS.
  // It serves each cluster at its root under the cluster's TLS server name (and at /k8s/<id>).
  const kubeLogger = logger.child({ component: 'kube-api' });
  const kubeApp = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem },
    rewriteUrl: routeToCluster({ byServerName: clusterIdOfServerName, byToken: clusterIdOfToken }),
    loggerInstance: kubeLogger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // A request's child logger is made only when it logs: every call of the reconciler comes here.
    childLoggerFactory: lazyChildLogger,
    ...kubeProtocolOptions((err, status) =>
      kubeLogger.info({ err, status }, 'Request refused by the HTTP parser'),
    ),
  });
  // The same API in memory, for the reconciler and the rollout view of this process: the clusters
  // it serves (under scale-out, those it owns) without TLS or sockets (local-kube.ts).
  const localKube: LocalKube | undefined = config.reconcile.https
    ? undefined
    : {
        origin: new URL(config.kubePublicUrl).origin,
        send: dispatchInto(kubeApp, ownership.shared ? servedHere(ownership) : undefined),
      };
  // Kubernetes clients of the clusters: the reconciler's, and the rollout view's.
  const kube = new KubeClients(MAX_CLIENTS, localKube && directLocalKube(localKube.origin, localKube.send));
  const app = await buildApp({
    readiness,
    metrics,
    config,
    logger,
    authenticator: services.authenticator,
    authStore: services.authStore,
    projects: services.projects,
    clusters: services.clusters,
    clusterToken: services.clusterToken,
    kubeProxyObserver: kubeProxyObserver(
      kube,
      servedConnection(config.kubePublicUrl, services.clusterToken, tls.caPem),
    ),
    kubeCaPem: tls.caPem,
    storedBytes: (clusterId) => emulator.storedBytes(clusterId),
    ...(apiTls === undefined ? {} : { https: apiTls }),
  });
  registerHealthRoutes(kubeApp, readiness);
  registerKubeApiLimits(kubeApp, config.kubeApi);
  applyListenerLimits(kubeApp.server, config.listeners);
  await emulator.register(kubeApp, clusterAccessCheck(services.clusterToken, services.clusterStore));
  emulator.start();
  /** Closes the listeners, the emulator, the clients and the store: what `close` ends with. */
  const closeServing = async () => {
    await app.close();
    await kubeApp.close();
    await emulator.stop();
    kube.close();
    await services.close();
  };
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
    await kubeApp.listen({ host: config.kubeListen.host, port: config.kubeListen.port });
  } catch (error) {
    // A port already taken (EADDRINUSE): nothing of this runtime stays open, so the process can
    // exit, or start another runtime on other ports (the tests' runtimes do).
    await closeServing();
    throw error;
  }

  reconciler = config.worker
    ? startReconciler(config, services, emulator, tls.caPem, kube, logger, metrics.observeRollout, localKube)
    : undefined;
  reconciler?.onPass(metrics.observePass);
  const memory = compactMemoryWhenQuiet({
    workSignal: services.workSignal,
    logger,
    reconciler,
    emulator,
    answered: metrics.answered,
    registry: metrics.registry,
    growingPercent: config.heapGrowingPercent,
  });

  return {
    app,
    kubeApp,
    kubeCaFile: tls.caFile,
    apiCaFile: config.tls?.kind === 'local-ca' ? tls.caFile : undefined,
    services,
    emulator,
    reconciler,
    first,
    async close() {
      memory.close();
      await reconciler?.stop();
      await closeServing();
    },
  };
}
