import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * One index on the history per cluster instead of two. `cluster_history_generation`
 * (cluster_id, generation) serves every lookup: a cluster's rows (read sorted by id, a short sort
 * of one cluster's rows), an outcome's row (cluster and generation), and the foreign key's check
 * when a cluster row goes. `cluster_history_cluster` (cluster_id, id) only spared that sort, and
 * every change paid for it: its insert is about 2.5 µs of a change's 17 µs of SQLite work in a
 * group of 8 (docs/performance.md). Another branch may add a migration in parallel: renumber at
 * merge if needed.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  await db.schema.dropIndex('cluster_history_cluster').ifExists().execute();
}
