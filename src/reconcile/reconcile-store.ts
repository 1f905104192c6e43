/**
 * What a reconcile pass reads and writes in the store, as named operations with plain arguments.
 * A pass never hands the store a closure: the same operations are then served to a pass running
 * in the reconciler thread (pass-thread.ts), where closures could not travel.
 */
import { applied, deleted, failed, nextGeneration } from '../clusters/cluster-status.ts';
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import type { ClusterStore } from '../clusters/clusters.store.ts';
import { livePools, updatedPool } from '../clusters/nodepools.ts';
import type { PoolResize } from './autoscale.ts';

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
  /**
   * The autoscaler's resize of a pool, decided on the cluster at `generation`: the pool's next
   * size as a new generation (pool UPSCALING or DOWNSCALING, history `nodepool` with the reason),
   * in one transaction. Nothing is written when the cluster changed since (the decision is stale:
   * the next one sees the change), the pool is gone or no longer autoscaled.
   */
  resizePool(clusterId: string, generation: number, resize: PoolResize): Promise<void>;
}

/** Every operation of ReconcileStore, by name: what a pass in the reconciler thread may ask for. */
export const STORE_OPERATIONS = [
  'get',
  'markDeleted',
  'writeStatus',
  'markError',
  'recordDrift',
  'resizePool',
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
    resizePool: async (clusterId, generation, resize) => {
      await store.update(clusterId, (current) => {
        if (current.generation !== generation || current.status === 'DELETING') return { next: current };
        const pools = livePools(current.nodePools, current);
        const pool = pools.find((candidate) => candidate.id === resize.poolId);
        if (pool === undefined || !pool.autoscale || pool.status === 'DELETING') return { next: current };
        const at = now();
        const change = { generation: current.generation + 1, now: at };
        const { desiredNodes, nodesToRemove } = resize;
        const next = updatedPool(pool, { desiredNodes, nodesToRemove: [...nodesToRemove] }, pools, change);
        if (next === undefined) return { next: current };
        const nodePools = pools.map((candidate) => (candidate === pool ? next : candidate));
        return {
          next: nextGeneration(current, 'nodepool', { nodePools }, at),
          history: 'nodepool',
          note: `cluster autoscaler: ${resize.reason}`,
        };
      });
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
