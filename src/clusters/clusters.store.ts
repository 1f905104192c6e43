/**
 * Clusters and their change history. Every accepted change is one transaction: read the current
 * row (locked where the engine can), compute the next one, write it and its history row.
 *
 * With the `exclusiveWriter` capability (embedded SQLite: this process owns every write), the
 * current rows are also kept in memory, updated inside each write transaction, so reads on the
 * hot path (GET cluster, GET customization) never touch the database.
 *
 * On PostgreSQL several processes write the same rows, so reads always ask the database (one
 * prepared statement); a change is one statement (one round trip, one implicit transaction)
 * guarded by optimistic concurrency on the row version (see #updatePostgres).
 */
import type { Selectable, Transaction } from 'kysely';
import type { Database } from '../db/database.ts';
import type { PostgresQuery, PostgresSql } from '../db/postgres-sql.ts';
import type { ClusterTable, Schema } from '../db/schema.ts';
import type { ExclusiveSql } from '../db/sqlite-statement-cache.ts';
import { enqueueFromSql, enqueueInTransaction, enqueueSync, notifyWork } from '../reconcile/work-queue.ts';
import type { ClusterRecord } from './clusters.model.ts';

export type HistoryAction = 'create' | 'customize' | 'reset' | 'delete';

export interface ClusterChange {
  readonly next: ClusterRecord;
  /** Appends a history row when the change is one the reconciler must apply. */
  readonly history?: HistoryAction;
}

/** Optimistic attempts of a PostgreSQL change before it takes the row lock instead. */
const OPTIMISTIC_ATTEMPTS = 3;
/** Bound of the PostgreSQL row-version memory (it is only a hint: losing it costs one read). */
const MAX_KNOWN = 10_000;

/** A cluster row with its version. */
interface Versioned {
  readonly cluster: ClusterRecord;
  /** PostgreSQL's `xmin` of the row: every committed update of the row changes it. */
  readonly rowVersion: string;
}

