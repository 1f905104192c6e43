/**
 * Emulated Kubernetes clusters (DESIGN.md §2): a built-in API server per cluster, persisted in the
 * store, with a DaemonSet controller and a kube-proxy simulation. Each cluster lives in memory once
 * touched (loaded lazily from the store) and every change is written through with group commit,
 * so a restarted process finds its clusters as it left them and resumes rollouts in flight.
 *
 * Under scale-out (many `mks serve` on PostgreSQL) each cluster is owned by one process at a time
 * (ownership.ts): the others forward its Kubernetes API calls and the reconciler's control calls
 * (ensure, erase, destroy, API server flags) to the owner, so every process serves the same state.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import {
  apiServerCommand,
  apiServerPod,
  DEFAULT_ADMISSION_FLAGS,
  INSTALLER,
  KUBE_PROXY,
  KUBE_SYSTEM,
  kubeProxyConfigMap,
  kubeProxyDaemonSet,
  namespaceObject,
  nodeName,
  nodeObject,
  SYSTEM_NAMESPACES,
} from './cluster-objects.ts';
import { type ClusterHooks, ClusterState, type Watcher } from './cluster-state.ts';
import { Controllers } from './controllers.ts';
import { EmulatorStore } from './emulator.store.ts';
import { FORWARDED_HEADER, Forwarder, OwnerUnreachableError } from './forward.ts';
import { registerKubeApi } from './kube-api.routes.ts';
import { clone, type JsonObject, jsonOf, type KubeObject, rfc3339, StatusError } from './objects.ts';
import { LocalOwnership, type Ownership } from './ownership.ts';
import { R, RESOURCES, type ResourceType } from './resources.ts';

export interface EmulatorOptions {
  database: Database;
  logger: Logger;
  /** How long a new kube-proxy pod takes to become Ready (0 allowed), so rollouts are visible. */
  podStartMs: number;
  now?: () => Date;
  /**
   * The API server URL written into the kube-proxy ConfigMap's `kubeconfig.conf` (what kube-proxy
   * would dial). Defaults to the in-cluster service address.
   */
  serverUrl?: (clusterId: string) => string;
  /** Scale-out: which process serves each cluster (default: this one serves them all). */
  ownership?: Ownership;
  /** Scale-out: the installation's CA (to reach other processes) and the internal calls' token. */
  peers?: { caPem: string; internalToken: string };
}

/** The control operations other processes (API or worker) ask a cluster's owner to run. */
export const CONTROL_OPERATIONS = ['ensure', 'api-server-flags', 'erase', 'destroy'] as const;
type ControlOperation = (typeof CONTROL_OPERATIONS)[number];

/** The operations on emulated clusters no Kubernetes API call can do (the reconciler's provider). */
export interface EmulatorControl {
  ensureCluster(input: { id: string; nodeCount: number; version: string }): Promise<void>;
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void>;
  eraseCluster(clusterId: string): Promise<void>;
  destroyCluster(clusterId: string): Promise<void>;
}

/**
 * The control operations from a process without emulated clusters (`mks worker`): sent to the
 * API processes (`kubeUrl`), which run them where the cluster is owned.
 */
export class RemoteEmulatorControl implements EmulatorControl {
  readonly #url: string;
  readonly #token: string;
  readonly #forwarder: Forwarder;

  constructor(kubeUrl: string, internalToken: string, caPem: string | undefined) {
    this.#url = kubeUrl;
    this.#token = internalToken;
    this.#forwarder = new Forwarder(caPem);
  }

  ensureCluster(input: { id: string; nodeCount: number; version: string }): Promise<void> {
    return this.#call(input.id, 'ensure', { nodeCount: input.nodeCount, version: input.version });
  }
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void> {
    return this.#call(clusterId, 'api-server-flags', { flags: [...flags] });
  }
  eraseCluster(clusterId: string): Promise<void> {
    return this.#call(clusterId, 'erase', {});
  }
  destroyCluster(clusterId: string): Promise<void> {
    return this.#call(clusterId, 'destroy', {});
  }
  close(): void {
    this.#forwarder.close();
  }

