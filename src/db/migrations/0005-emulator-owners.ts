import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * Scale-out: which process serves each emulated cluster (src/emulator/scale-out/ownership.postgres.ts). A lease:
 * the owner's id, the internal URL other processes forward the cluster's API calls to, and an
 * expiry in epoch milliseconds on the database's clock. Unused on the embedded default.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('emulator_owners')
    .addColumn('cluster_id', 'text', (column) => column.primaryKey())
    .addColumn('owner', 'text', (column) => column.notNull())
    .addColumn('url', 'text', (column) => column.notNull())
    .addColumn('expires_at', 'bigint', (column) => column.notNull())
    .execute();
  await db.schema.createIndex('emulator_owners_owner').on('emulator_owners').column('owner').execute();
}
