import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * Scale-out: the installation's local CA, shared by every process through the database (one row,
 * id 1): its certificate, and its private key sealed with the installation key. API processes
 * sign their HTTPS certificates with it, so any of them presents a certificate the kubeconfigs
 * trust, and workers verify them, with no shared data directory. Unused on the embedded default.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .createTable('installation_ca')
    .addColumn('id', 'integer', (column) => column.primaryKey())
    .addColumn('cert_pem', 'text', (column) => column.notNull())
    .addColumn('key_sealed', 'text', (column) => column.notNull())
    .execute();
}
