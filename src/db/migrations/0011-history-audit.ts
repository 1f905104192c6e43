import type { Kysely } from 'kysely';
import type { Engine } from '../database.ts';

/**
 * The customization history as an audit trail: who made each change (application, credential,
 * source address, query id; the application's name is read from `applications`), which
 * generation a revert restored, what a drift repair restored (`note`), and the reconciler's
 * outcome of applying it. Every column is nullable: rows written before this migration, and
 * changes no request made, have none.
 */
export async function up(db: Kysely<unknown>, _engine: Engine): Promise<void> {
  const columns: ReadonlyArray<readonly [string, 'integer' | 'text']> = [
    ['application_id', 'integer'],
    ['credential_id', 'integer'],
    ['source_ip', 'text'],
    ['query_id', 'text'],
    ['source_generation', 'integer'],
    ['note', 'text'],
    ['outcome', 'text'],
    ['outcome_message', 'text'],
    ['outcome_at', 'text'],
  ];
  // One statement per column: SQLite's ALTER TABLE adds one at a time.
  for (const [name, type] of columns) {
    await db.schema.alterTable('cluster_history').addColumn(name, type).execute();
  }
  // History is read per cluster by generation (outcomes, reverts).
  await db.schema
    .createIndex('cluster_history_generation')
    .on('cluster_history')
    .columns(['cluster_id', 'generation'])
    .execute();
}
