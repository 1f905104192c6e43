/**
 * A cluster as a `clusters` row and back, and the queries every engine runs the same way (through
 * Kysely); the engine files (clusters.store.sqlite.ts, clusters.store.postgres.ts) hold the rest.
 */
import type { Kysely, Selectable } from 'kysely';
import type { ClusterTable, Schema } from '../db/schema.ts';
import { enqueueInTransaction } from './cluster-work.ts';
import type { ClusterRecord } from './clusters.model.ts';
import type { Actor, ClusterChange, HistoryAction, HistoryRow } from './clusters.store.ts';

/**
 * Inserts a new cluster, its `create` history row and its reconcile work in one transaction.
 * `written` runs inside the transaction, after the writes (the SQLite store caches the row there).
 */
export async function insertCluster(
  db: Kysely<Schema>,
  cluster: ClusterRecord,
  actor: Actor | undefined,
  written?: () => void,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('clusters').values(toRow(cluster)).execute();
    await trx
      .insertInto('cluster_history')
      .values(historyRow(cluster, { next: cluster, history: 'create', ...(actor && { actor }) }))
      .execute();
    await enqueueInTransaction(trx, cluster.id, cluster.generation);
    written?.();
  });
}

/** The ids of a project's live clusters, oldest first. */
export async function listClusterIds(db: Kysely<Schema>, projectId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('clusters')
    .select('id')
    .where('project_id', '=', projectId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

/** A cluster's change history, oldest first, with the name of each change's application. */
export function clusterHistory(db: Kysely<Schema>, id: string): Promise<HistoryRow[]> {
  return db
    .selectFrom('cluster_history')
    .leftJoin('applications', 'applications.id', 'cluster_history.application_id')
    .selectAll('cluster_history')
    .select('applications.name as application_name')
    .where('cluster_history.cluster_id', '=', id)
    .orderBy('cluster_history.id')
    .execute();
}

/** The history row of a change (`change.history` set): what it made, and who asked. */
export function historyRow(cluster: ClusterRecord, change: ClusterChange & { history: HistoryAction }) {
  return {
    cluster_id: cluster.id,
    generation: cluster.generation,
    action: change.history,
    kube_proxy_mode: cluster.kubeProxyMode,
    version: cluster.version,
    customization: JSON.stringify(cluster.customization),
    created_at: cluster.updatedAt,
    ...auditColumns(change),
  };
}

/** The audit columns of a history row, in the order the PostgreSQL statement binds them. */
export function auditColumns(change: ClusterChange) {
  return {
    application_id: change.actor?.applicationId ?? null,
    credential_id: change.actor?.credentialId ?? null,
    source_ip: change.actor?.sourceIp ?? null,
    query_id: change.actor?.queryId ?? null,
    source_generation: change.sourceGeneration ?? null,
    note: change.note ?? null,
  };
}

/**
 * The columns an update writes. Immutable ones stay out: rewriting the primary key, even to the
 * same value, makes SQLite re-check every foreign key pointing at it, which costs several times
 * the update itself (docs/performance.md).
 */
export function mutableColumns(
  cluster: ClusterRecord,
): Omit<ClusterTable, 'id' | 'project_id' | 'created_at'> {
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
    node_count: cluster.nodePools.reduce((sum, pool) => sum + pool.nodes.length, 0),
    node_pools: JSON.stringify(cluster.nodePools),
    ip_restrictions: JSON.stringify(cluster.ipRestrictions),
    open_id_connect: cluster.openIdConnect === null ? null : JSON.stringify(cluster.openIdConnect),
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
    restart_generation: cluster.restartGeneration,
    token_epoch: cluster.tokenEpoch,
    created_at: cluster.createdAt,
    updated_at: cluster.updatedAt,
    deleted_at: cluster.deletedAt,
  };
}

export function fromRow(row: Selectable<ClusterTable>): ClusterRecord {
  return Object.freeze({
    id: row.id,
    projectId: row.project_id,
    name: row.name,
    region: row.region,
    version: row.version,
    updatePolicy: row.update_policy as ClusterRecord['updatePolicy'],
    kubeProxyMode: row.kube_proxy_mode,
    customization: JSON.parse(row.customization),
    nodePools: JSON.parse(row.node_pools),
    ipRestrictions: JSON.parse(row.ip_restrictions),
    openIdConnect: row.open_id_connect === null ? null : JSON.parse(row.open_id_connect),
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
    restartGeneration: Number(row.restart_generation),
    tokenEpoch: Number(row.token_epoch),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  });
}
