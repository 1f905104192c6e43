/**
 * Claims and releases reconcile work. Work is keyed by cluster id, not by event: a row says
 * "look at this cluster again at not_before". Any number of workers, in any number of processes,
 * claim rows with a lease; a worker that dies loses its leases when they expire, and another
 * worker picks the clusters up. Claims use `FOR UPDATE SKIP LOCKED` where the engine has it.
 */
import { EventEmitter } from 'node:events';
import type { Transaction } from 'kysely';
import type { Database } from '../db/database.ts';
import type { Schema } from '../db/schema.ts';
import type { SyncSql } from '../db/sqlite-statement-cache.ts';

export interface Claim {
  readonly clusterId: string;
  /** The generation enqueued when the claim was made. */
  readonly generation: number;
  readonly attempts: number;
}

/** Wakes in-process workers at once when work is enqueued (other processes poll). */
export const workSignal = new EventEmitter();
workSignal.setMaxListeners(0);

/** Enqueues a cluster for reconciliation, inside the transaction that changed it. */
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

/** The same upsert for a synchronous SQLite transaction (see db/sqlite-statement-cache.ts). */
export function enqueueSync(sql: SyncSql, clusterId: string, generation: number): void {
  sql.run(
    'insert into "reconcile_work" ("cluster_id", "generation", "not_before", "lease_owner", "lease_expires_at", "attempts") ' +
      'values (?, ?, ?, null, null, 0) on conflict ("cluster_id") do update set ' +
      '"generation" = excluded."generation", "not_before" = excluded."not_before", "attempts" = 0',
    [clusterId, generation, Date.now()],
  );
}

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

export function notifyWork(): void {
  workSignal.emit('work');
}

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

export class WorkQueue {
  readonly #database: Database;
  readonly #owner: string;
  readonly #leaseMs: number;

  constructor(database: Database, options: { owner: string; leaseMs: number }) {
    this.#database = database;
    this.#owner = options.owner;
    this.#leaseMs = options.leaseMs;
  }

  get owner(): string {
    return this.#owner;
  }

  /** Claims up to `limit` due clusters. */
  async claim(limit: number): Promise<Claim[]> {
    if (limit <= 0) return [];
    const now = Date.now();
    const exclusiveSql = this.#database.engine === 'sqlite' ? this.#database.exclusiveSql : undefined;
    if (exclusiveSql !== undefined) {
      // The embedded engine: one synchronous transaction, a prepared statement per claimed row
      // (the same rows, in the same order, as the select-then-update below).
      return exclusiveSql.transaction((sql) => {
        const claims: Claim[] = [];
        while (claims.length < limit) {
          const row = sql.get<{ cluster_id: string; generation: number | string; attempts: number }>(
            CLAIM_ONE_SQL,
            [this.#owner, now + this.#leaseMs, now, now],
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
    return this.#database.db.transaction().execute(async (trx) => {
      let query = trx
        .selectFrom('reconcile_work')
        .select(['cluster_id', 'generation', 'attempts'])
        .where('not_before', '<=', now)
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<=', now)]))
        .orderBy('not_before')
        .limit(limit);
      if (this.#database.engine === 'postgres') query = query.forUpdate().skipLocked();
      const rows = await query.execute();
      if (rows.length === 0) return [];
      await trx
        .updateTable('reconcile_work')
        .set({ lease_owner: this.#owner, lease_expires_at: now + this.#leaseMs })
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

  /** Extends a lease during long work; false when the lease was lost (stop working on it). */
  async renew(clusterId: string): Promise<boolean> {
    const result = await this.#database.db
      .updateTable('reconcile_work')
      .set({ lease_expires_at: Date.now() + this.#leaseMs })
      .where('cluster_id', '=', clusterId)
      .where('lease_owner', '=', this.#owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Releases the lease and schedules the next look after `afterMs`. If a newer change was
   * enqueued meanwhile (its generation differs from the claim's), the next look is immediate.
   */
  async release(claim: Claim, afterMs: number, attempts = 0): Promise<void> {
    const now = Date.now();
    const exclusiveSql = this.#database.engine === 'sqlite' ? this.#database.exclusiveSql : undefined;
    if (exclusiveSql !== undefined) {
      const released = await exclusiveSql.transaction((sql) => {
        const row = sql.get<{ cluster_id: string }>(RELEASE_SQL, [
          now + afterMs,
          attempts,
          claim.clusterId,
          this.#owner,
          claim.generation,
        ]);
        if (row !== undefined) return true;
        sql.run(RELEASE_NEWER_SQL, [now, claim.clusterId, this.#owner]);
        return false;
      });
      if (!released) notifyWork();
      return;
    }
    const db = this.#database.db;
    const result = await db
      .updateTable('reconcile_work')
      .set({ lease_owner: null, lease_expires_at: null, not_before: now + afterMs, attempts })
      .where('cluster_id', '=', claim.clusterId)
      .where('lease_owner', '=', this.#owner)
      .where('generation', '=', claim.generation)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      await db
        .updateTable('reconcile_work')
        .set({ lease_owner: null, lease_expires_at: null, not_before: now, attempts: 0 })
        .where('cluster_id', '=', claim.clusterId)
        .where('lease_owner', '=', this.#owner)
        .execute();
      notifyWork();
    }
  }

  /** The cluster is gone: no more work for it. */
  async forget(clusterId: string): Promise<void> {
    await this.#database.db.deleteFrom('reconcile_work').where('cluster_id', '=', clusterId).execute();
  }
}
