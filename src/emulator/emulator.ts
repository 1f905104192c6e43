/**
 * Emulated Kubernetes clusters (DESIGN.md §2): a built-in API server per cluster (apiserver/),
 * persisted in the store (store/), with a DaemonSet controller, a kubelet and a kube-proxy
 * simulation (cluster/). A cluster lives in memory while it is used (loaded lazily from the store)
 * and every change is written through with group commit, so a restarted process finds its
 * clusters as it left them and resumes rollouts in flight. An idle cluster (no call for
 * `residency.idleMs`, no open watch, no controller work, every change committed) leaves memory
 * and is loaded again by the next call; past `residency.maxLoaded` clusters, the least recently
 * used idle ones leave first (docs/emulator.md, "Idle clusters leave memory").
 *
 * Under scale-out (many `mks serve` on PostgreSQL) each cluster is owned by one process at a time
 * (scale-out/): the others forward its Kubernetes API calls and the reconciler's control calls to
 * the owner, so every process serves the same state.
 *
 * `Emulator` itself is the registry of the clusters this process serves: lazy load, eviction,
 * start, stop.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { BoundedMap } from '../bounded-map.ts';
import type { Database } from '../db/database.ts';
import { type KubeApiDeps, registerKubeApi } from './apiserver/kube-api.routes.ts';
import {
  type ClusterMeta,
  type Digest,
  ObjectStore,
  type ObjectStoreHooks,
  StoredText,
  type Watcher,
} from './apiserver/object-store.ts';
import { jsonOf, type KubeObject, releaseJson } from './apiserver/objects.ts';
import { RESOURCE, RESOURCES, type ResourceType } from './apiserver/resources.ts';
import { Controllers } from './cluster/controllers.ts';
import { EVENT_DIGEST, pruneEvents } from './cluster/events.ts';
import { ClusterLifecycle } from './cluster/lifecycle.ts';
import { ClusterRouter } from './scale-out/cluster-router.ts';
import {
  ControlCalls,
  type EmulatorControl,
  type EnsureClusterInput,
  invokeControl,
  registerControlRoute,
} from './scale-out/control.ts';
import { LocalOwnership, type Ownership } from './scale-out/ownership.ts';
import {
  CONTAINER_LOG,
  DEFERRED_RESOURCE,
  type EmulatorStore,
  type ObjectRow,
  openEmulatorStore,
  type RowSource,
  type StoredObject,
} from './store/emulator.store.ts';
import { bodyText } from './store/stored-body.ts';

export interface EmulatorOptions {
  database: Database;
  logger: Logger;
  /** How long a new kube-proxy pod takes to become Ready (0 allowed), so rollouts are visible. */
  podStartMs: number;
  /** The clusters' CA, as a real cluster publishes it (`kube-root-ca.crt`, `client-ca-file`). */
  caPem: string;
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
  /** Which clusters stay in memory (config.emulator); default: idle 5 s, 256 loaded. */
  residency?: Residency;
}

export interface Residency {
  /** A cluster idle this long leaves memory. */
  readonly idleMs: number;
  /** Clusters in memory at most, as far as idle ones can leave (busy or watched ones stay). */
  readonly maxLoaded: number;
}

/** What `residency()` reports (the `/metrics` gauges). */
export interface ResidencyStats {
  /** Clusters in memory now. */
  readonly loaded: number;
  /** Loads from the store since the start. */
  readonly loads: number;
  /** Clusters that left memory since the start. */
  readonly evictions: number;
  /** Loads of the Events a cluster's load left in the store, for a reader of them, since the start. */
  readonly eventLoads: number;
}

/** What is remembered of a cluster out of memory: see `Emulator.#idle`. */
interface Left {
  readonly resourceVersion: number;
  /** Its namespaces had what every namespace gets (`Controllers.namespacesSynced`). */
  readonly namespacesSynced: boolean;
}

/** A cluster in memory, and when it was last used (performance.now()). */
interface Loaded {
  readonly cluster: ObjectStore;
  usedAt: number;
}

/**
 * The least time a cluster must be unused before the bound on loaded clusters evicts it: a call
 * holding a cluster it just got is never left writing to a copy that is no longer served.
 */
