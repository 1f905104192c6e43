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

/**
 * The history row of a change (`change.history` set): what it made, and who asked. `customization`
 * is the cluster's customization serialized, when the caller has it already.
 */
export function historyRow(
  cluster: ClusterRecord,
  change: ClusterChange & { history: HistoryAction },
  customization: string = JSON.stringify(cluster.customization),
) {
  return {
    cluster_id: cluster.id,
    generation: cluster.generation,
    action: change.history,
    kube_proxy_mode: cluster.kubeProxyMode,
    version: cluster.version,
    customization,
    created_at: cluster.updatedAt,
    ...auditColumns(change),
  };
}

/** A column of a history row (`historyRow`'s keys). */
export type HistoryColumn = keyof ReturnType<typeof historyRow>;

/** Every column of a history row, in `historyRow`'s order (the compiler checks none is missing). */
export const HISTORY_COLUMNS = Object.keys({
  cluster_id: true,
  generation: true,
  action: true,
  kube_proxy_mode: true,
  version: true,
  customization: true,
  created_at: true,
  application_id: true,
  credential_id: true,
  source_ip: true,
  query_id: true,
  source_generation: true,
  note: true,
} satisfies Record<HistoryColumn, true>) as readonly HistoryColumn[];

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

/** The columns an update may write (immutable ones stay out, see `mutableColumns`). */
export type MutableColumns = Omit<ClusterTable, 'id' | 'project_id' | 'created_at'>;

/** The record's fields an update may change, each written to its column(s) by `WRITE_FIELD`. */
type MutableField = Exclude<keyof ClusterRecord, 'id' | 'projectId' | 'createdAt'>;

const json = (value: unknown): string => JSON.stringify(value);

/** How each mutable field is written to its row: one place for the mapping, all fields required. */
const WRITE_FIELD: {
  readonly [F in MutableField]: (row: Partial<MutableColumns>, cluster: ClusterRecord) => void;
} = {
  name: (row, cluster) => {
    row.name = cluster.name;
  },
  region: (row, cluster) => {
    row.region = cluster.region;
  },
  version: (row, cluster) => {
    row.version = cluster.version;
  },
  updatePolicy: (row, cluster) => {
    row.update_policy = cluster.updatePolicy;
  },
  kubeProxyMode: (row, cluster) => {
    row.kube_proxy_mode = cluster.kubeProxyMode;
  },
  customization: (row, cluster) => {
    row.customization = json(cluster.customization);
  },
  nodePools: (row, cluster) => {
    row.node_count = cluster.nodePools.reduce((sum, pool) => sum + pool.nodes.length, 0);
    row.node_pools = json(cluster.nodePools);
  },
  ipRestrictions: (row, cluster) => {
    row.ip_restrictions = json(cluster.ipRestrictions);
  },
  openIdConnect: (row, cluster) => {
    row.open_id_connect = cluster.openIdConnect === null ? null : json(cluster.openIdConnect);
  },
  plan: (row, cluster) => {
    row.plan = cluster.plan;
  },
  privateNetworkId: (row, cluster) => {
    row.private_network_id = cluster.privateNetworkId;
  },
  nodesSubnetId: (row, cluster) => {
    row.nodes_subnet_id = cluster.nodesSubnetId;
  },
  loadBalancersSubnetId: (row, cluster) => {
    row.load_balancers_subnet_id = cluster.loadBalancersSubnetId;
  },
  privateNetworkConfiguration: (row, cluster) => {
    row.private_network_configuration =
      cluster.privateNetworkConfiguration === null ? null : json(cluster.privateNetworkConfiguration);
  },
  status: (row, cluster) => {
    row.status = cluster.status;
  },
  statusMessage: (row, cluster) => {
    row.status_message = cluster.statusMessage;
  },
  generation: (row, cluster) => {
    row.generation = cluster.generation;
  },
  observedGeneration: (row, cluster) => {
    row.observed_generation = cluster.observedGeneration;
  },
  restartGeneration: (row, cluster) => {
    row.restart_generation = cluster.restartGeneration;
  },
  tokenEpoch: (row, cluster) => {
    row.token_epoch = cluster.tokenEpoch;
  },
  updatedAt: (row, cluster) => {
    row.updated_at = cluster.updatedAt;
  },
  deletedAt: (row, cluster) => {
    row.deleted_at = cluster.deletedAt;
  },
};

const MUTABLE_FIELDS = Object.keys(WRITE_FIELD) as MutableField[];

/**
 * The columns an update writes. Immutable ones stay out: rewriting the primary key, even to the
 * same value, makes SQLite re-check every foreign key pointing at it, which costs several times
 * the update itself (docs/performance.md).
 */
export function mutableColumns(cluster: ClusterRecord): MutableColumns {
  const row: Partial<MutableColumns> = {};
  for (const field of MUTABLE_FIELDS) WRITE_FIELD[field](row, cluster);
  return row as MutableColumns;
}

/**
 * Only the columns whose field `next` changed from `current`, compared by identity: records are
 * immutable all the way down (`freezeRecord`), so a field holding the same value as before is
 * unchanged, and one holding a new object is serialized and written.
 */
export function changedColumns(current: ClusterRecord, next: ClusterRecord): Partial<MutableColumns> {
  const row: Partial<MutableColumns> = {};
  for (const field of MUTABLE_FIELDS) {
    if (current[field] !== next[field]) WRITE_FIELD[field](row, next);
  }
  return row;
}

/**
 * Freezes `cluster` and, deeply, the values of its fields that `previous` does not share (all of
 * them without `previous`): a nested value mutated in place would throw instead of being missed by
 * `changedColumns`. Returns `cluster`.
 */
export function freezeRecord(cluster: ClusterRecord, previous?: ClusterRecord): ClusterRecord {
  Object.freeze(cluster);
  for (const field of MUTABLE_FIELDS) {
    const value = cluster[field];
    if (previous === undefined || previous[field] !== value) deepFreeze(value);
  }
  return cluster;
}

function deepFreeze(value: unknown): void {
  // Not skipped when already frozen: a shallowly frozen object may still hold mutable ones.
  if (typeof value !== 'object' || value === null) return;
  Object.freeze(value);
  for (const nested of Object.values(value)) deepFreeze(nested);
}

function toRow(cluster: ClusterRecord): ClusterTable {
  return {
    id: cluster.id,
    project_id: cluster.projectId,
    created_at: cluster.createdAt,
    ...mutableColumns(cluster),
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
