/**
 * Every status transition of a cluster, in one place and pure (`now` is given, nothing is read or
 * written here). The API side records intent: a change the reconciler must apply starts a new
 * generation with a transitional status. The reconciler side reports what it made of a
 * generation: READY or ERROR once applied, DELETED once the cluster is gone. The store writes
 * whatever these return, in the transaction that read `current`.
 */
import type { ClusterRecord, ClusterStatus } from './clusters.model.ts';

/** What a new cluster starts as: its first generation, for the reconciler to install. */
export const INSTALLING = Object.freeze({
  status: 'INSTALLING',
  statusMessage: null,
  generation: 1,
  observedGeneration: 0,
  restartGeneration: 0,
} as const satisfies Partial<ClusterRecord>);

/** The changes the reconciler must apply (each one is a history action too). */
export type GenerationChange =
  | 'customize'
  | 'revert'
  | 'reset'
  | 'delete'
  | 'nodepool'
  | 'upgrade'
  | 'restart';

/** A cluster being deleted (or already deleted) takes no more changes from the API. */
export function isDeleting(cluster: ClusterRecord): boolean {
  return cluster.status === 'DELETING' || cluster.deletedAt !== null;
}

/**
 * The next generation of `current` with `changes`, for the reconciler to apply. A customization
 * made while the cluster is still being installed or reset is folded into that operation: the
 * status stays what it is until everything is applied.
 */
export function nextGeneration(
  current: ClusterRecord,
  change: GenerationChange,
  changes: Partial<ClusterRecord>,
  now: string,
): ClusterRecord {
  return Object.freeze({
    ...current,
    ...changes,
    status: statusFor(current.status, change),
    statusMessage: null,
    generation: current.generation + 1,
    updatedAt: now,
  });
}

function statusFor(current: ClusterStatus, change: GenerationChange): ClusterStatus {
  switch (change) {
    case 'customize':
    case 'revert':
    // A control-plane restart is a redeployment of it (folded into an install, reset or upgrade).
    case 'restart':
      return current === 'INSTALLING' || current === 'RESETTING' || current === 'UPDATING'
        ? current
        : 'REDEPLOYING';
    case 'reset':
      return 'RESETTING';
    // A version upgrade replaces the nodes one by one: UPDATING (the provider waits on it).
    case 'upgrade':
      return 'UPDATING';
    // Node pools have statuses of their own: the cluster keeps its status (recovering from ERROR).
    case 'nodepool':
      return current === 'ERROR' ? 'REDEPLOYING' : current;
    case 'delete':
      return 'DELETING';
  }
}

/**
 * What the reconciler has to do with a cluster as stored: nothing once it is deleted (or was never
 * there), destroy it while it is being deleted, otherwise converge it to its desired state.
 */
export function reconcilerTask(cluster: ClusterRecord | undefined): 'none' | 'destroy' | 'converge' {
  if (cluster === undefined || cluster.deletedAt !== null) return 'none';
  return cluster.status === 'DELETING' ? 'destroy' : 'converge';
}

/** A generation not yet applied (the reconciler has a change to make, not only to check). */
export function isApplying(cluster: ClusterRecord): boolean {
  return cluster.observedGeneration < cluster.generation;
}

/** A version upgrade being applied: the nodes are not all on the cluster's version yet. */
export function isUpgrading(cluster: ClusterRecord): boolean {
  return isApplying(cluster) && cluster.status === 'UPDATING';
}

/** A restart asked for and not applied yet: the control plane restarts once for its generation. */
export function isRestarting(cluster: ClusterRecord): boolean {
  return cluster.restartGeneration > cluster.observedGeneration;
}

/** A reset being applied: the cluster is erased once for its generation before the rest. */
export function isResetting(cluster: ClusterRecord): boolean {
  return isApplying(cluster) && cluster.status === 'RESETTING';
}

/**
 * Whether a converged cluster is reported READY: when a generation was being applied, or to
 * recover from ERROR (kube-proxy no longer failing). A READY cluster found converged is left as is.
 */
export function reportsReady(cluster: ClusterRecord): boolean {
  return isApplying(cluster) || cluster.status === 'ERROR';
}

/**
 * The outcome of applying `generation`. When a newer change arrived meanwhile, the cluster keeps
 * its transitional status: only the newest generation can make it READY (or ERROR). A cluster
 * being deleted keeps DELETING whatever a late pass reports. Answers `current` itself when
 * nothing changes.
 */
export function applied(
  current: ClusterRecord,
  generation: number,
  status: 'READY' | 'ERROR',
  message: string | null,
  now: string,
): ClusterRecord {
  if (isDeleting(current)) return current;
  const observedGeneration = Math.max(current.observedGeneration, generation);
  if (current.generation !== generation) return { ...current, observedGeneration };
  if (
    current.status === status &&
    current.statusMessage === message &&
    current.observedGeneration === generation
  ) {
    return current;
  }
  return { ...current, status, statusMessage: message, observedGeneration, updatedAt: now };
}

/** A terminal failure outside a pass's own outcome: ERROR whatever the generation. */
export function failed(current: ClusterRecord, message: string, now: string): ClusterRecord {
  if (isDeleting(current)) return current;
  return { ...current, status: 'ERROR', statusMessage: message, updatedAt: now };
}

/** The cluster is gone from its provider: DELETED, with its deletion time. */
export function deleted(current: ClusterRecord, now: string): ClusterRecord {
  return { ...current, status: 'DELETED', observedGeneration: current.generation, deletedAt: now };
}
