/**
 * Persistence of emulated clusters. Changes are written through with group commit: every change
 * made since the last commit (a rollout step touches a pod, the DaemonSet and the counter) lands
 * in one transaction, and API writes await the commit that holds them before answering.
 *
 * Commits are paced: one starts at once when the last ended over COMMIT_INTERVAL_MS ago, else
 * when that interval is up. A quiet cluster's write thus commits in the same turn; under load
 * (a fleet rolling out) an object changed several times in the interval is written once, its
 * last state. Measured on the fleet bench (1,000 rollouts at once): 11.8–12.5k rows in 154–172
 * commits, against 19.5k rows in about 1,000 commits without pacing.
 */
import type { Kysely, QueryExecutorProvider } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { ExclusiveSql, SyncSql } from '../../db/sqlite-statement-cache.ts';
import type { ClusterMeta } from '../apiserver/object-store.ts';

type EmulatorClusterTable = {
  id: string;
  version: string;
  node_count: number;
  resource_version: number | string;
  busy: number;
  created_at: string;
};

type EmulatorObjectTable = {
  cluster_id: string;
  resource: string;
  namespace: string;
  name: string;
  body: string;
};

export type EmulatorTables = {
  emulator_clusters: EmulatorClusterTable;
  emulator_objects: EmulatorObjectTable;
};

export interface StoredObject {
  readonly resource: string;
  readonly body: string;
}

interface PendingCluster {
  meta: ClusterMeta | undefined;
  /** key `resource/namespace/name` → body getter (null: delete). */
  objects: Map<string, { resource: string; namespace: string; name: string; body: (() => string) | null }>;
}

const CHUNK = 200;
/** The least time between the end of a commit and the start of the next. */
const COMMIT_INTERVAL_MS = 20;

export type Fence = (trx: QueryExecutorProvider, clusterIds: readonly string[]) => Promise<Set<string>>;

/** Changes to clusters another process took over were not written. */
export class OwnershipLostError extends Error {
  constructor(readonly clusterIds: readonly string[]) {
    super(
      `emulated clusters moved to another process before their changes were written: ${clusterIds.join(', ')}`,
    );
  }
}

export class EmulatorStore {
  private readonly db: Kysely<EmulatorTables>;
  /** The embedded engine's synchronous write path (one prepared statement per row kind). */
  private readonly exclusiveSql: ExclusiveSql | undefined;
  private pending = new Map<string, PendingCluster>();
  private deletions = new Set<string>();
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private scheduled = false;
  private running: Promise<void> | undefined;
  /** When the last commit ended (performance.now()). */
  private lastCommit = Number.NEGATIVE_INFINITY;
  private readonly onError: (error: unknown) => void;
  private readonly fence: Fence | undefined;

  /**
   * `fence` (scale-out) returns which of the given clusters this process still owns, checked in
   * the writing transaction: changes to the others are dropped and the commit's waiters fail.
   */
  constructor(database: Database, onError: (error: unknown) => void, fence?: Fence) {
    this.db = database.db.withTables<EmulatorTables>() as unknown as Kysely<EmulatorTables>;
    this.exclusiveSql = database.exclusiveSql;
    this.onError = onError;
    this.fence = fence;
  }

  async loadCluster(id: string): Promise<{ meta: ClusterMeta; objects: StoredObject[] } | undefined> {
    const row = await this.db
      .selectFrom('emulator_clusters')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const objects = await this.db
      .selectFrom('emulator_objects')
      .select(['resource', 'body'])
      .where('cluster_id', '=', id)
      .execute();
    return {
      meta: {
        id: row.id,
        version: row.version,
        nodeCount: Number(row.node_count),
        resourceVersion: Number(row.resource_version),
        busy: Number(row.busy) === 1,
        createdAt: row.created_at,
      },
      objects,
    };
  }

  async busyClusterIds(): Promise<string[]> {
    const rows = await this.db.selectFrom('emulator_clusters').select('id').where('busy', '=', 1).execute();
    return rows.map((r) => r.id);
  }

  private entry(clusterId: string): PendingCluster {
    let entry = this.pending.get(clusterId);
    if (entry === undefined) {
      entry = { meta: undefined, objects: new Map() };
      this.pending.set(clusterId, entry);
    }
    return entry;
  }

  markMeta(meta: ClusterMeta): void {
    this.entry(meta.id).meta = meta;
    this.schedule();
  }

  markObject(
    clusterId: string,
    resource: string,
    namespace: string,
    name: string,
    body: (() => string) | null,
  ): void {
    this.entry(clusterId).objects.set(`${resource}/${namespace}/${name}`, {
      resource,
      namespace,
      name,
      body,
    });
    this.schedule();
  }

  markDeleted(clusterId: string): void {
    this.pending.delete(clusterId);
    this.deletions.add(clusterId);
    this.schedule();
  }

  /** Resolves once every change marked so far is committed. */
  flush(): Promise<void> {
    if (this.pending.size === 0 && this.deletions.size === 0 && this.running === undefined)
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const start = () => {
      this.scheduled = false;
      if (this.running !== undefined) return; // run() reschedules when it finishes
      this.running = this.run().finally(() => {
        this.running = undefined;
        if (this.pending.size > 0 || this.deletions.size > 0 || this.waiters.length > 0) this.schedule();
      });
    };
    const wait = this.lastCommit + COMMIT_INTERVAL_MS - performance.now();
    if (wait > 0) setTimeout(start, wait);
    else setImmediate(start);
  }

