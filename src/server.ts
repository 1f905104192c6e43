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
import { Emulator } from './emulator/emulator.ts';
import { buildApp } from './http/app.ts';
import { KubeClients } from './reconcile/kube/kube-client.ts';
import { Worker } from './reconcile/loop.ts';
import type { ClusterProvider } from './reconcile/provider.ts';
import { openServices, type Services } from './services.ts';
import { loadOrCreateLocalTls } from './tls/local-ca.ts';

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

export async function startRuntime(config: Config, logger: Logger): Promise<Runtime> {
  const services = await openServices(config, logger);
  const first = await bootstrap(services);
  const emulator = new Emulator({
    database: services.database,
    logger,
    podStartMs: config.podStartMs,
    serverUrl: (clusterId) => kubernetesApiUrl(config.kubePublicUrl, clusterId),
  });
  const tls = loadOrCreateLocalTls(
    config.dataDir,
    [
      '127.0.0.1',
      'localhost',
      '::1',
      new URL(config.kubePublicUrl).hostname.replace(/^\[|\]$/g, ''),
      config.kubeListen.host,
      // With `--tls` the same CA and certificate serve the API too.
      ...(config.tls?.kind === 'local-ca'
        ? [new URL(config.publicUrl).hostname.replace(/^\[|\]$/g, ''), config.listen.host]
        : []),
    ].filter((host) => host !== '0.0.0.0' && host !== '::'),
  );
  const apiTls =
    config.tls === undefined
      ? undefined
      : config.tls.kind === 'local-ca'
        ? { cert: tls.certPem, key: tls.keyPem }
        : {
            cert: fs.readFileSync(config.tls.certFile, 'utf8'),
            key: fs.readFileSync(config.tls.keyFile, 'utf8'),
          };

  const authorize = async (clusterId: string, token: string): Promise<boolean> => {
    const cluster = await services.clusterStore.get(clusterId);
    // A deleted cluster's own token still authenticates, so its API answers 404 (gone), not 401.
    if (cluster === undefined) return false;
    const expected = Buffer.from(services.clusterToken(cluster.id, cluster.tokenEpoch));
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
  const kubeApp = Fastify({
    https: { cert: tls.certPem, key: tls.keyPem },
    loggerInstance: logger.child({ component: 'kube-api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  await emulator.register(kubeApp, authorize);
  emulator.start();
  await app.listen({ host: config.listen.host, port: config.listen.port });
  await kubeApp.listen({ host: config.kubeListen.host, port: config.kubeListen.port });

  const provider: ClusterProvider = {
    ensureCluster: (cluster) => emulator.ensureCluster(cluster),
    setApiServerFlags: (clusterId, flags) => emulator.setApiServerFlags(clusterId, flags),
    eraseCluster: (clusterId) => emulator.eraseCluster(clusterId),
    destroyCluster: (clusterId) => emulator.destroyCluster(clusterId),
    connection: (cluster) => ({
      server: kubernetesApiUrl(config.kubePublicUrl, cluster.id),
      token: services.clusterToken(cluster.id, cluster.tokenEpoch),
      caPem: tls.caPem,
    }),
  };
  const kube = new KubeClients();
  const worker = config.worker
    ? new Worker(
        services.database,
        { store: services.clusterStore, provider, kube, progressMs: config.reconcile.progressMs },
        config.reconcile,
        logger,
      )
    : undefined;
  worker?.start();

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
