/**
 * The reconcile outbox. Every accepted change the reconciler must apply enqueues its cluster in
 * the transaction that makes the change, so no change is ever lost, then wakes the workers of
 * this process. Work is keyed by cluster id, not by event: a `reconcile_work` row says "look at
 * this cluster again at not_before"; `reconcile/work-queue.ts` claims and releases the rows.
 *
 * The enqueue is one upsert, spelled for each way a change is written: a Kysely transaction, a
 * synchronous SQLite transaction, and a part of PostgreSQL's one-statement change.
 */
import type { Transaction } from 'kysely';
import type { Schema } from '../db/schema.ts';
import { RowsStatement, type SyncSql } from '../db/sqlite-statement-cache.ts';

/**
 * Wakes this process's workers at once when work is enqueued (other processes poll). One
 * instance per process, shared by the cluster store (which notifies) and the workers (which
 * listen).
 */
export class WorkSignal {
  readonly #listeners = new Set<() => void>();

  on(listener: () => void): void {
    this.#listeners.add(listener);
  }

  off(listener: () => void): void {
    this.#listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Enqueues a cluster for reconciliation, inside the Kysely transaction that changed it. */
export async function enqueueInTransaction(
  trx: Transaction<Schema>,
  clusterId: string,
  generation: number,
): Promise<void> {
  const now = Date.now();
  await trx
    .insertInto('reconcile_work')
    .values({
      cluster_id: clusterId,
      generation,
      not_before: now,
      lease_owner: null,
      lease_expires_at: null,
      attempts: 0,
    })
    .onConflict((conflict) =>
      // A worker holding the lease keeps it: when it finishes it sees the newer generation and
      // releases the row for an immediate new pass.
      conflict.column('cluster_id').doUpdateSet({ generation, not_before: now, attempts: 0 }),
    )
    .execute();
}

/**
 * The same upsert for a synchronous SQLite transaction (see db/sqlite-statement-cache.ts), batched
 * with the other changes of its group commit: one multi-row statement, one row per cluster (a
 * later change of the same cluster in the group replaces its row: the upsert's last one wins).
 */
export function enqueueSync(sql: SyncSql, clusterId: string, generation: number): void {
  sql.batch(ENQUEUE_ROWS, [clusterId, generation, Date.now()], clusterId);
}

const ENQUEUE_ROWS = new RowsStatement(
  'insert into "reconcile_work" ("cluster_id", "generation", "not_before", "lease_owner", "lease_expires_at", "attempts")',
  '(?, ?, ?, null, null, 0)',
  ' on conflict ("cluster_id") do update set ' +
    '"generation" = excluded."generation", "not_before" = excluded."not_before", "attempts" = 0',
);

/**
 * The same upsert as a PostgreSQL statement part, for a change written as one statement (a
 * data-modifying CTE): `source` is a query yielding the rows' `"id"` and `"generation"`, and
 * `notBefore` the SQL of the enqueue time (epoch milliseconds, e.g. a `$n::bigint` parameter).
 */
export function enqueueFromSql(source: string, notBefore: string): string {
  return (
    'insert into "reconcile_work" ("cluster_id", "generation", "not_before", "lease_owner", "lease_expires_at", "attempts") ' +
    `select "id", "generation", ${notBefore}, null, null, 0 from ${source} on conflict ("cluster_id") do update set ` +
    '"generation" = excluded."generation", "not_before" = excluded."not_before", "attempts" = 0'
  );
}
