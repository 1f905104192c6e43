/**
 * The emulator store on SQLite. A cluster read is one synchronous transaction of prepared
 * statements on the main connection (a load through Kysely's async queries cost a tenth of the
 * load: docs/performance.md, "Sixth round: loading an evicted cluster"); it sees every commit
 * `flush()` awaited. On a database file the commits run in the database's connection thread
 * (`SqliteDatabase.thread`, src/db/sqlite-thread.ts): the main thread makes the rows' texts, sends
 * them and awaits the commit, and its event loop serves requests meanwhile (docs/performance.md,
 * "Ninth round: the emulator store's SQLite off the main thread", where the loads read in the
 * thread were measured and not kept). An in-memory database (no other connection sees it)
 * commits on the main connection too. One process writes, so there is nothing to fence.
 */
import type { Selectable } from 'kysely';
import type { SqliteDatabase } from '../../db/database.ts';
import type { EmulatorClusterTable } from '../../db/schema.ts';
import type { ExclusiveSql } from '../../db/sqlite-statement-cache.ts';
import type { SqliteThread } from '../../db/sqlite-thread.ts';
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
  readonly #thread: SqliteThread | undefined;

  constructor(database: SqliteDatabase) {
    this.#sql = database.exclusiveSql;
    this.#thread = database.thread;
  }

  load(id: string): Promise<StoredCluster | undefined> {
    return this.#sql.transaction((sql) => {
      const row = sql.get<Selectable<EmulatorClusterTable>>(SELECT_CLUSTER_SQL, [id]);
      if (row === undefined) return undefined;
      return { meta: metaOf(row), objects: sql.all<StoredObject>(SELECT_OBJECTS_SQL, [id]) };
    });
  }

  async write(pending: Map<string, PendingCluster>, deletions: Set<string>): Promise<void> {
    const { statements, parameters } = statementsOf(pending, deletions);
    if (this.#thread !== undefined) return this.#thread.write(TEXTS, statements, parameters);
    await this.#sql.transaction((sql) => {
      for (let index = 0; index < statements.length; index++)
        sql.run(TEXTS[statements[index]!]!, parameters[index]!);
    });
  }
}

/** The commit's statements, by index into TEXTS. */
const DELETE_CLUSTER_OBJECTS = 0;
const DELETE_CLUSTER = 1;
const UPSERT_META = 2;
const DELETE_OBJECT = 3;
const UPSERT_OBJECT = 4;
const TEXTS: readonly string[] = [
  'delete from "emulator_objects" where "cluster_id" = ?',
  'delete from "emulator_clusters" where "id" = ?',
  'insert into "emulator_clusters" ("id", "version", "node_count", "resource_version", "busy", "created_at") ' +
    'values (?, ?, ?, ?, ?, ?) on conflict ("id") do update set "version" = excluded."version", ' +
    '"node_count" = excluded."node_count", "resource_version" = excluded."resource_version", "busy" = excluded."busy"',
  'delete from "emulator_objects" where "cluster_id" = ? and "resource" = ? and "namespace" = ? and "name" = ?',
  'insert into "emulator_objects" ("cluster_id", "resource", "namespace", "name", "body", "digest") ' +
    'values (?, ?, ?, ?, ?, ?) on conflict ("cluster_id", "resource", "namespace", "name") ' +
    'do update set "body" = excluded."body", "digest" = excluded."digest"',
];

/**
 * The commit's statements in order, each with its values: deletions, then metas, then objects
 * (the same rows as the PostgreSQL writer writes). The objects' texts are made here.
 */
function statementsOf(
  pending: Map<string, PendingCluster>,
  deletions: Set<string>,
): { statements: number[]; parameters: unknown[][] } {
  const statements: number[] = [];
  const parameters: unknown[][] = [];
  for (const id of deletions) {
    statements.push(DELETE_CLUSTER_OBJECTS, DELETE_CLUSTER);
    parameters.push([id], [id]);
  }
  for (const entry of pending.values()) {
    const m = entry.meta;
    if (m === undefined) continue;
    statements.push(UPSERT_META);
    parameters.push([m.id, m.version, m.nodeCount, m.resourceVersion, m.busy ? 1 : 0, m.createdAt]);
  }
  for (const [clusterId, entry] of pending) {
    for (const object of entry.objects.values()) {
      if (object.row === null) {
        statements.push(DELETE_OBJECT);
        parameters.push([clusterId, object.resource, object.namespace, object.name]);
      } else {
        const { body, digest } = object.row();
        statements.push(UPSERT_OBJECT);
        parameters.push([clusterId, object.resource, object.namespace, object.name, body, digest]);
      }
    }
  }
  return { statements, parameters };
}
