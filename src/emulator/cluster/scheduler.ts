/**
 * A scheduler for pods created by users (DaemonSet pods name their node), with kube-scheduler's
 * filters that decide capacity: the node is Ready and schedulable, its taints are tolerated
 * (NoSchedule, NoExecute), the pod's nodeSelector matches its labels, and its allocatable CPU,
 * memory and pod count hold the pod's requests beside those of the pods already bound there.
 * Of the nodes that fit, the least allocated (CPU) takes the pod; the kubelet then starts it. A
 * pod no node fits stays Pending with `PodScheduled=False`, reason `Unschedulable` and
 * kube-scheduler's message (`0/2 nodes are available: 2 Insufficient cpu.`), which the cluster
 * autoscaler reads. Each binding is a `Scheduled` Event, as default-scheduler records it.
 */

import { parseQuantity, podRequests } from '../../quantity.ts';
import type { ObjectStore } from '../apiserver/object-store.ts';
import { deepEqual, type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';
import { condition } from './pods.ts';

interface Room {
  readonly node: KubeObject;
  cpu: number;
  memory: number;
  pods: number;
}

/** The `Scheduled` Event of a pod bound to `node`, as default-scheduler records it. */
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

/** A pod the scheduler has still to bind (module-level: see `docs/performance.md`, "Fourteenth round"). */
const unscheduled = (pod: KubeObject): boolean =>
  (pod.spec as JsonObject).nodeName === undefined && !pod.metadata.deletionTimestamp;

/** Binds every unscheduled pod that fits a node; returns whether it bound any. */
export function schedulePods(cluster: ObjectStore, now: Date): boolean {
  const pending = cluster.list(RESOURCE.pods).filter(unscheduled);
  if (pending.length === 0) return false;
  const rooms = freeRoom(cluster);
  let bound = false;
  for (const pod of pending) {
    const spec = pod.spec as JsonObject;
    const wants = podRequests(spec);
    const reasons = new Map<string, number>();
    const refuse = (reason: string) => reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    let best: Room | undefined;
    for (const room of rooms) {
      const why = refusal(room, pod, wants);
      if (why !== undefined) refuse(why);
      else if (best === undefined || room.cpu > best.cpu) best = room;
    }
    if (best === undefined) {
      markUnschedulable(cluster, pod, rooms.length, reasons, now);
      continue;
    }
    best.cpu -= wants.cpu;
    best.memory -= wants.memory;
    best.pods -= 1;
    const placed = cluster.update(
      RESOURCE.pods,
      { ...pod, spec: { ...spec, nodeName: best.node.metadata.name ?? '' } },
      { owned: true },
    );
    recordScheduled(cluster, placed, best.node.metadata.name ?? '', now);
    bound = true;
  }
  return bound;
}

/** What each node has left: its allocatable less the requests of the pods bound to it. */
function freeRoom(cluster: ObjectStore): Room[] {
  const rooms = new Map<string, Room>();
  for (const node of cluster.list(RESOURCE.nodes)) {
    const allocatable = ((node.status as JsonObject | undefined)?.allocatable ?? {}) as JsonObject;
    rooms.set(node.metadata.name ?? '', {
      node,
      cpu: parseQuantity(allocatable.cpu) ?? 0,
      memory: parseQuantity(allocatable.memory) ?? 0,
      pods: parseQuantity(allocatable.pods) ?? 0,
    });
  }
  for (const pod of cluster.list(RESOURCE.pods)) {
    const spec = pod.spec as JsonObject;
    const room = rooms.get(String(spec.nodeName ?? ''));
    const phase = (pod.status as JsonObject | undefined)?.phase;
    if (room === undefined || phase === 'Succeeded' || phase === 'Failed') continue;
    const used = podRequests(spec);
    room.cpu -= used.cpu;
    room.memory -= used.memory;
    room.pods -= 1;
  }
  return [...rooms.values()];
}

/** Why `room`'s node cannot take the pod (kube-scheduler's words), or undefined when it can. */
function refusal(room: Room, pod: KubeObject, wants: { cpu: number; memory: number }): string | undefined {
  const node = room.node;
  const nodeSpec = (node.spec ?? {}) as JsonObject;
  const spec = pod.spec as JsonObject;
  if (condition(node, 'Ready')?.status !== 'True')
    return 'node(s) had untolerated taint {node.kubernetes.io/not-ready: }';
  if (nodeSpec.unschedulable === true) return 'node(s) were unschedulable';
  const tolerations = (spec.tolerations ?? []) as JsonObject[];
  for (const taint of (nodeSpec.taints ?? []) as JsonObject[]) {
    if (taint.effect === 'PreferNoSchedule') continue;
    if (!tolerations.some((toleration) => tolerates(toleration, taint)))
      return `node(s) had untolerated taint {${String(taint.key)}: ${String(taint.value ?? '')}}`;
  }
  const selector = (spec.nodeSelector ?? {}) as Record<string, string>;
  if (Object.entries(selector).some(([key, value]) => node.metadata.labels?.[key] !== value))
    return "node(s) didn't match Pod's node affinity/selector";
  if (room.pods < 1) return 'Too many pods';
  if (wants.cpu > room.cpu) return 'Insufficient cpu';
  if (wants.memory > room.memory) return 'Insufficient memory';
  return undefined;
}

function tolerates(toleration: JsonObject, taint: JsonObject): boolean {
  if (toleration.effect !== undefined && toleration.effect !== '' && toleration.effect !== taint.effect)
    return false;
  if (toleration.operator === 'Exists') return toleration.key === undefined || toleration.key === taint.key;
  return toleration.key === taint.key && (toleration.value ?? '') === (taint.value ?? '');
}

/** Records kube-scheduler's verdict on the pod (once: an unchanged verdict writes nothing). */
function markUnschedulable(
  cluster: ObjectStore,
  pod: KubeObject,
  nodes: number,
  reasons: ReadonlyMap<string, number>,
  now: Date,
): void {
  const detail = [...reasons.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
  const message = `0/${nodes} nodes are available${detail === '' ? '' : `: ${detail}`}. preemption: 0/${nodes} nodes are available: ${nodes} No preemption victims found for incoming pod.`;
  const status = (pod.status ?? {}) as JsonObject;
  const conditions = (status.conditions ?? []) as JsonObject[];
  const current = conditions.find((c) => c.type === 'PodScheduled');
  if (current?.status === 'False' && current.reason === 'Unschedulable' && current.message === message)
    return;
  const scheduled = {
    type: 'PodScheduled',
    status: 'False',
    lastProbeTime: null,
    lastTransitionTime: rfc3339(now),
    reason: 'Unschedulable',
    message,
  };
  const next = {
    ...status,
    phase: 'Pending',
    conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), scheduled],
  };
  if (deepEqual(next, status)) return;
  const updated = cluster.update(
    RESOURCE.pods,
    { ...pod, status: next },
    { subresource: 'status', owned: true },
  );
  // What `kubectl describe pod` shows under Events.
  recordEvent(
    cluster,
    updated,
    { type: 'Warning', reason: 'FailedScheduling', message, component: 'default-scheduler' },
    now,
  );
}
