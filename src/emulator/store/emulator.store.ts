/**
 * Persistence of emulated clusters, the same on both engines but for the commit itself and the
 * read of a cluster being loaded (emulator.store.sqlite.ts, emulator.store.postgres.ts). Changes
 * are written through with group commit: every change made since the last commit (a rollout step touches a pod, the DaemonSet and the counter) lands
 * in one transaction, and API writes await the commit that holds them before answering.
 *
 * Commits are paced: one starts at once when the last ended over COMMIT_INTERVAL_MS ago, else
 * when that interval is up. A quiet cluster's write thus commits in the same turn; under load
 * (a fleet rolling out) an object changed several times in the interval is written once, its
 * last state: fewer rows in far fewer commits (the fleet bench's figures: docs/performance.md).
 */
import type { Kysely, QueryExecutorProvider, Selectable } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { EmulatorClusterTable, Schema } from '../../db/schema.ts';
import type { ClusterMeta } from '../apiserver/object-store.ts';
import { PostgresEmulatorEngine } from './emulator.store.postgres.ts';
import { SqliteEmulatorEngine } from './emulator.store.sqlite.ts';
import type { StoredBody } from './stored-body.ts';

export interface StoredObject {
  readonly resource: string;
  /** '' for a cluster-scoped object. */
  readonly namespace: string;
  readonly name: string;
  /** Its text, or (SQLite) its bytes in the buffer of the cluster's bodies: stored-body.ts. */
  readonly body: StoredBody;
  /** What lookups read of the object, for the kinds kept as text until read (Events); else null. */
  readonly digest: string | null;
}

/**
 * The resource (its storage name: Events) whose rows a cluster's load leaves in the store, naming
 * them only: most of what a used cluster stores, which a change never reads (emulator.ts, "Events
 * stay in the store"). `EmulatorEngine.loadResource` reads them when something does.
 */
export const DEFERRED_RESOURCE = 'events';

/**
 * A cluster as stored: its meta row, its objects' rows (container logs included) but those of
 * `DEFERRED_RESOURCE`, and the namespaces and names of those.
 */
export interface StoredCluster {
  readonly meta: ClusterMeta;
  readonly objects: readonly StoredObject[];
  readonly deferred: readonly (readonly [namespace: string, name: string])[];
}

/** A cluster's meta as either engine hands its row back (PostgreSQL's bigint as a string). */
export function metaOf(row: Selectable<EmulatorClusterTable>): ClusterMeta {
  return {
    id: row.id,
    version: row.version,
    nodeCount: Number(row.node_count),
    resourceVersion: Number(row.resource_version),
    busy: Number(row.busy) === 1,
    createdAt: row.created_at,
  };
}

/** An object to write: its body, and its digest for the kinds kept as text until read (else null). */
export interface ObjectRow {
  readonly body: string;
  readonly digest: string | null;
}

/**
 * What a pending object's row is made from when its commit runs (the text composed then, once,
 * however often the object was written since the last commit). An object with a method, not a
 * closure made per write: see `ObjectRowSource` (emulator.ts).
 */
export interface RowSource {
  row(): ObjectRow;
}

export interface PendingCluster {
  meta: ClusterMeta | undefined;
  /** key `resource/namespace/name` → what its row is made from (null: delete). */
  objects: Map<string, { resource: string; namespace: string; name: string; source: RowSource | null }>;
}

/** The least time between the end of a commit and the start of the next. */
const COMMIT_INTERVAL_MS = 20;

/** What differs by engine: reading a cluster back, and the commit of a batch. */
export interface EmulatorEngine {
  /**
   * The cluster's meta row and object rows, those of the resource `deferred` named only
   * (`StoredCluster.deferred`); undefined when it is not stored.
   */
  load(id: string, deferred: string): Promise<StoredCluster | undefined>;
  /** The rows of one resource of the cluster (`DEFERRED_RESOURCE`'s, which `load` left). */
  loadResource(id: string, resource: string): Promise<StoredObject[]>;
  /**
   * Every pending cluster's meta and objects, and the deleted clusters, in one transaction. It
   * may drop what it must not write (clusters this process no longer owns), removing them from
   * the batch, and throws after committing the rest.
   */
  write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void>;
}

/**
 * Scale-out: of the given clusters, those this process still owns, checked (and share-locked)
 * inside the writing transaction `trx`.
 */
export type Fence = (trx: QueryExecutorProvider, clusterIds: readonly string[]) => Promise<Set<string>>;

/**
 * The store of the engine `database` runs on. `fence` (scale-out, PostgreSQL only) says which
 * clusters this process still owns: changes to the others are dropped and the commit's waiters fail.
 */
export function openEmulatorStore(
  database: Database,
  onError: (error: unknown) => void,
  fence: Fence | undefined,
): EmulatorStore {
  switch (database.engine) {
    case 'sqlite':
      return new EmulatorStore(database, new SqliteEmulatorEngine(database), onError);
    case 'postgres':
      return new EmulatorStore(database, new PostgresEmulatorEngine(database, fence), onError);
  }
}

