/**
 * What a reconcile pass reads and writes in the store, as named operations with plain arguments.
 * A pass never hands the store a closure: the same operations are then served to a pass running
 * in the reconciler thread (pass-thread.ts), where closures could not travel.
 */
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import type { ClusterChange, ClusterStore } from '../clusters/clusters.store.ts';

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
}

export function reconcileStore(store: ClusterStore): ReconcileStore {
  return {
    get: (clusterId) => store.get(clusterId),
    markDeleted: async (clusterId) => {
      await store.update(clusterId, deletedChange);
    },
    writeStatus: async (clusterId, generation, status, message) => {
      await store.update(clusterId, (current) => statusChange(current, generation, status, message));
    },
    markError: async (clusterId, message) => {
      await store.update(clusterId, (current) => errorChange(current, message));
    },
  };
}

function deletedChange(current: ClusterRecord): ClusterChange {
  return {
    next: {
      ...current,
      status: 'DELETED',
      observedGeneration: current.generation,
      deletedAt: new Date().toISOString(),
    },
  };
}

function statusChange(
  current: ClusterRecord,
  generation: number,
  status: 'READY' | 'ERROR',
  message: string | null,
): ClusterChange {
  if (current.status === 'DELETING' || current.deletedAt !== null) return { next: current };
  const observedGeneration = Math.max(current.observedGeneration, generation);
  if (current.generation !== generation) return { next: { ...current, observedGeneration } };
  if (
    current.status === status &&
    current.statusMessage === message &&
    current.observedGeneration === generation
  ) {
    return { next: current };
  }
  return {
    next: {
      ...current,
      status,
      statusMessage: message,
      observedGeneration,
      updatedAt: new Date().toISOString(),
    },
  };
}

function errorChange(current: ClusterRecord, message: string): ClusterChange {
  return current.status === 'DELETING' || current.deletedAt !== null
    ? { next: current }
    : {
        next: {
          ...current,
          status: 'ERROR',
          statusMessage: message,
          updatedAt: new Date().toISOString(),
        },
      };
}
