/**
 * Clusters and their change history. Every accepted change is one transaction: read the current
 * row, compute the next one, write it, its history row and its reconcile work (cluster-work.ts).
 *
 * One implementation per engine, opened here:
 * - SQLite (clusters.store.sqlite.ts): this process owns every write, so current rows are kept in
 *   memory and a change is one synchronous transaction;
 * - PostgreSQL (clusters.store.postgres.ts): several processes write the same rows, so reads ask
 *   the database and a change is one statement guarded by optimistic concurrency.
 */
import type { Selectable } from 'kysely';
import type { Database } from '../db/database.ts';
import type { ClusterHistoryTable } from '../db/schema.ts';
import type { WorkSignal } from './cluster-work.ts';
import type { ClusterRecord } from './clusters.model.ts';
import { PostgresClusterStore } from './clusters.store.postgres.ts';
import { SqliteClusterStore } from './clusters.store.sqlite.ts';

/** What a history row records (the column's values, db/schema.ts). */
export type HistoryAction = ClusterHistoryTable['action'];

/** Who asked for a change, recorded on its history row (the audit trail). */
export interface Actor {
  readonly applicationId: number;
  readonly credentialId: number;
  readonly sourceIp: string;
  readonly queryId: string;
}

/** The reconciler's outcome of applying a generation, recorded on that generation's history row. */
export interface AppliedOutcome {
  readonly generation: number;
  readonly status: 'READY' | 'ERROR';
  readonly message: string | null;
  readonly at: string;
}

export interface ClusterChange {
  readonly next: ClusterRecord;
  /** Appends a history row when the change is one the reconciler must apply. */
  readonly history?: HistoryAction;
  /** Who asked (with `history`). */
  readonly actor?: Actor;
  /** A revert's restored generation (with `history` 'revert'), or the one a rollback went back to ('rollback'). */
  readonly sourceGeneration?: number;
  /** What a drift repair restored (with `history` 'drift'), or why a rollback happened ('rollback'). */
  readonly note?: string;
  /** Records an outcome on its generation's history row (when it differs from the one recorded). */
  readonly outcome?: AppliedOutcome;
}

/** A history row with the name of the application that made the change (when still known). */
export type HistoryRow = Selectable<ClusterHistoryTable> & { readonly application_name: string | null };

export interface ClusterStore {
  /** Inserts a new cluster with its `create` history row, and enqueues it for reconciliation. */
  insert(cluster: ClusterRecord, actor?: Actor): Promise<void>;
  /** The cluster, deleted ones included (callers decide what a deleted cluster means). */
  get(id: string): Promise<ClusterRecord | undefined>;
  /**
   * The cluster if this process holds its current row in memory (a read without a promise, for
   * the hot GETs), else undefined and `get` reads it. Only an engine whose process owns every
   * write can hold rows current: SQLite's; PostgreSQL's store has none (other processes write).
   */
  cached?(id: string): ClusterRecord | undefined;
  /** The ids of a project's live clusters, oldest first. */
  listIds(projectId: string): Promise<string[]>;
  /**
   * Applies `change` to the current state of cluster `id` in one transaction. `change` may throw
   * (validation, conflict): nothing is written then. Returns the new state, or undefined when the
   * cluster does not exist. A change with `history` is enqueued for reconciliation.
   */
  update(id: string, change: (current: ClusterRecord) => ClusterChange): Promise<ClusterRecord | undefined>;
  /** The cluster's change history, oldest first. */
  history(id: string): Promise<HistoryRow[]>;
}

/** Opens the cluster store of `database`'s engine; `signal` wakes this process's workers. */
export function openClusterStore(database: Database, signal: WorkSignal): ClusterStore {
  switch (database.engine) {
    case 'sqlite':
      return new SqliteClusterStore(database, signal);
    case 'postgres':
      return new PostgresClusterStore(database, signal);
  }
}
