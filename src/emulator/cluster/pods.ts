/** What the controllers read of a pod's state, and how they write a workload's status. */
import type { ObjectStore } from '../apiserver/object-store.ts';
import { deepEqual, isObject, type JsonObject, type KubeObject } from '../apiserver/objects.ts';
import type { ResourceType } from '../apiserver/resources.ts';

export const condition = (pod: KubeObject, type: string): JsonObject | undefined =>
  ((pod.status as JsonObject | undefined)?.conditions as JsonObject[] | undefined)?.find(
    (c) => c.type === type,
  );

export const isReady = (pod: KubeObject): boolean => condition(pod, 'Ready')?.status === 'True';

/** Ready for at least `minReadySeconds` (kube-controller-manager's IsPodAvailable). */
export function isAvailable(pod: KubeObject, minReadySeconds: number, now: Date): boolean {
  if (!isReady(pod)) return false;
  if (minReadySeconds <= 0) return true;
  const since = Date.parse(String(condition(pod, 'Ready')?.lastTransitionTime ?? ''));
  return now.getTime() - since >= minReadySeconds * 1000;
}

/** Writes a workload's status through its status subresource, unless it already says that. */
export function writeStatus(
  cluster: ObjectStore,
  resource: ResourceType,
  object: KubeObject,
  status: JsonObject,
): void {
  const current = cluster.get(resource, object.metadata.namespace ?? '', object.metadata.name ?? '');
  if (current === undefined || deepEqual(current.status, status)) return;
  cluster.update(
    resource,
    { ...current, status },
    { subresource: 'status', owned: true, manager: 'kube-controller-manager' },
  );
}

export const ownedBy = (pod: KubeObject, uid: string | undefined): boolean =>
  (pod.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid && ref.controller === true);

export function firstContainerStatus(pod: KubeObject): JsonObject | undefined {
  return (((pod.status ?? {}) as JsonObject).containerStatuses as JsonObject[] | undefined)?.[0];
}

export function crashLooping(pod: KubeObject): boolean {
  const state = firstContainerStatus(pod)?.state;
  return isObject(state) && isObject(state.waiting) && state.waiting.reason === 'CrashLoopBackOff';
}
