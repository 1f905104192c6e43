/**
 * The work queue on the embedded engine (SQLite): claims and releases are synchronous
 * transactions (see db/sqlite-statement-cache.ts), one prepared statement per row.
 */
import type { SqliteDatabase } from '../db/database.ts';
import { CommonWorkQueue } from './work-queue.common.ts';
import type { Claim } from './work-queue.ts';

const CLAIM_ONE_SQL =
  'update "reconcile_work" set "lease_owner" = ?, "lease_expires_at" = ? where "cluster_id" = (' +
  'select "cluster_id" from "reconcile_work" where "not_before" <= ? and ' +
  '("lease_expires_at" is null or "lease_expires_at" <= ?) order by "not_before" limit 1) ' +
  'returning "cluster_id", "generation", "attempts"';

const RELEASE_SQL =
  'update "reconcile_work" set "lease_owner" = null, "lease_expires_at" = null, "not_before" = ?, "attempts" = ? ' +
  'where "cluster_id" = ? and "lease_owner" = ? and "generation" = ? returning "cluster_id"';

const RELEASE_NEWER_SQL =
  'update "reconcile_work" set "lease_owner" = null, "lease_expires_at" = null, "not_before" = ?, "attempts" = 0 ' +
  'where "cluster_id" = ? and "lease_owner" = ?';

export class SqliteWorkQueue extends CommonWorkQueue<SqliteDatabase> {
  /** Due clusters in `not_before` order, as PostgreSQL's select-then-update claims them. */
  async claim(limit: number): Promise<Claim[]> {
    if (limit <= 0) return [];
    const now = Date.now();
    const { owner, leaseMs } = this.options;
    return this.database.exclusiveSql.transaction((sql) => {
      const claims: Claim[] = [];
      while (claims.length < limit) {
        const row = sql.get<{ cluster_id: string; generation: number | string; attempts: number }>(
          CLAIM_ONE_SQL,
          [owner, now + leaseMs, now, now],
        );
        if (row === undefined) break;
        claims.push({
          clusterId: row.cluster_id,
          generation: Number(row.generation),
          attempts: row.attempts,
        });
      }
      return claims;
    });
  }

  async release(claim: Claim, afterMs: number, attempts = 0): Promise<void> {
    const now = Date.now();
    const { owner } = this.options;
    const released = await this.database.exclusiveSql.transaction((sql) => {
      const row = sql.get<{ cluster_id: string }>(RELEASE_SQL, [
        now + afterMs,
        attempts,
        claim.clusterId,
        owner,
        claim.generation,
      ]);
      if (row !== undefined) return true;
      sql.run(RELEASE_NEWER_SQL, [now, claim.clusterId, owner]);
      return false;
    });
    if (!released) this.options.signal.notify();
  }
}
