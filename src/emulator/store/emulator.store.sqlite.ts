/**
 * The emulator store's commit on SQLite: one synchronous transaction of prepared statements on
 * the embedded engine's exclusive connection. One process writes, so there is nothing to fence.
 */
import type { SqliteDatabase } from '../../db/database.ts';
import type { ExclusiveSql, SyncSql } from '../../db/sqlite-statement-cache.ts';
import type { EmulatorWriter, PendingCluster } from './emulator.store.ts';

export class SqliteEmulatorWriter implements EmulatorWriter {
  readonly #sql: ExclusiveSql;

  constructor(database: SqliteDatabase) {
    this.#sql = database.exclusiveSql;
  }

  async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    await this.#sql.transaction((sql) => writeSync(sql, pending, deletions));
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