export class ClusterStore {
  readonly #database: Database;
  readonly #cache: Map<string, ClusterRecord> | undefined;
  /**
   * PostgreSQL: the version of each cluster this process last wrote, the base of its next change
   * (if another process wrote since, that change's statement returns the current row instead).
   */
  readonly #known = new Map<string, Versioned>();
  /** PostgreSQL: the tail of each cluster's in-process change queue. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(database: Database) {
    this.#database = database;
    this.#cache = database.engine === 'sqlite' ? new Map() : undefined;
  }

  async insert(cluster: ClusterRecord): Promise<void> {
    await this.#database.db.transaction().execute(async (trx) => {
      await trx.insertInto('clusters').values(toRow(cluster)).execute();
      await insertHistory(trx, cluster, 'create');
      await enqueueInTransaction(trx, cluster.id, cluster.generation);
      this.#cache?.set(cluster.id, cluster);
    });
    notifyWork();
  }

  /** The cluster, deleted ones included (callers decide what a deleted cluster means). */
  async get(id: string): Promise<ClusterRecord | undefined> {
    const cached = this.#cache?.get(id);
    if (cached !== undefined) return cached;
    const postgresSql = this.#database.engine === 'postgres' ? this.#database.postgresSql : undefined;
    // Always from the database: other processes write too.
    if (postgresSql !== undefined) return (await this.#read(postgresSql, id, false))?.cluster;
    const row = await this.#database.db
      .selectFrom('clusters')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const cluster = fromRow(row);
    this.#cache?.set(id, cluster);
    return cluster;
  }

  async listIds(projectId: string): Promise<string[]> {
    const rows = await this.#database.db
      .selectFrom('clusters')
      .select('id')
      .where('project_id', '=', projectId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /**
   * Applies `change` to the current state of cluster `id` in one transaction. `change` may throw
   * (validation, conflict): nothing is written then. Returns the new state, or undefined when the
   * cluster does not exist.
   */
  async update(
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
  ): Promise<ClusterRecord | undefined> {
    const exclusiveSql = this.#database.engine === 'sqlite' ? this.#database.exclusiveSql : undefined;
    if (this.#cache !== undefined && exclusiveSql !== undefined)
      return this.#updateSync(exclusiveSql, id, change);
    const postgresSql = this.#database.engine === 'postgres' ? this.#database.postgresSql : undefined;
    if (postgresSql !== undefined) {
      return this.#oneAtATime(id, () => this.#updatePostgres(postgresSql, id, change));
    }
    let enqueued = false;
    try {
      const next = await this.#database.db.transaction().execute(async (trx) => {
        let query = trx.selectFrom('clusters').selectAll().where('id', '=', id);
        if (this.#database.engine === 'postgres') query = query.forUpdate();
        const row = await query.executeTakeFirst();
        if (row === undefined) return undefined;
        const { next, history } = change(fromRow(row));
        await trx.updateTable('clusters').set(mutableColumns(next)).where('id', '=', id).execute();
        if (history !== undefined) {
          await insertHistory(trx, next, history);
          await enqueueInTransaction(trx, id, next.generation);
          enqueued = true;
        }
        this.#cache?.set(id, next);
        return next;
      });
      if (enqueued) notifyWork();
      return next;
    } catch (error) {
      // The commit itself may have failed after the cache was updated.
      this.#cache?.delete(id);
      throw error;
    }
  }

  /**
   * The embedded engine's path: the current state comes from memory and the whole change is one
   * synchronous SQLite transaction (same rows as the Kysely path, written with the same builders).
   */
  async #updateSync(
    exclusiveSql: ExclusiveSql,
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
  ): Promise<ClusterRecord | undefined> {
    const cache = this.#cache!;
    let enqueued = false;
    try {
      const next = await exclusiveSql.transaction((sql) => {
        let current = cache.get(id);
        if (current === undefined) {
          const row = sql.get<Selectable<ClusterTable>>('select * from "clusters" where "id" = ?', [id]);
          if (row === undefined) return undefined;
          current = fromRow(row);
        }
        const { next, history } = change(current);
        const row = mutableColumns(next);
        const columns = Object.keys(row) as Array<keyof typeof row>;
        sql.run(
          `update "clusters" set ${columns.map((column) => `"${column}" = ?`).join(', ')} where "id" = ?`,
          [...columns.map((column) => row[column]), id],
        );
        if (history !== undefined) {
          const entry = historyRow(next, history);
          const historyColumns = Object.keys(entry) as Array<keyof typeof entry>;
          sql.run(
            `insert into "cluster_history" (${historyColumns.map((column) => `"${column}"`).join(', ')}) values (${historyColumns.map(() => '?').join(', ')})`,
            historyColumns.map((column) => entry[column]),
          );
          enqueueSync(sql, id, next.generation);
          enqueued = true;
        }
        cache.set(id, next);
        return next;
      });
      if (enqueued) notifyWork();
      return next;
    } catch (error) {
      cache.delete(id);
      throw error;
    }
  }

  /**
   * The PostgreSQL path. The change is computed from the version this process last wrote (read
   * first if none), then written by one statement that applies only if the row still has that
   * version (`xmin`, which every committed update of the row changes, whoever makes it): the
   * cluster row, its history row and the reconcile work, or nothing. When another process changed
   * the row meanwhile, the same statement returns the current row instead, and the change is
   * computed again from it. After OPTIMISTIC_ATTEMPTS lost races the change takes the row lock
   * (SELECT … FOR UPDATE), so a hot row shared by many processes still makes progress.
   *
   * Changes of one cluster made by this process run one at a time (#oneAtATime): they would only
   * race each other, and in order each one's base is the version the previous one wrote.
   */
  async #updatePostgres(
    sql: PostgresSql,
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
  ): Promise<ClusterRecord | undefined> {
    let base = this.#known.get(id);
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      base ??= await this.#read(sql, id, false);
      if (base === undefined) return undefined;
      const { next, history } = change(base.cluster);
      const outcome = await this.#write(sql, id, base.rowVersion, next, history);
      if ('rowVersion' in outcome) {
        if (history !== undefined) notifyWork();
        return next;
      }
      base = outcome.current;
      if (base === undefined) return undefined;
    }
    // Forgotten if the commit fails: the version this transaction wrote may not exist.
    const written = await this.#forgetOnError(id, () =>
      sql.transaction(async (trx) => {
        const current = await this.#read(trx, id, true);
        if (current === undefined) return undefined;
        const { next, history } = change(current.cluster);
        const outcome = await this.#write(trx, id, current.rowVersion, next, history);
        // The row is locked by this transaction: nobody else can have changed it.
        if (!('rowVersion' in outcome)) throw new Error(`Cluster ${id} changed under its row lock`);
        return { next, history };
      }),
    );
    if (written?.history !== undefined) notifyWork();
    return written?.next;
  }

  /** The row and its version, as of now (no in-process memory involved). */
  async #read(sql: PostgresQuery, id: string, lock: boolean): Promise<Versioned | undefined> {
    const rows = await sql.query<{ row_version: string; row: Selectable<ClusterTable> }>(
      lock ? 'mks_cluster_read_locked' : 'mks_cluster_read',
      lock ? READ_LOCKED_SQL : READ_SQL,
      [id],
    );
    const row = rows[0];
    return row === undefined ? undefined : { cluster: fromRow(row.row), rowVersion: row.row_version };
  }

  /**
   * Writes `next` if the row still has version `expected`: its new version then; otherwise the
   * current row (undefined if there is none), and nothing was written.
   */
  async #write(
    sql: PostgresQuery,
    id: string,
    expected: string,
    next: ClusterRecord,
    history: HistoryAction | undefined,
  ): Promise<{ rowVersion: string } | { current: Versioned | undefined }> {
    const row = mutableColumns(next);
    const values: unknown[] = [id, expected, ...MUTABLE_COLUMNS.map((column) => row[column])];
    if (history !== undefined) values.push(history, Date.now());
    const rows = await this.#forgetOnError(id, () =>
      sql.query<{ row_version: string; current: Selectable<ClusterTable> | null }>(
        history === undefined ? 'mks_cluster_change' : 'mks_cluster_change_history',
        history === undefined ? CHANGE_SQL : CHANGE_WITH_HISTORY_SQL,
        values,
      ),
    );
    const result = rows[0];
    if (result === undefined) {
      this.#known.delete(id);
      return { current: undefined };
    }
    if (result.current === null) {
      this.#remember({ cluster: next, rowVersion: result.row_version });
      return { rowVersion: result.row_version };
    }
    return { current: { cluster: fromRow(result.current), rowVersion: result.row_version } };
  }

  #remember(versioned: Versioned): void {
    if (this.#known.size >= MAX_KNOWN && !this.#known.has(versioned.cluster.id)) this.#known.clear();
    this.#known.set(versioned.cluster.id, versioned);
  }

  /** A failed statement may or may not have committed: the known version is no longer trusted. */
  async #forgetOnError<T>(id: string, statement: () => Promise<T>): Promise<T> {
    try {
      return await statement();
    } catch (error) {
      this.#known.delete(id);
      throw error;
    }
  }

  /** Runs `work` after every earlier call for the same cluster has settled. */
  #oneAtATime<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id);
    const run = previous === undefined ? work() : previous.then(work);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return run;
  }

  async history(id: string) {
    return this.#database.db
      .selectFrom('cluster_history')
      .selectAll()
      .where('cluster_id', '=', id)
      .orderBy('id')
      .execute();
  }
}

