/**
 * A minimal scheduler for pods created by users (DaemonSet pods name their node): spreads them
 * over the nodes in turn; the kubelet then takes each pod at once. Each binding is a `Scheduled`
 * Event, as default-scheduler records it.
 */
import type { ObjectStore } from '../apiserver/object-store.ts';
import type { JsonObject, KubeObject } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';

export function recordScheduled(cluster: ObjectStore, pod: KubeObject, node: string, now: Date): void {
  recordEvent(
    cluster,
    pod,
    {
      type: 'Normal',
      reason: 'Scheduled',
      message: `Successfully assigned ${pod.metadata.namespace}/${pod.metadata.name} to ${node}`,
      component: 'default-scheduler',
    },
    now,
  );
}

/** Binds every unscheduled pod to a node; returns whether it bound any. */
export function schedulePods(cluster: ObjectStore, now: Date): boolean {
  const nodes = cluster.list(RESOURCE.nodes);
  if (nodes.length === 0) return false;
  let next = 0;
  let bound = false;
  for (const pod of cluster.list(RESOURCE.pods)) {
    const spec = pod.spec as JsonObject;
    if (spec.nodeName !== undefined) continue;
    const node = nodes[next++ % nodes.length]!;
    const placed = cluster.update(
      RESOURCE.pods,
      { ...pod, spec: { ...spec, nodeName: node.metadata.name ?? '' } },
      { owned: true },
    );
    recordScheduled(cluster, placed, node.metadata.name ?? '', now);
    bound = true;
  }
  return bound;
}
