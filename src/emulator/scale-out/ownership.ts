/**
 * Which process serves each emulated cluster. An emulated cluster lives in the memory of one
 * process (its objects, watch log and controllers, written through to the store); under scale-out
 * every API process may receive its Kubernetes API calls. So one process holds a lease on each
 * cluster (owner, internal URL and expiry in `emulator_owners`, renewed while the process lives)
 * and the others forward the calls to it. A process that stops renewing loses its clusters when
 * the lease expires: the next call, or the adoption sweep for clusters with work in flight, moves
 * them to a live process, which loads them from the store and resumes their controllers.
 *
 * Writes are fenced: the transaction that persists a cluster's changes first checks, under a
 * share lock, that this process still owns it, so a process that was paused past its lease can
 * never overwrite what the new owner wrote.
 *
 * The embedded default (one process, SQLite) owns everything and keeps no lease; the leases live
 * in ownership.postgres.ts.
 */
import type { QueryExecutorProvider } from 'kysely';

export type Route = { readonly local: true } | { readonly local: false; readonly url: string };

export interface OwnershipHooks {
  /** This process no longer owns these clusters: forget their in-memory state. */
  lost(clusterIds: readonly string[]): void;
  /** This process now owns these clusters with work in flight: load them and resume. */
  adopt(clusterIds: readonly string[]): void;
}

export interface Ownership {
  /** The process id written as owner (also in logs). */
  readonly id: string;
  /** False on the embedded default: every cluster is served here. */
  readonly shared: boolean;
  /**
   * Where cluster `clusterId` is served: here (claiming it when nobody holds a live lease) or at
   * another process's internal URL. `fresh` skips the cache (a forwarded call, or a retry after
   * the cached owner did not answer).
   */
  route(clusterId: string, options?: { fresh?: boolean }): Promise<Route>;
  /** Gives a cluster up (it was deleted, or is unknown to the store). */
  release(clusterId: string): Promise<void>;
  /** Of `clusterIds`, those this process still owns, checked (and share-locked) inside `trx`. */
  fence(trx: QueryExecutorProvider, clusterIds: readonly string[]): Promise<Set<string>>;
  start(hooks: OwnershipHooks): void;
  stop(): Promise<void>;
}

/** The embedded default: one process serves every cluster. */
export class LocalOwnership implements Ownership {
  readonly id = 'local';
  readonly shared = false;
  route(): Promise<Route> {
    return Promise.resolve({ local: true });
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
  fence(_trx: QueryExecutorProvider, clusterIds: readonly string[]): Promise<Set<string>> {
    return Promise.resolve(new Set(clusterIds));
  }
  start(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
}