/** The columns a PostgreSQL change writes, in the order of its parameters $3, $4, … */
const MUTABLE_COLUMNS = [
  'name',
  'region',
  'version',
  'update_policy',
  'kube_proxy_mode',
  'customization',
  'node_count',
  'plan',
  'private_network_id',
  'nodes_subnet_id',
  'load_balancers_subnet_id',
  'private_network_configuration',
  'status',
  'status_message',
  'generation',
  'observed_generation',
  'token_epoch',
  'updated_at',
  'deleted_at',
] as const satisfies ReadonlyArray<keyof ReturnType<typeof mutableColumns>>;

const READ_SQL =
  'select "xmin"::text as "row_version", row_to_json("clusters") as "row" from "clusters" where "id" = $1';
const READ_LOCKED_SQL = `${READ_SQL} for update`;

/**
 * One statement, so one implicit transaction: the row update if the row version is still $2, and
 * with it (data-modifying CTEs reading the updated row) the history row and the reconcile work.
 * It returns the new row version, or, when the update did not apply, the current row.
 */
function changeSql(withHistory: boolean): string {
  const assignments = MUTABLE_COLUMNS.map((column, index) => `"${column}" = $${index + 3}`).join(', ');
  const action = `$${MUTABLE_COLUMNS.length + 3}::text`;
  const notBefore = `$${MUTABLE_COLUMNS.length + 4}::bigint`;
  const parts = [
    `with "changed" as (update "clusters" set ${assignments} where "id" = $1 and "xmin" = $2::xid ` +
      'returning "xmin"::text as "row_version", "id", "generation", "kube_proxy_mode", "version", "customization", "updated_at")',
  ];
  if (withHistory) {
    parts.push(
      '"history" as (insert into "cluster_history" ("cluster_id", "generation", "action", "kube_proxy_mode", "version", "customization", "created_at") ' +
        `select "id", "generation", ${action}, "kube_proxy_mode", "version", "customization", "updated_at" from "changed")`,
      `"work" as (${enqueueFromSql('"changed"', notBefore)})`,
    );
  }
  return (
    `${parts.join(', ')} select "row_version", null::json as "current" from "changed" union all ` +
    'select "xmin"::text, row_to_json("clusters") from "clusters" where "id" = $1 and not exists (select from "changed")'
  );
}
const CHANGE_SQL = changeSql(false);
const CHANGE_WITH_HISTORY_SQL = changeSql(true);

