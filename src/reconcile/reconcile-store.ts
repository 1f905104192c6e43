/**
 * What a reconcile pass reads and writes in the store, as named operations with plain arguments.
 * A pass never hands the store a closure: the same operations are then served to a pass running
 * in the reconciler thread (pass-thread.ts), where closures could not travel.
 */
import {
  applied,
  deleted,
  failed,
  isApplying,
  isDeleting,
  nextGeneration,
} from '../clusters/cluster-status.ts';
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import type { ClusterStore } from '../clusters/clusters.store.ts';
import { livePools, updatedPool } from '../clusters/nodepools.ts';
import type { PoolResize } from './autoscale.ts';
import { type RollbackTarget, rollbackTargetOf } from './plan.ts';

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
   * What a rollback of the cluster's `generation` goes back to (plan.ts `rollbackTargetOf`): the
   * generation it was rolled back to, or the newest earlier one whose outcome was READY. The pass's
   * generation, not the store's newest: a change made during the pass must not make the pass
   * measure drift against that change's config (it would put back the failed one it rolled back).
   */
  rollbackTarget(clusterId: string, generation: number): Promise<RollbackTarget | undefined>;
  /**
   * Records, in one transaction, that `generation` was rolled back to `toGeneration`: status ERROR
   * with `message` (the generation's outcome too) and a `rollback` history entry. The desired
   * customization stays. False, writing nothing, when `generation` is no longer the one being
   * applied (a newer change came, or another pass recorded its outcome first).
   */
  recordRollback(
    clusterId: string,
    generation: number,
    toGeneration: number,
    message: string,
  ): Promise<boolean>;
  /**
   * The autoscaler's resize of a pool, decided on the cluster at `generation`: the pool's next
   * size as a new generation (pool UPSCALING or DOWNSCALING, history `nodepool` with the reason),
   * in one transaction. Nothing is written when the cluster changed since (the decision is stale:
   * the next one sees the change), the pool is gone or no longer autoscaled.
   */
  resizePool(clusterId: string, generation: number, resize: PoolResize): Promise<void>;
}

/** How a generation's rollout ended, and how long after the change it took. */
export type RolloutEnd = (outcome: 'READY' | 'ERROR' | 'rolled-back', seconds: number) => void;

/** Every operation of ReconcileStore, by name: what a pass in the reconciler thread may ask for. */
export const STORE_OPERATIONS = [
  'get',
  'markDeleted',
  'writeStatus',
  'markError',
  'recordDrift',
  'rollbackTarget',
  'recordRollback',
  'resizePool',
] as const satisfies readonly (keyof ReconcileStore)[];

/**
 * The port over the cluster store; the status decisions are clusters/cluster-status.ts's.
 * `rolloutEnd` hears of each generation's outcome once, with the time since the change was made.
 */
export function reconcileStore(
  store: Pick<ClusterStore, 'get' | 'update' | 'history'>,
  rolloutEnd?: RolloutEnd,
): ReconcileStore {
  const now = () => new Date().toISOString();
  /** Seconds since `current`'s change when this write ends the rollout of its newest generation. */
  const rolloutSeconds = (current: ClusterRecord, generation: number, at: string) =>
    current.generation === generation && isApplying(current)
      ? Math.max(0, (Date.parse(at) - Date.parse(current.updatedAt)) / 1000)
      : undefined;
  return {
    get: (clusterId) => store.get(clusterId),
    markDeleted: async (clusterId) => {
      await store.update(clusterId, (current) => ({ next: deleted(current, now()) }));
    },
    writeStatus: async (clusterId, generation, status, message) => {
      // The change may be tried again on a concurrent write: the last try's figure counts.
      let seconds: number | undefined;
      await store.update(clusterId, (current) => {
        const at = now();
        seconds = rolloutSeconds(current, generation, at);
        const next = applied(current, generation, status, message, at);
        // The generation's history row records it (unless it already says so).
        return { next, outcome: { generation, status, message, at } };
      });
      if (seconds !== undefined) rolloutEnd?.(status, seconds);
    },
    rollbackTarget: async (clusterId, generation) =>
      rollbackTargetOf(await store.history(clusterId), generation),
    recordRollback: async (clusterId, generation, toGeneration, message) => {
      let seconds: number | undefined;
      let recorded = false;
      await store.update(clusterId, (current) => {
        // Only the newest generation, still being applied, is rolled back (once).
        recorded = current.generation === generation && isApplying(current) && !isDeleting(current);
        if (!recorded) return { next: current };
        const at = now();
        seconds = rolloutSeconds(current, generation, at);
        return {
          next: applied(current, generation, 'ERROR', message, at),
          outcome: { generation, status: 'ERROR', message, at },
          history: 'rollback',
          sourceGeneration: toGeneration,
          note: message,
        };
      });
      if (recorded && seconds !== undefined) rolloutEnd?.('rolled-back', seconds);
      return recorded;
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
