/**
 * The cluster store on the embedded engine (SQLite). This process owns every write, so the current
 * rows are also kept in memory, updated inside each write transaction: reads on the hot path (GET
 * cluster, GET customization) never touch the database, and a change is one synchronous SQLite
 * transaction (see db/sqlite-statement-cache.ts) based on the row in memory. Concurrent changes
 * share one commit (group commit, `exclusiveSql.grouped`). The rows in
 * memory are bounded (least recently used go first): a row not there is read from the database.
 */
import type { Selectable } from 'kysely';
import type { SqliteDatabase } from '../db/database.ts';
import type { ClusterTable } from '../db/schema.ts';
import { RowUpdate } from '../db/sqlite-statement-cache.ts';
import { enqueueSync, type WorkSignal } from './cluster-work.ts';
import type { ClusterRecord } from './clusters.model.ts';
import {
  changedColumns,
  clusterHistory,
  freezeRecord,
  fromRow,
  HISTORY_COLUMNS,
  historyRow,
  insertCluster,
  listClusterIds,
} from './clusters.rows.ts';
import type { Actor, AppliedOutcome, ClusterChange, ClusterStore, HistoryRow } from './clusters.store.ts';

/** Most cluster rows kept in memory (least recently used evicted first). */
export const MAX_CACHED_CLUSTERS = 4096;

/** A Map that keeps at most `bound` entries, dropping the least recently read or written. */
class RecentClusters {
  readonly #rows = new Map<string, ClusterRecord>();
  readonly #bound: number;

  constructor(bound: number) {
    this.#bound = bound;
  }

  get size(): number {
    return this.#rows.size;
  }

  /** The most recently used id: reading it again needs no reordering (a hot cluster's GETs). */
  #newest: string | undefined;

  get(id: string): ClusterRecord | undefined {
    const row = this.#rows.get(id);
    if (row !== undefined && id !== this.#newest) {
      this.#rows.delete(id);
      this.#rows.set(id, row);
      this.#newest = id;
    }
    return row;
  }

