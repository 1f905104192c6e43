import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * IP restrictions of a cluster's Kubernetes API: a JSON array of canonical CIDR blocks in its row
 * (empty: every address is allowed). Another branch may add a migration in parallel: renumber at
 * merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .alterTable('clusters')
    .addColumn('ip_restrictions', 'text', (column) => column.notNull().defaultTo('[]'))
    .execute();
}