/** The rows of container logs (`kubectl logs`), one per pod uid, beside a cluster's objects. */
export const CONTAINER_LOG = 'pods/log';

export class EmulatorStore {
  readonly #db: Kysely<Schema>;
  readonly #engine: EmulatorEngine;
  #pending = new Map<string, PendingCluster>();
  #deletions = new Set<string>();
  /** The batch the commit in progress writes. */
  #writing: Map<string, PendingCluster> | undefined;
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #scheduled = false;
  #running: Promise<void> | undefined;
  /** When the last commit ended (performance.now()). */
  #lastCommit = Number.NEGATIVE_INFINITY;
  readonly #onError: (error: unknown) => void;

  constructor(database: Database, engine: EmulatorEngine, onError: (error: unknown) => void) {
    this.#db = database.db;
    this.#engine = engine;
    this.#onError = onError;
  }

  /** The cluster's meta and object rows as stored; undefined when it is not stored. */
  loadCluster(id: string): Promise<StoredCluster | undefined> {
    return this.#engine.load(id, DEFERRED_RESOURCE);
  }

  /** The rows of one resource of the cluster as stored (those `loadCluster` left: `DEFERRED_RESOURCE`). */
  loadResource(id: string, resource: string): Promise<StoredObject[]> {
    return this.#engine.loadResource(id, resource);
  }

  /**
   * What the cluster stores, as etcd counts it: each object's key (`/registry/<resource>/
   * [<namespace>/]<name>`, kube-apiserver's layout) and its value, in bytes, once every change made
   * so far is committed; undefined when the cluster is not stored. Container logs are stored beside
   * the objects but are the kubelet's, not etcd's: not counted.
   */
  async storedBytes(id: string): Promise<number | undefined> {
    await this.flush();
    const cluster = await this.#db
      .selectFrom('emulator_clusters')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    if (cluster === undefined) return undefined;
    const objects = await this.#db
      .selectFrom('emulator_objects')
      .select(['resource', 'namespace', 'name', 'body'])
      .where('cluster_id', '=', id)
      .where('resource', '!=', CONTAINER_LOG)
      .execute();
    let bytes = 0;
    for (const { resource, namespace, name, body } of objects) {
      const key =
        namespace === '' ? `/registry/${resource}/${name}` : `/registry/${resource}/${namespace}/${name}`;
      bytes += Buffer.byteLength(key) + Buffer.byteLength(body);
    }
    return bytes;
  }

  async busyClusterIds(): Promise<string[]> {
    const rows = await this.#db.selectFrom('emulator_clusters').select('id').where('busy', '=', 1).execute();
    return rows.map((r) => r.id);
  }

  #entry(clusterId: string): PendingCluster {
    let entry = this.#pending.get(clusterId);
    if (entry === undefined) {
      entry = { meta: undefined, objects: new Map() };
      this.#pending.set(clusterId, entry);
    }
    return entry;
  }

  /** Whether changes to the cluster are not all committed yet (pending, or in the commit running). */
  isDirty(clusterId: string): boolean {
    return this.#pending.has(clusterId) || this.#writing?.has(clusterId) === true;
  }

  markMeta(meta: ClusterMeta): void {
    this.#entry(meta.id).meta = meta;
    this.#schedule();
  }

  markObject(
    clusterId: string,
    resource: string,
    namespace: string,
    name: string,
    source: RowSource | null,
  ): void {
    this.#entry(clusterId).objects.set(`${resource}/${namespace}/${name}`, {
      resource,
      namespace,
      name,
      source,
    });
    this.#schedule();
  }

  markDeleted(clusterId: string): void {
    this.#pending.delete(clusterId);
    this.#deletions.add(clusterId);
    this.#schedule();
  }

  /** Resolves once every change marked so far is committed. */
  flush(): Promise<void> {
    if (this.#pending.size === 0 && this.#deletions.size === 0 && this.#running === undefined)
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    const start = () => {
      this.#scheduled = false;
      if (this.#running !== undefined) return; // run() reschedules when it finishes
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        if (this.#pending.size > 0 || this.#deletions.size > 0 || this.#waiters.length > 0) this.#schedule();
      });
    };
    const wait = this.#lastCommit + COMMIT_INTERVAL_MS - performance.now();
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  async #run(): Promise<void> {
    const pending = this.#pending;
    const deletions = this.#deletions;
    const waiters = this.#waiters;
    this.#pending = new Map();
    this.#deletions = new Set();
    this.#waiters = [];
    this.#writing = pending;
    try {
      if (pending.size > 0 || deletions.size > 0) {
        try {
          await this.#engine.write(pending, deletions);
        } finally {
          // A flush with nothing to write is no commit: it does not hold the next one back.
          this.#lastCommit = performance.now();
        }
      }
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      this.#onError(error);
      for (const waiter of waiters) waiter.reject(error);
    } finally {
      this.#writing = undefined;
    }
  }

  /** Waits for the write in progress, if any (used on stop). */
  async drain(): Promise<void> {
    await this.flush().catch(() => {});
    await this.#running;
  }
}