function historyRow(cluster: ClusterRecord, action: HistoryAction) {
  return {
    cluster_id: cluster.id,
    generation: cluster.generation,
    action,
    kube_proxy_mode: cluster.kubeProxyMode,
    version: cluster.version,
    customization: JSON.stringify(cluster.customization),
    created_at: cluster.updatedAt,
  };
}

async function insertHistory(trx: Transaction<Schema>, cluster: ClusterRecord, action: HistoryAction) {
  await trx.insertInto('cluster_history').values(historyRow(cluster, action)).execute();
}

/**
 * The columns an update writes. Immutable ones stay out: rewriting the primary key, even to the
 * same value, makes SQLite re-check every foreign key pointing at it (measured: 6× the cost).
 */
function mutableColumns(cluster: ClusterRecord): Omit<ClusterTable, 'id' | 'project_id' | 'created_at'> {
  const { id: _id, project_id: _project, created_at: _created, ...mutable } = toRow(cluster);
  return mutable;
}

function toRow(cluster: ClusterRecord): ClusterTable {
  return {
    id: cluster.id,
    project_id: cluster.projectId,
    name: cluster.name,
    region: cluster.region,
    version: cluster.version,
    update_policy: cluster.updatePolicy,
    kube_proxy_mode: cluster.kubeProxyMode,
    customization: JSON.stringify(cluster.customization),
    node_count: cluster.nodeCount,
    plan: cluster.plan,
    private_network_id: cluster.privateNetworkId,
    nodes_subnet_id: cluster.nodesSubnetId,
    load_balancers_subnet_id: cluster.loadBalancersSubnetId,
    private_network_configuration:
      cluster.privateNetworkConfiguration === null
        ? null
        : JSON.stringify(cluster.privateNetworkConfiguration),
    status: cluster.status,
    status_message: cluster.statusMessage,
    generation: cluster.generation,
    observed_generation: cluster.observedGeneration,
    token_epoch: cluster.tokenEpoch,
    created_at: cluster.createdAt,
    updated_at: cluster.updatedAt,
    deleted_at: cluster.deletedAt,
  };
}

function fromRow(row: Selectable<ClusterTable>): ClusterRecord {
  return Object.freeze({
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    region: row.region,
    version: row.version,
    updatePolicy: row.update_policy as ClusterRecord['updatePolicy'],
    kubeProxyMode: row.kube_proxy_mode,
    customization: JSON.parse(row.customization),
    nodeCount: row.node_count,
    plan: row.plan,
    privateNetworkId: row.private_network_id,
    nodesSubnetId: row.nodes_subnet_id,
    loadBalancersSubnetId: row.load_balancers_subnet_id,
    privateNetworkConfiguration:
      row.private_network_configuration === null ? null : JSON.parse(row.private_network_configuration),
    status: row.status as ClusterRecord['status'],
    statusMessage: row.status_message,
    generation: Number(row.generation),
    observedGeneration: Number(row.observed_generation),
    tokenEpoch: Number(row.token_epoch),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  });
}