const MAX_EVICTION_GRACE_MS = 1_000;

/** Out-of-memory clusters whose resourceVersion is remembered, at most (then it starts over). */
const IDLE_MAX = 100_000;

const BY_STORAGE = new Map<string, ResourceType>(RESOURCES.map((r) => [r.storage, r]));

/**
 * What the lookups of a kind's secondary indexes read of its objects, by storage name, stored
 * beside the body: Events, most of what a used cluster stores (`ObjectStore.restoreText`,
 * docs/performance.md, "Seventh round: Events left as text"). A load keeps every object as its
 * stored text until read; those of other kinds are filed by their row's namespace and name alone
 * (`ObjectStore.restoreRow`, "Eighth round: every kind left as text").
 */
const DIGESTS = new Map<string, Digest>([[RESOURCE.events.storage, EVENT_DIGEST]]);

/**
 * Events stay in the store: a cluster's load reads every object but its Events, whose names it
 * keeps (`StoredCluster.deferred`, `ObjectStore.defer`), and they are read when something reads
 * Events (`loadDeferred`): a call on the `events` resource, a namespace's deletion, the erase of a
 * reset, or a namespace over the Events it may keep. A used cluster stores many Events (≈ 60 after
 * four rollouts, more than half of its rows and bytes), and a change reads none of them: what
 * the load made of them (rows read, digests parsed, entries filed, all kept while the cluster
 * stays in memory) cost ≈ a tenth of a change's CPU (docs/performance.md, "Twenty-sixth round").
 * The Events the cluster records meanwhile are counted again only among those in memory
 * (cluster/events.ts `recordEvent`).
 */
const DEFERRED_TYPE: ResourceType = BY_STORAGE.get(DEFERRED_RESOURCE)!;

/** Restores a stored object into the cluster: as its text, filed by its digest where it has one. */
function restoreStored(cluster: ObjectStore, type: ResourceType, object: StoredObject): void {
  // Every object stays text until read; those of the kinds with a digest are filed by it in their
  // indexes (rows written before it have none: parsed when an index is built).
  const reader = DIGESTS.get(type.storage);
  if (reader !== undefined && object.digest !== null)
    cluster.restoreText(type, object.body, reader.read(object.digest));
  else cluster.restoreRow(type, object.namespace, object.name, object.body);
}

/**
 * An object's row, made when its commit runs. A class, not a closure made at each write: V8 keeps
 * a function's optimized code only while a function object uses it, and closures that live a
 * commit's interval lost theirs at every full collection, to be compiled again
 * (docs/performance.md, "Fourteenth round").
 */
class ObjectRowSource implements RowSource {
  readonly #object: KubeObject;
  readonly #digest: Digest | undefined;

  constructor(object: KubeObject, digest: Digest | undefined) {
    this.#object = object;
    this.#digest = digest;
  }

  row(): ObjectRow {
    const object = this.#object;
    const digest = this.#digest;
    // Kinds kept as text until read are seldom read again: their text is not kept.
    return {
      body: digest === undefined ? jsonOf(object) : releaseJson(object),
      digest: digest?.of(object) ?? null,
    };
  }
}

/** The row of an object created as its text (`ObjectStore.createText`): composed already. */
class TextRowSource implements RowSource {
  readonly #stored: StoredText;

  constructor(stored: StoredText) {
    this.#stored = stored;
  }

  row(): ObjectRow {
    return { body: this.#stored.text, digest: this.#stored.digestText };
  }
}

/** A container log's row (`ObjectRowSource`'s reason). */
class LogRowSource implements RowSource {
  readonly #podUid: string;
  readonly #log: string;

  constructor(podUid: string, log: string) {
    this.#podUid = podUid;
    this.#log = log;
  }