  async #call(clusterId: string, operation: ControlOperation, payload: JsonObject): Promise<void> {
    await this.#forwarder.post(this.#url, controlPath(clusterId, operation), this.#token, payload);
  }
}

const controlPath = (clusterId: string, operation: ControlOperation) =>
  `/internal/emulator/${encodeURIComponent(clusterId)}/${operation}`;

const BY_NAME = new Map<string, ResourceType>(RESOURCES.map((r) => [r.name, r]));
const ADMISSION_FLAG = /^--(enable|disable)-admission-plugins(=|$)/;

export class Emulator implements EmulatorControl {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly store: EmulatorStore;
  private readonly controllers: Controllers;
  private readonly serverUrl: (clusterId: string) => string;
  private readonly clusters = new Map<string, ClusterState>();
  private readonly loading = new Map<string, Promise<ClusterState | undefined>>();
  private readonly watches = new Set<Watcher>();
  /**
   * Clusters destroyed by this process: never loaded or created again here, whatever races the
   * deletion (a load from the store before the deletion is committed, a late control call).
   * The most recent ones only; the store answers for older ones.
   */
  private readonly destroyed = new Set<string>();
  private readonly hooks: ClusterHooks;
  private readonly ownership: Ownership;
  private readonly forwarder: Forwarder | undefined;
  private readonly internalToken: string | undefined;

  constructor(options: EmulatorOptions) {
    this.logger = options.logger.child({ component: 'emulator' });
    this.now = options.now ?? (() => new Date());
    this.serverUrl = options.serverUrl ?? (() => 'https://kubernetes.default.svc:443');
    this.ownership = options.ownership ?? new LocalOwnership();
    if (this.ownership.shared && options.peers === undefined)
      throw new Error('shared emulator ownership needs peers (CA and internal token)');
    // Peers matter only when clusters are shared between processes.
    const peers = this.ownership.shared ? options.peers : undefined;
    this.forwarder = peers === undefined ? undefined : new Forwarder(peers.caPem);
    this.internalToken = peers?.internalToken;
    const ownership = this.ownership;
    this.store = new EmulatorStore(
      options.database,
      (error) => this.logger.error({ err: error }, 'Could not persist emulated clusters'),
      ownership.shared ? (trx, ids) => ownership.fence(trx, ids) : undefined,
    );
    this.controllers = new Controllers({
      logger: this.logger,
      podStartMs: options.podStartMs,
      now: this.now,
    });
    this.hooks = {
      persistObject: (cluster, resource, namespace, name, object) => {
        if (cluster.destroyed) return;
        this.store.markObject(
          cluster.meta.id,
          resource.name,
          namespace,
          name,
          object === null ? null : () => jsonOf(object),
        );
      },
      persistMeta: (cluster) => {
        if (!cluster.destroyed) this.store.markMeta(cluster.meta);
      },
      onChange: (cluster, event) => this.controllers.onChange(cluster, event),
      now: this.now,
    };
  }

  /**
   * Mounts the Kubernetes API of every emulated cluster at `/k8s/:clusterId/...`.
   * `authorize(clusterId, bearerToken)` says whether the token is valid (else 401 Status); a
   * cluster the emulator does not know answers 404 Status.
   */
  async register(
    app: FastifyInstance,
    authorize: (clusterId: string, token: string) => Promise<boolean>,
  ): Promise<void> {
    await registerKubeApi(app, {
      authorize,
      cluster: async (id) => {
        const cluster = await this.cluster(id);
        // An unknown (deleted) cluster's lease, taken to serve this call, is given back.
        if (cluster === undefined) await this.ownership.release(id);
        return cluster;
      },
      forward: (id, request, reply) => this.forward(id, request, reply),
      flush: () => this.store.flush(),
      now: this.now,
      watches: this.watches,
    });
    if (this.internalToken !== undefined) this.registerControl(app, this.internalToken);
  }

