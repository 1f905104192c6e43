import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * Tables of the emulated clusters' Kubernetes API (src/emulator). Objects are stored whole, as
 * JSON text, keyed by (cluster, resource, namespace, name): the emulator keeps each cluster in
 * memory and writes changes through, so no query ever looks inside the JSON.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('emulator_clusters')
    .addColumn('id', 'text', (column) => column.primaryKey())
    .addColumn('version', 'text', (column) => column.notNull())
    .addColumn('node_count', 'integer', (column) => column.notNull())
    /** The cluster's last `metadata.resourceVersion` (a per-cluster counter). */
    .addColumn('resource_version', 'bigint', (column) => column.notNull())
    /** 1 while a controller has work in flight (rollout, starting pods): resumed on start. */
    .addColumn('busy', 'integer', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute();

  await db.schema
    .createTable('emulator_objects')
    .addColumn('cluster_id', 'text', (column) => column.notNull())
    .addColumn('resource', 'text', (column) => column.notNull())
    /** '' for cluster-scoped resources (nodes, namespaces). */
    .addColumn('namespace', 'text', (column) => column.notNull())
    .addColumn('name', 'text', (column) => column.notNull())
    .addColumn('body', 'text', (column) => column.notNull())
    .addPrimaryKeyConstraint('emulator_objects_pk', ['cluster_id', 'resource', 'namespace', 'name'])
    .execute();
}
