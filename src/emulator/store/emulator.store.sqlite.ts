/**
 * The emulator store on SQLite: a cluster read and a commit are each one synchronous
 * transaction of prepared statements on the embedded engine's exclusive connection (a load
 * through Kysely's async queries cost a tenth of the load: docs/performance.md, "Sixth round:
 * loading an evicted cluster"). One process writes, so there is nothing to fence.
 */
import type { Selectable } from 'kysely';
import type { SqliteDatabase } from '../../db/database.ts';
import type { EmulatorClusterTable } from '../../db/schema.ts';
import type { ExclusiveSql, SyncSql } from '../../db/sqlite-statement-cache.ts';
import {
  type EmulatorEngine,
  metaOf,
  type PendingCluster,
  type StoredCluster,
  type StoredObject,
} from './emulator.store.ts';
import { BodyBytes } from './stored-body.ts';

const SELECT_CLUSTER_SQL = 'select * from "emulator_clusters" where "id" = ?';
/**
 * A cluster's objects in one row: every body joined into one blob (bytes, outside V8's heap), and
 * beside it, as a JSON array, each object's resource, namespace, name, digest and body length in
 * bytes, from which the bodies are cut (stored-body.ts). Both aggregates take the rows in the same
 * pass, so in the same order. Read as rows, a used cluster's ≈ 100 bodies were ≈ 100 strings made
 * in V8's young generation, copied by its scavenges and promoted while the cluster stayed loaded
 * (most of them Events a change never reads): a load cost ≈ a quarter more CPU, and a change left
 * ≈ 130 KiB more per cluster for the scavenges to copy (docs/performance.md, "Twenty-fourth
 * round").
 */
const OBJECTS_SQL =
  `select cast(group_concat("body", '') as blob), json_group_array(json_array("resource", ` +
  `"namespace", "name", "digest", octet_length("body"))) from "emulator_objects" where "cluster_id" = ?`;
/**
 * The load's objects: all but those of the resource it leaves in the store, whose rows the primary
 * key's index passes over without reading them (the resource is one of its columns), then those
 * rows' namespaces and names from that index alone.
 */
const SELECT_OBJECTS_SQL = `${OBJECTS_SQL} and "resource" <> ?`;
const SELECT_DEFERRED_SQL =
  'select "namespace", "name" from "emulator_objects" where "cluster_id" = ? and "resource" = ?';
const SELECT_RESOURCE_SQL = `${OBJECTS_SQL} and "resource" = ?`;

export class SqliteEmulatorEngine implements EmulatorEngine {
  readonly #sql: ExclusiveSql;

  constructor(database: SqliteDatabase) {
    this.#sql = database.exclusiveSql;
  }

  load(id: string, deferred: string): Promise<StoredCluster | undefined> {
    return this.#sql.transaction((sql) => {
      const row = sql.get<Selectable<EmulatorClusterTable>>(SELECT_CLUSTER_SQL, [id]);
      if (row === undefined) return undefined;
      const [bodies, meta] = sql.rows(SELECT_OBJECTS_SQL, [id, deferred])[0] as [Buffer | null, string];
      const keys = sql.rows(SELECT_DEFERRED_SQL, [id, deferred]) as [string, string][];
      return { meta: metaOf(row), objects: storedObjects(bodies, meta), deferred: keys };
    });
  }

  loadResource(id: string, resource: string): Promise<StoredObject[]> {
    return this.#sql.transaction((sql) => {
      const [bodies, meta] = sql.rows(SELECT_RESOURCE_SQL, [id, resource])[0] as [Buffer | null, string];
      return storedObjects(bodies, meta);
    });
  }

  async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    await this.#sql.transaction((sql) => writeSync(sql, pending, deletions));
  }
}

/** An object as `SELECT_OBJECTS_SQL` describes it: resource, namespace, name, digest, body's bytes. */
type ObjectMeta = [string, string, string, string | null, number];

/** The objects of one `SELECT_OBJECTS_SQL` row, each body its bytes in `bodies`. */
function storedObjects(bodies: Buffer | null, meta: string): StoredObject[] {
  // A cluster without objects: no bodies (null), an empty list.
  const buffer = bodies ?? NO_BODIES;
  const objects: StoredObject[] = [];
  let start = 0;
  for (const [resource, namespace, name, digest, bytes] of JSON.parse(meta) as ObjectMeta[]) {
    objects.push({ resource, namespace, name, digest, body: new BodyBytes(buffer, start, start + bytes) });
    start += bytes;
  }
  if (start !== buffer.length)
    throw new Error(`emulator load: ${buffer.length} bytes of bodies, ${start} described`);
  return objects;
}

const NO_BODIES = Buffer.alloc(0);

const DELETE_CLUSTER_OBJECTS_SQL = 'delete from "emulator_objects" where "cluster_id" = ?';
const DELETE_CLUSTER_SQL = 'delete from "emulator_clusters" where "id" = ?';
const UPSERT_META_SQL =
  'insert into "emulator_clusters" ("id", "version", "node_count", "resource_version", "busy", "created_at") ' +
  'values (?, ?, ?, ?, ?, ?) on conflict ("id") do update set "version" = excluded."version", ' +
  '"node_count" = excluded."node_count", "resource_version" = excluded."resource_version", "busy" = excluded."busy"';
const DELETE_OBJECT_SQL =
  'delete from "emulator_objects" where "cluster_id" = ? and "resource" = ? and "namespace" = ? and "name" = ?';
const UPSERT_OBJECT_SQL =
  'insert into "emulator_objects" ("cluster_id", "resource", "namespace", "name", "body", "digest") ' +
  'values (?, ?, ?, ?, ?, ?) on conflict ("cluster_id", "resource", "namespace", "name") ' +
  'do update set "body" = excluded."body", "digest" = excluded."digest"';

/** Deletions, then metas, then objects: the same rows as the PostgreSQL writer writes. */
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
      if (object.source === null) {
        sql.run(DELETE_OBJECT_SQL, [clusterId, object.resource, object.namespace, object.name]);
      } else {
        const { body, digest } = object.source.row();
        sql.run(UPSERT_OBJECT_SQL, [clusterId, object.resource, object.namespace, object.name, body, digest]);
      }
    }
  }
}