  /**
   * `POST /internal/emulator/:clusterId/:operation`: the control operations, for other mks
   * processes (token derived from the installation key). Served by the cluster's owner; any other
   * process forwards the call there.
   */
  private registerControl(app: FastifyInstance, token: string): void {
    const expected = Buffer.from(`Bearer ${token}`);
    app.post(
      '/internal/emulator/:clusterId/:operation',
      {
        config: { auth: 'none' },
        bodyLimit: 64 * 1024,
        // The token first: callers without it learn nothing, not even the body's shape.
        onRequest: async (request, reply) => {
          const given = Buffer.from(request.headers.authorization ?? '');
          if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected))
            return reply.code(401).send({ message: 'invalid internal token' });
        },
        schema: {
          params: {
            type: 'object',
            properties: { clusterId: { type: 'string' }, operation: { enum: [...CONTROL_OPERATIONS] } },
            required: ['clusterId', 'operation'],
          },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              nodeCount: { type: 'integer', minimum: 0 },
              version: { type: 'string', minLength: 1 },
              flags: { type: 'array', items: { type: 'string' } },
            },
          },
        },
      },
      async (request, reply) => {
        const { clusterId, operation } = request.params as { clusterId: string; operation: ControlOperation };
        const body = (request.body ?? {}) as JsonObject;
        if (operation === 'ensure' && (body.nodeCount === undefined || body.version === undefined))
          return reply.code(400).send({ message: 'ensure needs nodeCount and version' });
        const forwarded = await this.forward(clusterId, request, reply);
        if (forwarded !== undefined) return forwarded;
        await this.runLocal(clusterId, operation, body);
        return reply.code(200).send({});
      },
    );
  }

  /**
   * Scale-out: when another process owns the cluster, sends the call there and returns the reply;
   * undefined when this process serves it. A call that was already forwarded is never forwarded
   * again (503 while ownership is moving: clients retry).
   */
  private async forward(
    clusterId: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    if (!this.ownership.shared || this.forwarder === undefined) return undefined;
    const forwarded = request.headers[FORWARDED_HEADER] !== undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const route = await this.ownership.route(clusterId, { fresh: forwarded || attempt > 0 });
      if (route.local) return undefined;
      if (forwarded) break;
      try {
        return await this.forwarder.forward(request, reply, route.url);
      } catch (error) {
        if (!(error instanceof OwnerUnreachableError)) throw error;
        this.logger.warn(
          { clusterId, owner: route.url, err: error },
          'Owner of an emulated cluster did not answer',
        );
      }
    }
    void reply.header('retry-after', '1');
    throw new StatusError(
      503,
      'ServiceUnavailable',
      `the emulated cluster ${clusterId} is moving to another mks process; retry shortly`,
    );
  }

  /** Runs a control operation where the cluster is owned: here, or at the owner over HTTPS. */
  private async control(clusterId: string, operation: ControlOperation, payload: JsonObject): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const route = await this.ownership.route(clusterId, { fresh: attempt > 0 });
      if (route.local) return this.runLocal(clusterId, operation, payload);
      try {
        await this.forwarder!.post(
          route.url,
          controlPath(clusterId, operation),
          this.internalToken!,
          payload,
        );
        return;
      } catch (error) {
        if (!(error instanceof OwnerUnreachableError) || attempt >= 1) throw error;
      }
    }
  }

  private runLocal(clusterId: string, operation: ControlOperation, payload: JsonObject): Promise<void> {
    switch (operation) {
      case 'ensure':
        return this.ensureLocal({
          id: clusterId,
          nodeCount: Number(payload.nodeCount),
          version: String(payload.version),
        });
      case 'api-server-flags':
        return this.setApiServerFlagsLocal(clusterId, (payload.flags ?? []) as string[]);
      case 'erase':
        return this.eraseLocal(clusterId);
      case 'destroy':
        return this.destroyLocal(clusterId);
    }
  }

  /** Forgets clusters another process took over (their state is in the store). */
  private drop(clusterIds: readonly string[]): void {
    for (const id of clusterIds) {
      const cluster = this.clusters.get(id);
      if (cluster === undefined) continue;
      cluster.closeWatchers();
      this.controllers.forget(id);
      this.clusters.delete(id);
      this.logger.info({ clusterId: id }, 'Emulated cluster moved to another process');
    }
  }

  /** The cluster, from memory or loaded from the store; undefined when unknown. */
  private cluster(id: string): Promise<ClusterState | undefined> {
    if (this.destroyed.has(id)) return Promise.resolve(undefined);
    const known = this.clusters.get(id);
    if (known !== undefined) return Promise.resolve(known);
    let pending = this.loading.get(id);
    if (pending === undefined) {
      pending = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private async load(id: string): Promise<ClusterState | undefined> {
    const stored = await this.store.loadCluster(id);
    // Destroyed while this load read the store: what it read is gone.
    if (this.destroyed.has(id)) return undefined;
    const raced = this.clusters.get(id);
    if (raced !== undefined) return raced;
    if (stored === undefined) return undefined;
    const cluster = new ClusterState(stored.meta, this.hooks);
    for (const { resource, body } of stored.objects) {
      const type = BY_NAME.get(resource);
      if (type !== undefined) cluster.restore(type, JSON.parse(body) as KubeObject);
    }
    this.clusters.set(id, cluster);
    // Resume what was in flight: pods to start, rollouts to continue.
    this.controllers.enqueue(cluster);
    return cluster;
  }

  /**
   * Idempotently creates the cluster: system namespaces, `nodeCount` Ready nodes, the kube-proxy
   * ConfigMap and DaemonSet (kubeadm layout) with one running pod per node, and the
   * kube-apiserver pod. For a cluster that exists, only the node count and version follow.
   */
  ensureCluster(input: { id: string; nodeCount: number; version: string }): Promise<void> {
    return this.control(input.id, 'ensure', { nodeCount: input.nodeCount, version: input.version });
  }

  private async ensureLocal(input: { id: string; nodeCount: number; version: string }): Promise<void> {
    if (this.destroyed.has(input.id))
      throw Object.assign(new Error(`emulated cluster ${input.id} was deleted`), { statusCode: 404 });
    const existing = await this.cluster(input.id);
    if (existing === undefined) {
      const cluster = new ClusterState(
        {
          id: input.id,
          version: input.version,
          nodeCount: input.nodeCount,
          resourceVersion: 0,
          busy: false,
          createdAt: rfc3339(this.now()),
        },
        this.hooks,
      );
      this.clusters.set(input.id, cluster);
      this.hooks.persistMeta(cluster);
      this.install(cluster);
      this.logger.info({ clusterId: input.id, nodeCount: input.nodeCount }, 'Created emulated cluster');
    } else {
      // Every pass ensures its cluster: one that is as asked costs nothing (no write, no commit).
      const before = existing.meta.resourceVersion;
      const reshaped = existing.meta.version !== input.version || existing.meta.nodeCount !== input.nodeCount;
      if (reshaped) {
        existing.meta.version = input.version;
        existing.meta.nodeCount = input.nodeCount;
        this.hooks.persistMeta(existing);
      }
      this.syncNodes(existing);
      if (!reshaped && existing.meta.resourceVersion === before) return;
    }
    await this.store.flush();
  }

  private install(cluster: ClusterState): void {
    for (const name of SYSTEM_NAMESPACES) {
      if (cluster.get(R.namespaces, '', name) === undefined)
        cluster.create(R.namespaces, namespaceObject(name), { manager: 'kube-apiserver' });
    }
    this.syncNodes(cluster);
    this.installKubeSystem(cluster);
  }

  private syncNodes(cluster: ClusterState): void {
    const wanted = new Set<string>();
    for (let i = 0; i < cluster.meta.nodeCount; i++) {
      const name = nodeName(cluster.meta.id, i);
      wanted.add(name);
      if (cluster.get(R.nodes, '', name) === undefined) {
        cluster.create(R.nodes, nodeObject(cluster.meta.id, i, cluster.meta.version, this.now()), {
          manager: 'kubelet',
        });
      }
    }
    for (const node of cluster.list(R.nodes)) {
      if (!wanted.has(node.metadata.name ?? '')) cluster.delete(R.nodes, '', node.metadata.name ?? '');
    }
  }

  /** Creates kube-system's base objects and starts kube-proxy on every node at once. */
  private installKubeSystem(cluster: ClusterState): void {
    const { id, version } = cluster.meta;
    if (cluster.get(R.configmaps, KUBE_SYSTEM, KUBE_PROXY) === undefined) {
      cluster.create(R.configmaps, kubeProxyConfigMap(this.serverUrl(id)), { manager: INSTALLER });
    }
    if (cluster.get(R.daemonsets, KUBE_SYSTEM, KUBE_PROXY) === undefined) {
      cluster.create(R.daemonsets, kubeProxyDaemonSet(version), { manager: INSTALLER });
    }
    if (apiServer(cluster) === undefined) {
      cluster.create(R.pods, apiServerPod(id, version, DEFAULT_ADMISSION_FLAGS, this.now()), {
        manager: 'kubelet',
      });
    }
    this.controllers.sync(cluster);
    this.controllers.startPendingNow(cluster);
    this.controllers.sync(cluster);
  }

  /** Replaces the kube-apiserver pod's admission flags (`--enable-admission-plugins=…`, `--disable-…`). */
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void> {
    return this.control(clusterId, 'api-server-flags', { flags: [...flags] });
  }

  private async setApiServerFlagsLocal(clusterId: string, flags: readonly string[]): Promise<void> {
    const cluster = await this.mustCluster(clusterId);
    const pod = apiServer(cluster);
    if (pod === undefined) throw new Error(`emulated cluster ${clusterId} has no kube-apiserver pod`);
    const spec = clone(pod.spec) as JsonObject;
    const container = (spec.containers as JsonObject[])[0]!;
    const command = (container.command as string[]).filter((flag) => !ADMISSION_FLAG.test(flag));
    const others = command.slice(1);
    const next = apiServerCommand(flags.filter((f) => ADMISSION_FLAG.test(f)));
    // Keep flags someone else added, in place of the defaults the template carries.
    container.command = [...next, ...others.filter((flag) => !next.includes(flag))];
    const updated = cluster.update(R.pods, { ...pod, spec }, { manager: 'kubelet' });
    // A static pod whose manifest changed is restarted by the kubelet.
    const status = clone(updated.status) as JsonObject;
    for (const cs of (status.containerStatuses ?? []) as JsonObject[])
      cs.state = { running: { startedAt: rfc3339(this.now()) } };
    cluster.update(R.pods, { ...updated, status }, { subresource: 'status' });
    await this.store.flush();
  }

  /**
   * Reset: erases every object outside kube-system, kube-public and kube-node-lease (`default`
   * is kept but emptied), then re-creates kube-system's base objects as a fresh install does.
   */
  eraseCluster(clusterId: string): Promise<void> {
    return this.control(clusterId, 'erase', {});
  }

  private async eraseLocal(clusterId: string): Promise<void> {
    const cluster = await this.mustCluster(clusterId);
    const kept = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
    for (const type of RESOURCES) {
      if (type === R.nodes) continue;
      for (const object of cluster.list(type)) {
        const name = object.metadata.name ?? '';
        if (type === R.namespaces) {
          if (!SYSTEM_NAMESPACES.includes(name as (typeof SYSTEM_NAMESPACES)[number]))
            cluster.delete(type, '', name);
        } else if (type.namespaced && !kept.has(object.metadata.namespace ?? '')) {
          cluster.delete(type, object.metadata.namespace ?? '', name);
        }
      }
    }
    // kube-system's own objects go back to their installed state.
    const ds = cluster.get(R.daemonsets, KUBE_SYSTEM, KUBE_PROXY);
    for (const pod of cluster.list(R.pods, KUBE_SYSTEM)) {
      const owned = (pod.metadata.ownerReferences ?? []).some(
        (ref) => ds !== undefined && ref.uid === ds.metadata.uid,
      );
      if (owned || pod.metadata.labels?.component === 'kube-apiserver')
        cluster.delete(R.pods, KUBE_SYSTEM, pod.metadata.name ?? '');
    }
    for (const revision of cluster.list(R.controllerrevisions, KUBE_SYSTEM)) {
      if (
        (revision.metadata.ownerReferences ?? []).some(
          (ref) => ds !== undefined && ref.uid === ds.metadata.uid,
        )
      ) {
        cluster.delete(R.controllerrevisions, KUBE_SYSTEM, revision.metadata.name ?? '');
      }
    }
    if (ds !== undefined) cluster.delete(R.daemonsets, KUBE_SYSTEM, KUBE_PROXY);
    if (cluster.get(R.configmaps, KUBE_SYSTEM, KUBE_PROXY) !== undefined)
      cluster.delete(R.configmaps, KUBE_SYSTEM, KUBE_PROXY);
    this.controllers.forget(clusterId);
    this.install(cluster);
    this.logger.info({ clusterId }, 'Erased emulated cluster');
    await this.store.flush();
  }

  /** Removes the cluster entirely; its API answers 404 afterwards. */
  destroyCluster(clusterId: string): Promise<void> {
    return this.control(clusterId, 'destroy', {});
  }

  private async destroyLocal(clusterId: string): Promise<void> {
    const cluster = await this.cluster(clusterId);
    this.destroyed.add(clusterId);
    if (this.destroyed.size > 100_000) this.destroyed.delete(this.destroyed.values().next().value!);
    if (cluster !== undefined) {
      cluster.destroyed = true;
      cluster.closeWatchers();
      this.controllers.forget(clusterId);
      this.clusters.delete(clusterId);
    }
    this.store.markDeleted(clusterId);
    await this.store.flush();
    await this.ownership.release(clusterId);
  }

  /** Starts the controllers and resumes clusters that had work in flight when the process stopped. */
  start(): void {
    this.controllers.start();
    if (this.ownership.shared) {
      // Clusters with work in flight are adopted once their owner's lease has expired.
      this.ownership.start({
        lost: (ids) => this.drop(ids),
        adopt: (ids) => {
          for (const id of ids) {
            this.cluster(id).catch((error: unknown) =>
              this.logger.error({ err: error, clusterId: id }, 'Could not adopt an emulated cluster'),
            );
          }
        },
      });
      return;
    }
    this.store
      .busyClusterIds()
      .then((ids) => Promise.all(ids.map((id) => this.cluster(id))))
      .catch((error: unknown) => this.logger.error({ err: error }, 'Could not resume emulated clusters'));
  }

  /** Stops the controllers, ends watch streams and waits for pending writes. */
  async stop(): Promise<void> {
    this.controllers.stop();
    for (const watch of this.watches) watch.close();
    await this.store.drain();
    await this.ownership.stop();
    this.forwarder?.close();
  }

  private async mustCluster(clusterId: string): Promise<ClusterState> {
    const cluster = await this.cluster(clusterId);
    // 404 when a control call from another process names a cluster the emulator does not know.
    if (cluster === undefined)
      throw Object.assign(new Error(`unknown emulated cluster ${clusterId}`), { statusCode: 404 });
    return cluster;
  }
}

function apiServer(cluster: ClusterState): KubeObject | undefined {
  return cluster.list(R.pods, KUBE_SYSTEM).find((p) => p.metadata.labels?.component === 'kube-apiserver');
}
