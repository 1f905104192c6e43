/**
 * The emulator store on PostgreSQL: a cluster read by one named prepared statement (the resync of
 * an evicted cluster loads it there), and a commit as one Kysely transaction of chunked upserts,
 * fenced under scale-out so a process that lost a cluster's lease never overwrites the new
 * owner's writes.
 */
import type { Kysely, Selectable } from 'kysely';
import type { PostgresDatabase } from '../../db/database.ts';
import type { PostgresSql } from '../../db/postgres-sql.ts';
import type { EmulatorClusterTable, EmulatorObjectTable, Schema } from '../../db/schema.ts';
import {
  type EmulatorEngine,
  type Fence,
  metaOf,
  type PendingCluster,
  type StoredCluster,
  type StoredObject,
} from './emulator.store.ts';

const CHUNK = 200;

/**
 * A cluster's meta and its objects in one statement (one round trip, one snapshot): a row per
 * object, the meta repeated; one row of nulls for the objects when it has none. The rows of the
 * resource the load leaves in the store ($2) come without their body (`StoredCluster.deferred`).
 */
const LOAD_SQL =
  'select c.*, o."resource", o."namespace", o."name", ' +
  'case when o."resource" = $2 then null else o."body" end as "body", ' +
  'case when o."resource" = $2 then null else o."digest" end as "digest" ' +
  'from "emulator_clusters" c left join "emulator_objects" o on o."cluster_id" = c."id" where c."id" = $1';
const LOAD_RESOURCE_SQL =
  'select "namespace", "name", "body", "digest" from "emulator_objects" where "cluster_id" = $1 and "resource" = $2';

type LoadRow = Selectable<EmulatorClusterTable> & {
  resource: string | null;
  namespace: string | null;
  name: string | null;
  body: string | null;
  digest: string | null;
};

/** Changes to clusters another process took over were not written. */
export class OwnershipLostError extends Error {
  constructor(readonly clusterIds: readonly string[]) {
    super(
      `emulated clusters moved to another process before their changes were written: ${clusterIds.join(', ')}`,
    );
  }
}

export class PostgresEmulatorEngine implements EmulatorEngine {
  readonly #db: Kysely<Schema>;
  readonly #sql: PostgresSql;
  readonly #fence: Fence | undefined;

  constructor(database: PostgresDatabase, fence: Fence | undefined) {
    this.#db = database.db;
    this.#sql = database.postgresSql;
    this.#fence = fence;
  }

  async load(id: string, deferredResource: string): Promise<StoredCluster | undefined> {
    const rows = await this.#sql.query<LoadRow>('mks_emulator_load', LOAD_SQL, [id, deferredResource]);
    const first = rows[0];
    if (first === undefined) return undefined;
    const objects: StoredObject[] = [];
    const deferred: [string, string][] = [];
    for (const { resource, namespace, name, body, digest } of rows) {
      if (resource === null || namespace === null || name === null) continue;
      if (resource === deferredResource) deferred.push([namespace, name]);
      else if (body !== null) objects.push({ resource, namespace, name, body, digest });
    }
    return { meta: metaOf(first), objects, deferred };
  }

  async loadResource(id: string, resource: string): Promise<StoredObject[]> {
    const rows = await this.#sql.query<Omit<StoredObject, 'resource'> & { body: string }>(
      'mks_emulator_load_resource',
      LOAD_RESOURCE_SQL,
      [id, resource],
    );
    return rows.map(({ namespace, name, body, digest }) => ({ resource, namespace, name, body, digest }));
  }

  async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    let fenced: string[] = [];
    await this.#db.transaction().execute(async (trx) => {
      if (this.#fence !== undefined) {
        const ids = [...new Set([...deletions, ...pending.keys()])];
        const owned = await this.#fence(trx, ids);
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
          if (object.source === null) {
            await trx
              .deleteFrom('emulator_objects')
              .where('cluster_id', '=', clusterId)
              .where('resource', '=', object.resource)
              .where('namespace', '=', object.namespace)
              .where('name', '=', object.name)
              .execute();
          } else {
            const { body, digest } = object.source.row();
            upserts.push({
              cluster_id: clusterId,
              resource: object.resource,
              namespace: object.namespace,
              name: object.name,
              body,
              digest,
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
              .doUpdateSet((eb) => ({ body: eb.ref('excluded.body'), digest: eb.ref('excluded.digest') })),
          )
          .execute();
      }
    });
    if (fenced.length > 0) throw new OwnershipLostError(fenced);
  }
}
