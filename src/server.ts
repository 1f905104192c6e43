/**
 * The running service: store and services, the HTTP API with the emulated clusters' Kubernetes
 * API, and (unless disabled) the reconciler worker, started and stopped in the right order.
 * `mks serve` and the tests use the same composition.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { type BootstrapResult, bootstrap } from './bootstrap.ts';
import { kubernetesApiUrl } from './clusters/clusters.model.ts';
import type { Config } from './config.ts';
import { Emulator, type EmulatorControl, RemoteEmulatorControl } from './emulator/emulator.ts';
import { kubeProtocolOptions, registerKubeApiLimits } from './emulator/limits.ts';
import { LeaseOwnership, LocalOwnership } from './emulator/ownership.ts';
import { buildApp } from './http/app.ts';
import { applyListenerLimits } from './http/limits.ts';
import { KubeClients } from './reconcile/kube/kube-client.ts';
import { Worker } from './reconcile/loop.ts';
import { PassThread } from './reconcile/pass-thread.ts';
import { type ClusterProvider, servedConnection } from './reconcile/provider.ts';
import { reconcileStore } from './reconcile/reconcile-store.ts';
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
  readonly worker: Worker | undefined;
  readonly first: BootstrapResult;
  close(): Promise<void>;
}

/** The reconciler, driving emulated clusters through `control` (local, or another process's). */
function startWorker(
  config: Config,
  services: Services,
  control: EmulatorControl,
  caPem: string | undefined,
  kube: KubeClients,
  logger: Logger,
): Worker {
  const provider: ClusterProvider = {
    ensureCluster: (cluster) => control.ensureCluster(cluster),
    setApiServerFlags: (clusterId, flags) => control.setApiServerFlags(clusterId, flags),
    eraseCluster: (clusterId) => control.eraseCluster(clusterId),
    destroyCluster: (clusterId) => control.destroyCluster(clusterId),
    connection: servedConnection(config.kubePublicUrl, services.clusterToken, caPem),
  };
  const passes = config.reconcile.thread
    ? new PassThread(
        {
          kubePublicUrl: config.kubePublicUrl,
          caPem,
          kubeTokenKey: services.kubeTokenKey,
          progressMs: config.reconcile.progressMs,
          logLevel: logger.level,
        },
        logger,
      )
    : undefined;
  const worker = new Worker(
    services.database,
    {
      store: reconcileStore(services.clusterStore),
      provider,
      kube,
      progressMs: config.reconcile.progressMs,
    },
    config.reconcile,
    logger,
    passes,
  );
  worker.start();
  return worker;
}

export interface WorkerRuntime {
  readonly services: Services;
  readonly worker: Worker;
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
  const worker = startWorker(config, services, control, ca?.caPem, kube, logger);
  return {
    services,
    worker,
    async close() {
      await worker.stop();
      kube.close();
      control.close();
      await services.close();
    },
  };
}

export async function startRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const services = await openServices(config, logger, { migrate: config.migrate });
  const first = await bootstrap(services);
  // Scale-out: every process signs with the installation's CA, kept in the database.
  if (!services.database.capabilities.exclusiveWriter)
    await syncSharedCa(services.database, services.secretBox, config.dataDir, { publish: true });
  const tls = loadOrCreateLocalTls(
    config.dataDir,
    [
      '127.0.0.1',
      'localhost',
      '::1',
      new URL(config.kubePublicUrl).hostname.replace(/^\[|\]$/g, ''),
      new URL(config.kubeInternalUrl).hostname.replace(/^\[|\]$/g, ''),
      config.kubeListen.host,
      // With `--tls` the same CA and certificate serve the API too.
      ...(config.tls?.kind === 'local-ca'
        ? [new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, ''), config.listen.host]
        : []),
    ].filter((host) => host !== '0.0.0.0' && host !== '::'),
  );
  // One process serves every emulated cluster on the embedded default; under scale-out each
  // cluster is leased to one process and the others forward to it.
  const ownership = services.database.capabilities.exclusiveWriter
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
    serverUrl: (clusterId) => kubernetesApiUrl(config.kubePublicUrl, clusterId),
    ownership,
    peers: { caPem: tls.caPem, internalToken: services.internalToken },
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

  // The token a cluster's kubeconfig carries, computed once per (cluster, epoch): every call of
  // the clusters' Kubernetes API is checked against it.
  const tokens = new Map<string, Buffer>();
  const expectedToken = (clusterId: string, epoch: number): Buffer => {
    const key = `${clusterId}:${epoch}`;
    let token = tokens.get(key);
    if (token === undefined) {
      if (tokens.size >= 100_000) tokens.clear();
      token = Buffer.from(services.clusterToken(clusterId, epoch));
      tokens.set(key, token);
    }
    return token;
  };
  const authorize = async (clusterId: string, token: string): Promise<boolean> => {
    const cluster = await services.clusterStore.get(clusterId);
    // From the moment its deletion is accepted, a cluster's token opens nothing.
    if (cluster === undefined || cluster.status === 'DELETING' || cluster.deletedAt !== null) return false;
    const expected = expectedToken(cluster.id, cluster.tokenEpoch);
    const given = Buffer.from(token);
    return expected.length === given.length && crypto.timingSafeEqual(expected, given);
  };
  const app = await buildApp({
    ...services,
    logger,
    kubeCaPem: tls.caPem,
    ...(apiTls === undefined ? {} : { https: apiTls }),
  });
  // The Kubernetes API is a separate HTTPS listener: kubectl sends bearer tokens only over TLS.
  const kubeLogger = logger.child({ component: 'kube-api' });
  const kubeApp = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem },
    loggerInstance: kubeLogger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    ...kubeProtocolOptions((err, status) =>
      kubeLogger.info({ err, status }, 'Request refused by the HTTP parser'),
    ),
  });
  registerKubeApiLimits(kubeApp, config.kubeApi);
  applyListenerLimits(kubeApp.server, config.listeners);
  await emulator.register(kubeApp, authorize);
  emulator.start();
  await app.listen({ host: config.listen.host, port: config.listen.port });
  await kubeApp.listen({ host: config.kubeListen.host, port: config.kubeListen.port });

  const kube = new KubeClients();
  const worker = config.worker ? startWorker(config, services, emulator, tls.caPem, kube, logger) : undefined;

  return {
    app,
    kubeApp,
    kubeCaFile: tls.caFile,
    apiCaFile: config.tls?.kind === 'local-ca' ? tls.caFile : undefined,
    services,
    emulator,
    worker,
    first,
    async close() {
      await worker?.stop();
      await app.close();
      await kubeApp.close();
      await emulator.stop();
      kube.close();
      await services.close();
    },
  };
}
