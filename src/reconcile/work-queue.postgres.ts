/**
 * The work queue on PostgreSQL: several processes claim at once, so a claim locks the rows it
 * picks with `FOR UPDATE SKIP LOCKED` (concurrent claims pass over them instead of waiting).
 */
import type { PostgresDatabase } from '../db/database.ts';
import { CommonWorkQueue } from './work-queue.common.ts';
import type { Claim } from './work-queue.ts';

export class PostgresWorkQueue extends CommonWorkQueue<PostgresDatabase> {
  async claim(limit: number): Promise<Claim[]> {
    if (limit <= 0) return [];
    const now = Date.now();
    const { owner, leaseMs } = this.options;
    return this.database.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('reconcile_work')
        .select(['cluster_id', 'generation', 'attempts'])
        .where('not_before', '<=', now)
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
        .orderBy('not_before')
        .limit(limit)
        .forUpdate()
        .skipLocked()
        .execute();
      if (rows.length === 0) return [];
      await trx
        .updateTable('reconcile_work')
        .set({ lease_owner: owner, lease_expires_at: now + leaseMs })
        .where(
          'cluster_id',
          'in',
          rows.map((row) => row.cluster_id),
        )
        .execute();
      return rows.map((row) => ({
        clusterId: row.cluster_id,
        generation: Number(row.generation),
        attempts: row.attempts,
      }));
    });
  }

  async release(claim: Claim, afterMs: number, attempts = 0): Promise<void> {
    const now = Date.now();
    const { owner } = this.options;
    const db = this.database.db;
    const result = await db
      .updateTable('reconcile_work')
      .set({ lease_owner: null, lease_expires_at: null, not_before: now + afterMs, attempts })
      .where('cluster_id', '=', claim.clusterId)
      .where('lease_owner', '=', owner)
      .where('generation', '=', claim.generation)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      // A newer change was enqueued during the pass: due at once.
      await db
        .updateTable('reconcile_work')
        .set({ lease_owner: null, lease_expires_at: null, not_before: now, attempts: 0 })
        .where('cluster_id', '=', claim.clusterId)
        .where('lease_owner', '=', owner)
        .execute();
      this.options.signal.notify();
    }
  }
}