  set(id: string, row: ClusterRecord): void {
    // The most recently used row (a hot cluster's changes) is replaced in place: moving it to the
    // end again, as a delete and a set, cost 60 ns with one row held and 1.2 µs with 1,000
    // (docs/performance.md).
    if (id === this.#newest) {
      this.#rows.set(id, row);
      return;
    }
    this.#rows.delete(id);
    this.#rows.set(id, row);
    this.#newest = id;
    if (this.#rows.size > this.#bound) this.delete(this.#rows.keys().next().value!);
  }

  delete(id: string): void {
    this.#rows.delete(id);
    if (this.#newest === id) this.#newest = undefined;
  }
}

export class SqliteClusterStore implements ClusterStore {
  readonly #database: SqliteDatabase;
  readonly #signal: WorkSignal;
  readonly #cache: RecentClusters;

  constructor(database: SqliteDatabase, signal: WorkSignal, maxCached = MAX_CACHED_CLUSTERS) {
    this.#database = database;
    this.#signal = signal;
    this.#cache = new RecentClusters(maxCached);
  }

  /** Cluster rows held in memory now (at most the bound). */
  get cachedRows(): number {
    return this.#cache.size;
  }

  async insert(cluster: ClusterRecord, actor?: Actor): Promise<void> {
    await insertCluster(this.#database.db, cluster, actor, () =>
      this.#cache.set(cluster.id, freezeRecord(cluster)),
    );
    this.#signal.notify();
  }

  cached(id: string): ClusterRecord | undefined {
    return this.#cache.get(id);
  }

  async get(id: string): Promise<ClusterRecord | undefined> {
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const row = await this.#database.db
      .selectFrom('clusters')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const cluster = freezeRecord(fromRow(row));
    this.#cache.set(id, cluster);
    return cluster;
  }

  listIds(projectId: string): Promise<string[]> {
    return listClusterIds(this.#database.db, projectId);
  }

  /**
   * The current state comes from memory and the whole change is one synchronous SQLite
   * transaction (the same rows as the shared Kysely queries write, built from the same mappings).
   * Only the columns whose fields the change replaced are written (`changedColumns`): the records
   * held are frozen all the way down, so a field still holding its previous value is unchanged.
   */
  update(id: string, change: (current: ClusterRecord) => ClusterChange): Promise<ClusterRecord | undefined> {
    const cache = this.#cache;
    let enqueued = false;
    // Concurrent changes share one commit (group commit); each answer waits for it. A promise
    // chain, not `async`/`await`: the API's hot write (docs/performance.md).
    return this.#database.exclusiveSql
      .grouped((sql) => {
        let current = cache.get(id);
        if (current === undefined) {
          const row = sql.get<Selectable<ClusterTable>>('select * from "clusters" where "id" = ?', [id]);
          if (row === undefined) return undefined;
          current = freezeRecord(fromRow(row));
        }
        // The checks run here, before any write: a refused change writes nothing.
        const changed = change(current);
        const { next, history } = changed;
        const row = changedColumns(current, next);
        // Changes of one cluster in a group update its row once, with every column they set.
        if (!isEmpty(row)) sql.set(UPDATE_CLUSTER, id, row);
        enqueued = history !== undefined;
        if (history !== undefined) {
          const entry = historyRow(next, { ...changed, history }, row.customization);
          sql.run(
            INSERT_HISTORY_SQL,
            HISTORY_COLUMNS.map((column) => entry[column]),
          );
          // Written with the group's others, by one multi-row statement.
          enqueueSync(sql, id, next.generation);
        }
        if (changed.outcome !== undefined) {
          sql.run(RECORD_OUTCOME_SQL, recordOutcomeParams(id, changed.outcome));
        }
        cache.set(id, freezeRecord(next, current));
        // Not committed after all (the commit failed, or the group runs again): read it again.
        sql.undo(() => cache.delete(id));
        return next;
      })
      .then((next) => {
        if (enqueued) this.#signal.notify();
        return next;
      });
  }

  history(id: string): Promise<HistoryRow[]> {
    return clusterHistory(this.#database.db, id);
  }
}

/** True when `row` has no column (for … in: no array of its keys made). */
function isEmpty(row: object): boolean {
  for (const _column in row) return false;
  return true;
}

/** `update` of the columns a change set on one cluster (its group's changes of it together). */
const UPDATE_CLUSTER = new RowUpdate('clusters');

/**
 * `insert` of one history row. Not batched with the group's others: a multi-row insert of the
 * history of different clusters cost ≈ 2 µs more per change than one statement each
 * (docs/performance.md).
 */
const INSERT_HISTORY_SQL =
  `insert into "cluster_history" (${HISTORY_COLUMNS.map((column) => `"${column}"`).join(', ')}) ` +
  `values (${HISTORY_COLUMNS.map(() => '?').join(', ')})`;

/**
 * Records an outcome on its generation's history row, unless that row already says so: a resync
 * that finds the cluster as it was writes nothing. Bound as (cluster id, generation, outcome,
 * message, at), the same on both engines.
 */
const RECORD_OUTCOME_SQL =
  'update "cluster_history" set "outcome" = ?, "outcome_message" = ?, "outcome_at" = ? ' +
  'where "cluster_id" = ? and "generation" = ? and "action" not in (\'delete\', \'drift\', \'rollback\') ' +
  'and ("outcome" is null or "outcome" <> ? or coalesce("outcome_message", \'\') <> coalesce(?, \'\'))';

function recordOutcomeParams(clusterId: string, outcome: AppliedOutcome): unknown[] {
  return [
    outcome.status,
    outcome.message,
    outcome.at,
    clusterId,
    outcome.generation,
    outcome.status,
    outcome.message,
  ];
}
