/**
 * Claims and releases reconcile work (the rows the cluster store's outbox enqueues, see
 * clusters/cluster-work.ts). Work is keyed by cluster id, not by event: a row says "look at this
 * cluster again at not_before". Any number of workers, in any number of processes, claim rows
 * with a lease; a worker that dies loses its leases when they expire, and another worker picks
 * the clusters up.
 *
 * One implementation per engine, opened here: SQLite claims and releases in synchronous
 * transactions (work-queue.sqlite.ts), PostgreSQL claims with `FOR UPDATE SKIP LOCKED`
 * (work-queue.postgres.ts). Renewing and forgetting are the same on both.
 */
import type { WorkSignal } from '../clusters/cluster-work.ts';
import type { Database } from '../db/database.ts';
import { PostgresWorkQueue } from './work-queue.postgres.ts';
import { SqliteWorkQueue } from './work-queue.sqlite.ts';

export interface Claim {
  readonly clusterId: string;
  /** The generation enqueued when the claim was made. */
  readonly generation: number;
  readonly attempts: number;
}

export interface WorkQueueOptions {
  /** Written as the lease owner: unique to this worker. */
  readonly owner: string;
  readonly leaseMs: number;
  /** Notified when a release finds a newer change, so this process's workers look at once. */
  readonly signal: WorkSignal;
}

export interface WorkQueue {
  readonly owner: string;
  /** Claims up to `limit` due clusters. */
  claim(limit: number): Promise<Claim[]>;
  /** Extends a lease during long work; false when the lease was lost (stop working on it). */
  renew(clusterId: string): Promise<boolean>;
  /**
   * Releases the lease and schedules the next look after `afterMs`. If a newer change was
   * enqueued meanwhile (its generation differs from the claim's), the next look is immediate.
   */
  release(claim: Claim, afterMs: number, attempts?: number): Promise<void>;
  /** The cluster is gone: no more work for it. */
  forget(clusterId: string): Promise<void>;
}

export function openWorkQueue(database: Database, options: WorkQueueOptions): WorkQueue {
  switch (database.engine) {
    case 'sqlite':
      return new SqliteWorkQueue(database, options);
    case 'postgres':
      return new PostgresWorkQueue(database, options);
  }
}
