import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The reconciler's work queue: one row per live cluster, written in the same transaction as every
 * accepted change (so no change is ever lost), claimed by workers with a lease (owner + expiry).
 * Times are epoch milliseconds.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('reconcile_work')
    .addColumn('cluster_id', 'text', (column) => column.primaryKey())
    /** The cluster generation this row was last enqueued for. */
    .addColumn('generation', 'integer', (column) => column.notNull())
    .addColumn('not_before', 'bigint', (column) => column.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('attempts', 'integer', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('reconcile_work_due').on('reconcile_work').column('not_before').execute();
}
