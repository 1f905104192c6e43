import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * Node pools: a cluster's pools and their nodes, as JSON in its row (a pool change is a cluster
 * change: one row, one transaction, one generation for the reconciler). A cluster created before
 * gets one pool, `default`, holding the nodes it has: same count, same Node names (the emulator's
 * `node-<cluster>-<index>`), applied already (generation 0).
 * Another branch may add a migration in parallel: renumber at merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .alterTable('clusters')
    .addColumn('node_pools', 'text', (column) => column.notNull().defaultTo('[]'))
    .execute();
  const clusters = db as unknown as Kysely<{
    clusters: { id: string; node_count: number; created_at: string; node_pools: string };
  }>;
  const rows = await clusters.selectFrom('clusters').select(['id', 'node_count', 'created_at']).execute();
  for (const row of rows) {
    const short =
      row.id
        .replace(/[^a-z0-9]/gi, '')
        .toLowerCase()
        .slice(0, 8) || 'cluster';
    const nodes = Array.from({ length: Number(row.node_count) }, (_, index) => ({
      id: crypto.randomUUID(),
      name: `node-${short}-${index}`,
      generation: 0,
      createdAt: row.created_at,
    }));
    const pool = {
      id: crypto.randomUUID(),
      name: 'default',
      flavor: 'b3-8',
      desiredNodes: nodes.length,
      minNodes: 0,
      maxNodes: Math.max(100, nodes.length),
      autoscale: false,
      antiAffinity: false,
      monthlyBilled: false,
      autoscaling: {
        scaleDownUnneededTimeSeconds: 600,
        scaleDownUnreadyTimeSeconds: 1200,
        scaleDownUtilizationThreshold: 0.5,
      },
      template: {
        metadata: { annotations: {}, finalizers: [], labels: {} },
        spec: { taints: [], unschedulable: false },
      },
      availabilityZones: [],
      attachFloatingIps: null,
      nodes,
      status: 'INSTALLING',
      generation: 0,
      createdAt: row.created_at,
      updatedAt: row.created_at,
    };
    await clusters
      .updateTable('clusters')
      .set({ node_pools: JSON.stringify([pool]) })
      .where('id', '=', row.id)
      .execute();
  }
}
