import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The generation of a cluster's last `POST …/restart` (0: never restarted): the reconciler
 * restarts the control plane once for it. Another branch may add a migration in parallel:
 * renumber at merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema
    .alterTable('clusters')
    .addColumn('restart_generation', 'integer', (column) => column.notNull().defaultTo(0))
    .execute();
}
