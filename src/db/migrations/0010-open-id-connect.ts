import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * OpenID Connect of a cluster's Kubernetes API: JSON in its row, null when not configured.
 * Another branch may add a migration in parallel: renumber at merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.alterTable('clusters').addColumn('open_id_connect', 'text').execute();
}
