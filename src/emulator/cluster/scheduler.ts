/**
 * A minimal scheduler for pods created by users (DaemonSet pods name their node): spreads them
 * over the nodes in turn; the kubelet then takes each pod at once.
 */
import type { ObjectStore } from '../apiserver/object-store.ts';
import type { JsonObject } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';

/** Binds every unscheduled pod to a node; returns whether it bound any. */
export function schedulePods(cluster: ObjectStore): boolean {
  const nodes = cluster.list(RESOURCE.nodes);
  if (nodes.length === 0) return false;
  let next = 0;
  let bound = false;
  for (const pod of cluster.list(RESOURCE.pods)) {
    const spec = pod.spec as JsonObject;
    if (spec.nodeName !== undefined) continue;
    const node = nodes[next++ % nodes.length]!;
    cluster.update(
      RESOURCE.pods,
      { ...pod, spec: { ...spec, nodeName: node.metadata.name ?? '' } },
      { owned: true },
    );
    bound = true;
  }
  return bound;
}
