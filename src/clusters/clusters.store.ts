/**
 * Clusters and their change history. Every accepted change is one transaction: read the current
 * row (locked where the engine can), compute the next one, write it and its history row.
 *
 * With the `exclusiveWriter` capability (embedded SQLite: this process owns every write), the
 * current rows are also kept in memory, updated inside each write transaction, so reads on the
 * hot path (GET cluster, GET customization) never touch the database.
 */
import type { Selectable, Transaction } from 'kysely';
import type { Database } from '../db/database.ts';
import type { ClusterTable, Schema } from '../db/schema.ts';
import type { ExclusiveSql } from '../db/sqlite-statement-cache.ts';
import { enqueueInTransaction, enqueueSync, notifyWork } from '../reconcile/work-queue.ts';
import type { ClusterRecord } from './clusters.model.ts';

export type HistoryAction = 'create' | 'customize' | 'reset' | 'delete';

export interface ClusterChange {
  readonly next: ClusterRecord;
  /** Appends a history row when the change is one the reconciler must apply. */
  readonly history?: HistoryAction;
}

export class ClusterStore {
  readonly #database: Database;
  readonly #cache: Map<string, ClusterRecord> | undefined;

  constructor(database: Database) {
    this.#database = database;
    this.#cache = database.capabilities.exclusiveWriter ? new Map() : undefined;
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
    const exclusiveSql = this.#database.exclusiveSql;
    if (this.#cache !== undefined && exclusiveSql !== undefined)
      return this.#updateSync(exclusiveSql, id, change);
    let enqueued = false;
    try {
      const next = await this.#database.db.transaction().execute(async (trx) => {
        let query = trx.selectFrom('clusters').selectAll().where('id', '=', id);
        if (this.#database.capabilities.skipLocked) query = query.forUpdate();
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

  async history(id: string) {
    return this.#database.db
      .selectFrom('cluster_history')
      .selectAll()
      .where('cluster_id', '=', id)
      .orderBy('id')
      .execute();
  }
}

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