  private async run(): Promise<void> {
    const pending = this.pending;
    const deletions = this.deletions;
    const waiters = this.waiters;
    this.pending = new Map();
    this.deletions = new Set();
    this.waiters = [];
    try {
      if (pending.size > 0 || deletions.size > 0) {
        try {
          await this.write(pending, deletions);
        } finally {
          // A flush with nothing to write is no commit: it does not hold the next one back.
          this.lastCommit = performance.now();
        }
      }
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      this.onError(error);
      for (const waiter of waiters) waiter.reject(error);
    }
  }

  private async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    if (this.exclusiveSql !== undefined) {
      await this.exclusiveSql.transaction((sql) => writeSync(sql, pending, deletions));
      return;
    }
    let fenced: string[] = [];
    await this.db.transaction().execute(async (trx) => {
      if (this.fence !== undefined) {
        const ids = [...new Set([...deletions, ...pending.keys()])];
        const owned = await this.fence(trx, ids);
        fenced = ids.filter((id) => !owned.has(id));
        for (const id of fenced) {
          deletions.delete(id);
          pending.delete(id);
        }
      }
      for (const id of deletions) {
        await trx.deleteFrom('emulator_objects').where('cluster_id', '=', id).execute();
        await trx.deleteFrom('emulator_clusters').where('id', '=', id).execute();
      }
      const metas = [...pending.values()].flatMap((p) => (p.meta === undefined ? [] : [p.meta]));
      for (let i = 0; i < metas.length; i += CHUNK) {
        await trx
          .insertInto('emulator_clusters')
          .values(
            metas.slice(i, i + CHUNK).map((m) => ({
              id: m.id,
              version: m.version,
              node_count: m.nodeCount,
              resource_version: m.resourceVersion,
              busy: m.busy ? 1 : 0,
              created_at: m.createdAt,
            })),
          )
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'),
              node_count: eb.ref('excluded.node_count'),
              resource_version: eb.ref('excluded.resource_version'),
              busy: eb.ref('excluded.busy'),
            })),
          )
          .execute();
      }
      const upserts: EmulatorObjectTable[] = [];
      for (const [clusterId, entry] of pending) {
        for (const object of entry.objects.values()) {
          if (object.body === null) {
            await trx
              .deleteFrom('emulator_objects')
              .where('cluster_id', '=', clusterId)
              .where('resource', '=', object.resource)
              .where('namespace', '=', object.namespace)
              .where('name', '=', object.name)
              .execute();
          } else {
            upserts.push({
              cluster_id: clusterId,
              resource: object.resource,
              namespace: object.namespace,
              name: object.name,
              body: object.body(),
            });
          }
        }
      }
      for (let i = 0; i < upserts.length; i += CHUNK) {
        await trx
          .insertInto('emulator_objects')
          .values(upserts.slice(i, i + CHUNK))
          .onConflict((oc) =>
            oc
              .columns(['cluster_id', 'resource', 'namespace', 'name'])
              .doUpdateSet((eb) => ({ body: eb.ref('excluded.body') })),
          )
          .execute();
      }
    });
    if (fenced.length > 0) throw new OwnershipLostError(fenced);
  }

  /** Waits for the write in progress, if any (used on stop). */
  async drain(): Promise<void> {
    await this.flush().catch(() => {});
    await this.running;
  }
}

const DELETE_CLUSTER_OBJECTS_SQL = 'delete from "emulator_objects" where "cluster_id" = ?';
const DELETE_CLUSTER_SQL = 'delete from "emulator_clusters" where "id" = ?';
const UPSERT_META_SQL =
  'insert into "emulator_clusters" ("id", "version", "node_count", "resource_version", "busy", "created_at") ' +
  'values (?, ?, ?, ?, ?, ?) on conflict ("id") do update set "version" = excluded."version", ' +
  '"node_count" = excluded."node_count", "resource_version" = excluded."resource_version", "busy" = excluded."busy"';
const DELETE_OBJECT_SQL =
  'delete from "emulator_objects" where "cluster_id" = ? and "resource" = ? and "namespace" = ? and "name" = ?';
const UPSERT_OBJECT_SQL =
  'insert into "emulator_objects" ("cluster_id", "resource", "namespace", "name", "body") values (?, ?, ?, ?, ?) ' +
  'on conflict ("cluster_id", "resource", "namespace", "name") do update set "body" = excluded."body"';

/** The same writes as the Kysely path, as one synchronous transaction of prepared statements. */
function writeSync(sql: SyncSql, pending: Map<string, PendingCluster>, deletions: Set<string>): void {
  for (const id of deletions) {
    sql.run(DELETE_CLUSTER_OBJECTS_SQL, [id]);
    sql.run(DELETE_CLUSTER_SQL, [id]);
  }
  for (const entry of pending.values()) {
    const m = entry.meta;
    if (m === undefined) continue;
    sql.run(UPSERT_META_SQL, [m.id, m.version, m.nodeCount, m.resourceVersion, m.busy ? 1 : 0, m.createdAt]);
  }
  for (const [clusterId, entry] of pending) {
    for (const object of entry.objects.values()) {
      if (object.body === null) {
        sql.run(DELETE_OBJECT_SQL, [clusterId, object.resource, object.namespace, object.name]);
      } else {
        sql.run(UPSERT_OBJECT_SQL, [
          clusterId,
          object.resource,
          object.namespace,
          object.name,
          object.body(),
        ]);
      }
    }
  }
}
