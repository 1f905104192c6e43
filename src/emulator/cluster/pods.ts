/** What the controllers read of a pod's state. */
import { isObject, type JsonObject, type KubeObject } from '../apiserver/objects.ts';

export const condition = (pod: KubeObject, type: string): JsonObject | undefined =>
  ((pod.status as JsonObject | undefined)?.conditions as JsonObject[] | undefined)?.find(
    (c) => c.type === type,
  );

export const isReady = (pod: KubeObject): boolean => condition(pod, 'Ready')?.status === 'True';

export const ownedBy = (pod: KubeObject, uid: string | undefined): boolean =>
  (pod.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid && ref.controller === true);

export function firstContainerStatus(pod: KubeObject): JsonObject | undefined {
  return (((pod.status ?? {}) as JsonObject).containerStatuses as JsonObject[] | undefined)?.[0];
}

export function crashLooping(pod: KubeObject): boolean {
  const state = firstContainerStatus(pod)?.state;
  return isObject(state) && isObject(state.waiting) && state.waiting.reason === 'CrashLoopBackOff';
}
