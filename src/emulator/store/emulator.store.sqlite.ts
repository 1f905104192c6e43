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

const SELECT_CLUSTER_SQL = 'select * from "emulator_clusters" where "id" = ?';
const SELECT_OBJECTS_SQL =
  'select "resource", "namespace", "name", "body", "digest" from "emulator_objects" where "cluster_id" = ?';

export class SqliteEmulatorEngine implements EmulatorEngine {
  readonly #sql: ExclusiveSql;

  constructor(database: SqliteDatabase) {
    this.#sql = database.exclusiveSql;
  }

  load(id: string): Promise<StoredCluster | undefined> {
    return this.#sql.transaction((sql) => {
      const row = sql.get<Selectable<EmulatorClusterTable>>(SELECT_CLUSTER_SQL, [id]);
      if (row === undefined) return undefined;
      return { meta: metaOf(row), objects: sql.rows(SELECT_OBJECTS_SQL, [id]).map(storedObject) };
    });
  }

  async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    await this.#sql.transaction((sql) => writeSync(sql, pending, deletions));
  }
}

/** A row of `SELECT_OBJECTS_SQL`, read as an array (`SyncSql.rows`). */
const storedObject = (row: unknown[]): StoredObject => ({
  resource: row[0] as string,
  namespace: row[1] as string,
  name: row[2] as string,
  body: row[3] as string,
  digest: row[4] as string | null,
});

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
