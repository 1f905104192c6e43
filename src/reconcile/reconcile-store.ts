/**
 * What a reconcile pass reads and writes in the store, as named operations with plain arguments.
 * A pass never hands the store a closure: the same operations are then served to a pass running
 * in the reconciler thread (pass-thread.ts), where closures could not travel.
 */
import { applied, deleted, failed } from '../clusters/cluster-status.ts';
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import type { ClusterStore } from '../clusters/clusters.store.ts';

export interface ReconcileStore {
  /** The cluster, deleted ones included. */
  get(clusterId: string): Promise<ClusterRecord | undefined>;
  /** The cluster is gone from its provider: DELETED, with its deletion time. */
  markDeleted(clusterId: string): Promise<void>;
  /**
   * Records the outcome of applying `generation`. When a newer change arrived meanwhile, the
   * cluster keeps its transitional status: only the newest generation can make it READY.
   */
  writeStatus(
    clusterId: string,
    generation: number,
    status: 'READY' | 'ERROR',
    message: string | null,
  ): Promise<void>;
  /** A terminal failure outside a pass's own outcome (status ERROR whatever the generation). */
  markError(clusterId: string, message: string): Promise<void>;
  /** Records a `drift` history entry: what was changed in the cluster, and restored. */
  recordDrift(clusterId: string, note: string): Promise<void>;
}

/** Every operation of ReconcileStore, by name: what a pass in the reconciler thread may ask for. */
export const STORE_OPERATIONS = [
  'get',
  'markDeleted',
  'writeStatus',
  'markError',
  'recordDrift',
] as const satisfies readonly (keyof ReconcileStore)[];

/** The port over the cluster store; the status decisions are clusters/cluster-status.ts's. */
export function reconcileStore(store: Pick<ClusterStore, 'get' | 'update'>): ReconcileStore {
  const now = () => new Date().toISOString();
  return {
    get: (clusterId) => store.get(clusterId),
    markDeleted: async (clusterId) => {
      await store.update(clusterId, (current) => ({ next: deleted(current, now()) }));
    },
    writeStatus: async (clusterId, generation, status, message) => {
      await store.update(clusterId, (current) => {
        const at = now();
        const next = applied(current, generation, status, message, at);
        // The generation's history row records it (unless it already says so).
        return { next, outcome: { generation, status, message, at } };
      });
    },
    recordDrift: async (clusterId, note) => {
      await store.update(clusterId, (current) => ({ next: current, history: 'drift', note }));
    },
    markError: async (clusterId, message) => {
      await store.update(clusterId, (current) => {
        const at = now();
        return {
          next: failed(current, message, at),
          outcome: { generation: current.generation, status: 'ERROR', message, at },
        };
      });
    },
  };
}