  row(): ObjectRow {
    return { body: JSON.stringify({ podUid: this.#podUid, log: this.#log }), digest: null };
  }
}

export class Emulator implements EmulatorControl {
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #store: EmulatorStore;
  readonly #controllers: Controllers;
  /** The clusters in memory, least recently used first. */
  readonly #clusters = new Map<string, Loaded>();
  readonly #residency: Residency;
  #sweeper: NodeJS.Timeout | undefined;
  #loads = 0;
  #eventLoads = 0;
  /** The reads of what loads left in the store, in flight, by cluster (`loadDeferred`). */
  readonly #deferredLoads = new Map<ObjectStore, Promise<void>>();
  #evictions = 0;
  readonly #loading = new Map<string, Promise<ObjectStore | undefined>>();
  /**
   * The resourceVersion each cluster left memory at, while it is out, and whether its namespaces
   * were synced then. A load finding the same resourceVersion stored finds the cluster as it left
   * (every write bumps it). The ensure answers from it without a load only when one process
   * serves every cluster: one shared between processes may change in another one meanwhile,
   * which only the store tells.
   */
  readonly #idle = new BoundedMap<string, Left>(IDLE_MAX);
  readonly #watches = new Set<Watcher>();
  /**
   * Clusters destroyed by this process: never loaded or created again here, whatever races the
   * deletion (a load from the store before the deletion is committed, a late control call).
   * The most recent ones only; the store answers for older ones.
   */
  readonly #destroyed = new Set<string>();
  readonly #hooks: ObjectStoreHooks;
  readonly #ownership: Ownership;
  readonly #router: ClusterRouter;
  readonly #lifecycle: ClusterLifecycle;
  /** The control operations, run where each cluster is owned. */
  readonly #control: ControlCalls;

  constructor(options: EmulatorOptions) {
    this.#logger = options.logger.child({ component: 'emulator' });
    this.#now = options.now ?? (() => new Date());
    this.#ownership = options.ownership ?? new LocalOwnership();
    this.#residency = options.residency ?? { idleMs: 5_000, maxLoaded: 256 };
    this.#router = new ClusterRouter(this.#ownership, options.peers, this.#logger);
    const ownership = this.#ownership;
    this.#store = openEmulatorStore(
      options.database,
      (error) => this.#logger.error({ err: error }, 'Could not persist emulated clusters'),
      ownership.shared ? (trx, ids) => ownership.fence(trx, ids) : undefined,
    );
    this.#controllers = new Controllers({
      logger: this.#logger,
      podStartMs: options.podStartMs,
      now: this.#now,
      caPem: options.caPem,
    });
    this.#hooks = {
      persistObject: (cluster, resource, namespace, name, object) => {
        if (cluster.destroyed) return;
        this.#store.markObject(
          cluster.meta.id,
          resource.storage,
          namespace,
          name,
          object === null
            ? null
            : object instanceof StoredText
              ? new TextRowSource(object)
              : new ObjectRowSource(object, DIGESTS.get(resource.storage)),
        );
      },
      persistMeta: (cluster) => {
        if (!cluster.destroyed) this.#store.markMeta(cluster.meta);
      },
      persistLog: (cluster, podUid, log) => {
        if (cluster.destroyed) return;
        this.#store.markObject(
          cluster.meta.id,
          CONTAINER_LOG,
          '',
          podUid,
          log === null ? null : new LogRowSource(podUid, log),
        );
      },
      loadDeferred: (cluster) => {
        this.loadDeferred(cluster).catch((error: unknown) =>
          this.#logger.error({ err: error, clusterId: cluster.meta.id }, 'Could not load stored Events'),
        );
      },
      onChange: (cluster, event) => this.#controllers.onChange(cluster, event),
      now: this.#now,
    };
    this.#lifecycle = new ClusterLifecycle({
      logger: this.#logger,
      now: this.#now,
      serverUrl: options.serverUrl ?? (() => 'https://kubernetes.default.svc:443'),
      caPem: options.caPem,
      controllers: this.#controllers,
      cluster: (id) => this.#cluster(id),
      loadDeferred: (cluster) => this.loadDeferred(cluster),
      idleAt: (id) =>
        this.#ownership.shared || this.#destroyed.has(id) ? undefined : this.#idle.get(id)?.resourceVersion,
      create: (meta) => this.#create(meta),
      destroy: (id) => this.#destroy(id),
      flush: () => this.#store.flush(),
    });
    this.#control = new ControlCalls((call) =>
      this.#router.run(call, (local) => invokeControl(this.#lifecycle, local)),
    );
  }

  /**
   * Mounts the Kubernetes API of every emulated cluster at `/k8s/:clusterId/...` (the listener's
   * `rewriteUrl: routeToCluster(…)` routes a cluster's TLS server name, or its token, there), and the control
   * endpoint when clusters are shared between processes.
   * `authorize(clusterId, bearerToken, clientIp)` says whether the caller may use the cluster's
   * API (else a 401 or 403 Status); a cluster the emulator does not know answers 404 Status.
   */
  async register(app: FastifyInstance, authorize: KubeApiDeps['authorize']): Promise<void> {
    await registerKubeApi(app, {
      authorize,
      cluster: async (id) => {
        const cluster = await this.#cluster(id);
        // An unknown (deleted) cluster's lease, taken to serve this call, is given back.
        if (cluster === undefined) await this.#ownership.release(id);
        return cluster;
      },
      loadDeferred: (cluster) => this.loadDeferred(cluster),
      forward: (id, request, reply) => this.#router.forward(id, request, reply),
      clientIp: (request) => this.#router.clientIp(request),
      flush: () => this.#store.flush(),
      now: this.#now,
      watches: this.#watches,
    });
    const token = this.#router.internalToken;
    if (token !== undefined) {
      registerControlRoute(
        app,
        token,
        (id, request, reply) => this.#router.forward(id, request, reply),
        (call) => invokeControl(this.#lifecycle, call),
      );
    }
  }

  ensureCluster(input: EnsureClusterInput): Promise<string | undefined> {
    return this.#control.ensureCluster(input);
  }
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void> {
    return this.#control.setApiServerFlags(clusterId, flags);
  }
  restartApiServer(clusterId: string, restart: string): Promise<void> {
    return this.#control.restartApiServer(clusterId, restart);
  }
  eraseCluster(clusterId: string): Promise<void> {
    return this.#control.eraseCluster(clusterId);
  }
  destroyCluster(clusterId: string): Promise<void> {
    return this.#control.destroyCluster(clusterId);
  }

  /** Bytes the cluster stores, as etcd counts them (keys and values); undefined when unknown. */
  storedBytes(clusterId: string): Promise<number | undefined> {
    return this.#store.storedBytes(clusterId);
  }

  /** Clusters in memory, loads and evictions (for `/metrics` and the tests). */
  residency(): ResidencyStats {
    return {
      loaded: this.#clusters.size,
      loads: this.#loads,
      evictions: this.#evictions,
      eventLoads: this.#eventLoads,
    };
  }

  /**
   * Brings in what the cluster's load left in the store (its Events: "Events stay in the store"
   * above), for a reader of them; at once when there is nothing left there. One read at a time
   * per cluster: a second caller waits for the first's.
   */
  loadDeferred(cluster: ObjectStore): Promise<void> {
    if (!cluster.hasDeferred) return Promise.resolve();
    let pending = this.#deferredLoads.get(cluster);
    if (pending === undefined) {
      pending = this.#restoreDeferred(cluster).finally(() => this.#deferredLoads.delete(cluster));
      this.#deferredLoads.set(cluster, pending);
    }
    return pending;
  }

  async #restoreDeferred(cluster: ObjectStore): Promise<void> {
    const stored = await this.#store.loadResource(cluster.meta.id, DEFERRED_RESOURCE);
    // Only those still deferred: none was written since the load (a write of one reads it first),
    // and one created since under a name the store no longer holds keeps its state.
    cluster.restoreDeferred(DEFERRED_TYPE, stored, (object) => restoreStored(cluster, DEFERRED_TYPE, object));
    this.#eventLoads += 1;
    // A namespace that went over its bound while its oldest Events were in the store only.
    pruneEvents(cluster);
  }

  /** How often the sweeper looks for idle clusters to evict. */
  get #sweepMs(): number {
    return Math.max(25, Math.min(this.#residency.idleMs, MAX_EVICTION_GRACE_MS) / 2);
  }

  /** How long after its last use an idle cluster leaves memory at the latest (idle bound, one sweep). */
  get evictionDelayMs(): number {
    return this.#residency.idleMs + this.#sweepMs;
  }

  /** Starts the controllers and resumes clusters that had work in flight when the process stopped. */
  start(): void {
    this.#controllers.start();
    this.#sweeper = setInterval(() => this.#evictIdle(), this.#sweepMs);
    this.#sweeper.unref();
    if (this.#ownership.shared) {
      // Clusters with work in flight are adopted once their owner's lease has expired.
      this.#ownership.start({
        lost: (ids) => this.#drop(ids),
        adopt: (ids) => {
          for (const id of ids) {
            this.#cluster(id).catch((error: unknown) =>
              this.#logger.error({ err: error, clusterId: id }, 'Could not adopt an emulated cluster'),
            );
          }
        },
      });
      return;
    }
    this.#store
      .busyClusterIds()
      .then((ids) => Promise.all(ids.map((id) => this.#cluster(id))))
      .catch((error: unknown) => this.#logger.error({ err: error }, 'Could not resume emulated clusters'));
  }

  /** Stops the controllers, ends watch streams and waits for pending writes. */
  async stop(): Promise<void> {
    this.#controllers.stop();
    clearInterval(this.#sweeper);
    for (const watch of this.#watches) watch.close();
    await this.#store.drain();
    await this.#ownership.stop();
    this.#router.close();
  }

  /** The cluster, from memory or loaded from the store; undefined when unknown. */
  #cluster(id: string): Promise<ObjectStore | undefined> {
    if (this.#destroyed.has(id)) return Promise.resolve(undefined);
    const known = this.#clusters.get(id);
    if (known !== undefined) {
      this.#use(id, known);
      return Promise.resolve(known.cluster);
    }
    let pending = this.#loading.get(id);
    if (pending === undefined) {
      pending = this.#load(id).finally(() => this.#loading.delete(id));
      this.#loading.set(id, pending);
    }
    return pending;
  }

  async #load(id: string): Promise<ObjectStore | undefined> {
    // Evicted with nothing pending, but a call that still held the cluster may have written since.
    if (this.#store.isDirty(id)) await this.#store.flush();
    const stored = await this.#store.loadCluster(id);
    // Destroyed while this load read the store: what it read is gone.
    if (this.#destroyed.has(id)) return undefined;
    const raced = this.#clusters.get(id);
    if (raced !== undefined) return raced.cluster;
    if (stored === undefined) return undefined;
    const cluster = new ObjectStore(stored.meta, this.#hooks);
    for (const object of stored.objects) {
      const { resource, body } = object;
      if (resource === CONTAINER_LOG) {
        const { podUid, log } = JSON.parse(bodyText(body)) as { podUid: string; log: string };
        cluster.restoreLog(podUid, log);
        continue;
      }
      const type = BY_STORAGE.get(resource);
      if (type !== undefined) restoreStored(cluster, type, object);
    }
    cluster.defer(DEFERRED_TYPE, stored.deferred);
    // Evicted by this process at the resourceVersion stored, so as it left, settled: evictable
    // only with no controller work queued, timed or in flight and every change committed, and
    // every write since (here, or in a process that took it over) would have bumped it. The
    // controllers left it so, and a sync would find nothing to do: none is queued.
    const left = this.#idle.get(id);
    const settled = !stored.meta.busy && left?.resourceVersion === stored.meta.resourceVersion;
    this.#loads += 1;
    this.#add(cluster);
    // Else resume what may be in flight: pods to start, rollouts to continue (a restart, a cluster
    // taken over from another process, one evicted before this process started).
    if (!settled) this.#controllers.enqueue(cluster);
    // Its namespaces have what they had: the next sync (a change) does not read them all again.
    else if (left.namespacesSynced) this.#controllers.loadedSynced(cluster);
    return cluster;
  }

  #add(cluster: ObjectStore): void {
    this.#idle.delete(cluster.meta.id);
    this.#clusters.set(cluster.meta.id, { cluster, usedAt: performance.now() });
    if (this.#clusters.size > this.#residency.maxLoaded) this.#evictLeastRecentlyUsed();
  }

  /** Marks a cluster used now: it moves to the end of the least-recently-used order. */
  #use(id: string, loaded: Loaded): void {
    loaded.usedAt = performance.now();
    this.#clusters.delete(id);
    this.#clusters.set(id, loaded);
  }

  /**
   * Whether a cluster unused for `graceMs` may leave memory: no open watch, no controller work
   * queued, timed or in flight (`busy`: pods to start, a rollout), every change committed. What
   * it holds is then all in the store, so a load gives the same objects and resourceVersion.
   */
  #evictable(loaded: Loaded, now: number, graceMs: number): boolean {
    const { cluster } = loaded;
    return (
      now - loaded.usedAt >= graceMs &&
      !cluster.meta.busy &&
      cluster.watchers.size === 0 &&
      this.#controllers.idle(cluster) &&
      !this.#store.isDirty(cluster.meta.id)
    );
  }

  /**
   * Drops a cluster from memory (it stays in the store, and owned by this process under
   * scale-out: the next call loads it here again). Its watch log goes with it: a watch from an
   * older resourceVersion then answers 410 Gone, as after a kube-apiserver restart.
   */
  #evict(id: string): void {
    const cluster = this.#clusters.get(id)?.cluster;
    if (cluster !== undefined)
      this.#idle.set(id, {
        resourceVersion: cluster.meta.resourceVersion,
        namespacesSynced: this.#controllers.namespacesSynced(cluster),
      });
    this.#clusters.delete(id);
    this.#controllers.forget(id);
    this.#evictions += 1;
  }

  /** Evicts the clusters idle for the residency's bound (the sweeper's tick). */
  #evictIdle(): void {
    const now = performance.now();
    for (const [id, loaded] of this.#clusters) {
      // Least recently used first: the rest were used more recently still.
      if (now - loaded.usedAt < this.#residency.idleMs) break;
      if (this.#evictable(loaded, now, this.#residency.idleMs)) this.#evict(id);
    }
    if (this.#clusters.size > this.#residency.maxLoaded) this.#evictLeastRecentlyUsed();
  }

  /** Past the bound on loaded clusters: evicts the least recently used evictable ones. */
  #evictLeastRecentlyUsed(): void {
    const now = performance.now();
    const grace = Math.min(this.#residency.idleMs, MAX_EVICTION_GRACE_MS);
    for (const [id, loaded] of this.#clusters) {
      if (this.#clusters.size <= this.#residency.maxLoaded || now - loaded.usedAt < grace) break;
      if (this.#evictable(loaded, now, grace)) this.#evict(id);
    }
  }

  #create(meta: ClusterMeta): ObjectStore {
    if (this.#destroyed.has(meta.id))
      throw Object.assign(new Error(`emulated cluster ${meta.id} was deleted`), { statusCode: 404 });
    const cluster = new ObjectStore(meta, this.#hooks);
    this.#hooks.persistMeta(cluster);
    this.#add(cluster);
    return cluster;
  }

  async #destroy(clusterId: string): Promise<void> {
    const cluster = await this.#cluster(clusterId);
    this.#destroyed.add(clusterId);
    this.#idle.delete(clusterId);
    if (this.#destroyed.size > 100_000) this.#destroyed.delete(this.#destroyed.values().next().value!);
    if (cluster !== undefined) {
      cluster.destroyed = true;
      cluster.closeWatchers();
      this.#controllers.forget(clusterId);
      this.#clusters.delete(clusterId);
    }
    this.#store.markDeleted(clusterId);
    await this.#store.flush();
    await this.#ownership.release(clusterId);
  }

  /** Forgets clusters another process took over (their state is in the store). */
  #drop(clusterIds: readonly string[]): void {
    for (const id of clusterIds) {
      this.#idle.delete(id);
      const cluster = this.#clusters.get(id)?.cluster;
      if (cluster === undefined) continue;
      cluster.closeWatchers();
      this.#controllers.forget(id);
      this.#clusters.delete(id);
      this.#logger.info({ clusterId: id }, 'Emulated cluster moved to another process');
    }
  }
}
