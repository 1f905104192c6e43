/**
 * The cluster autoscaler's decision, pure: from the cluster's Nodes and Pods (read through its
 * Kubernetes API), its pools and their `autoscaling` parameters, and when each node was first seen
 * unneeded, which pools of `autoscale: true` change size. As OVH's cluster-autoscaler does:
 *
 * - scale up when pods are unschedulable for lack of room (`PodScheduled=False`, reason
 *   `Unschedulable`): the pods a fresh node of the pool could take (its taints tolerated, its
 *   labels matching their nodeSelector, their requests within a node's allocatable) are packed
 *   first-fit-decreasing onto new nodes, and the pool grows by that many, up to `maxNodes`;
 * - otherwise scale down, one node per pool at a time and never below `minNodes`: a Ready node
 *   whose requests stay under `scaleDownUtilizationThreshold` of its allocatable (the larger of
 *   CPU and memory) for `scaleDownUnneededTimeSeconds`, or a node not Ready for
 *   `scaleDownUnreadyTimeSeconds`, whose pods (DaemonSet pods aside) all have a controller to
 *   recreate them and fit on the pool's other nodes. A bare pod blocks its node's removal.
 */
import type { V1Node as NodeModel, V1Pod as PodModel } from '@kubernetes/client-node';
import type { NodePoolRecord } from '../clusters/nodepools.model.ts';
import { parseQuantity, podRequests } from '../quantity.ts';
import type { Decoded } from './kube/kube-client.ts';

/** The Nodes and Pods as the cluster's Kubernetes API answers them (kube-client.ts). */
type V1Node = Decoded<NodeModel>;
type V1Pod = Decoded<PodModel>;

export interface PoolResize {
  readonly poolId: string;
  readonly desiredNodes: number;
  /** Node ids to remove (a scale-down names the node it found unneeded). */
  readonly nodesToRemove: readonly string[];
  /** Why, for the history note and the log. */
  readonly reason: string;
}

export interface AutoscaleInput {
  readonly pools: readonly NodePoolRecord[];
  readonly nodes: readonly V1Node[];
  readonly pods: readonly V1Pod[];
  /** Node name → when it was first seen unneeded (or not Ready), ms. */
  readonly unneededSince: ReadonlyMap<string, number>;
  readonly now: number;
}

export interface AutoscaleDecision {
  readonly resizes: readonly PoolResize[];
  /** What to remember until the next decision: the nodes unneeded (or unready) and since when. */
  readonly unneededSince: ReadonlyMap<string, number>;
}

interface Capacity {
  cpu: number;
  memory: number;
  pods: number;
}

export function autoscale(input: AutoscaleInput): AutoscaleDecision {
  const pools = input.pools.filter((pool) => pool.autoscale && pool.status !== 'DELETING');
  const nodeByName = new Map(input.nodes.map((node) => [node.metadata?.name ?? '', node]));
  const live = input.pods.filter(
    (pod) => pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed',
  );
  const unschedulable = live.filter(
    (pod) =>
      pod.spec?.nodeName === undefined &&
      pod.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable'),
  );

  const resizes: PoolResize[] = [];
  let waiting = unschedulable;
  for (const pool of pools) {
    if (waiting.length === 0) break;
    const template = poolNode(pool, nodeByName, input.nodes);
    if (template === undefined) continue;
    const size = capacityOf(template.node);
    const fitting = waiting.filter((pod) => fitsFreshNode(pod, pool, template.labels, size));
    if (fitting.length === 0) continue;
    const room = Math.max(0, pool.maxNodes - pool.desiredNodes);
    const needed = Math.min(newNodesFor(fitting, size), room);
    if (needed === 0) continue;
    resizes.push({
      poolId: pool.id,
      desiredNodes: pool.desiredNodes + needed,
      nodesToRemove: [],
      reason: `${fitting.length} unschedulable pod(s) need ${needed} more node(s) in pool ${pool.name}`,
    });
    waiting = waiting.filter((pod) => !fitting.includes(pod));
  }

  const unneededSince = new Map<string, number>();
  const scaledUp = new Set(resizes.map((resize) => resize.poolId));
  for (const pool of pools) {
    if (scaledUp.has(pool.id) || unschedulable.length > 0) continue;
    const { scaleDownUtilizationThreshold, scaleDownUnneededTimeSeconds, scaleDownUnreadyTimeSeconds } =
      pool.autoscaling;
    const members = pool.nodes
      .map((record) => ({ record, node: nodeByName.get(record.name) }))
      .filter(
        (member): member is { record: (typeof pool.nodes)[number]; node: V1Node } =>
          member.node !== undefined,
      );
    let removal: PoolResize | undefined;
    for (const { record, node } of members) {
      const name = record.name;
      const ready = node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      const onNode = live.filter((pod) => pod.spec?.nodeName === name && !isDaemonPod(pod));
      const used = sum(onNode.map((pod) => podRequests(pod.spec)));
      const size = capacityOf(node);
      const utilization = Math.max(ratio(used.cpu, size.cpu), ratio(used.memory, size.memory));
      const unneeded = !ready || utilization < scaleDownUtilizationThreshold;
      if (!unneeded) continue;
      const since = input.unneededSince.get(name) ?? input.now;
      unneededSince.set(name, since);
      const wait = (ready ? scaleDownUnneededTimeSeconds : scaleDownUnreadyTimeSeconds) * 1000;
      if (removal !== undefined || pool.desiredNodes <= pool.minNodes || input.now - since < wait) continue;
      if (!movable(onNode, name, members, live)) continue;
      removal = {
        poolId: pool.id,
        desiredNodes: pool.desiredNodes - 1,
        nodesToRemove: [record.id],
        reason: ready
          ? `node ${name} of pool ${pool.name} was unneeded (utilization ${utilization.toFixed(2)} < ${scaleDownUtilizationThreshold}) for ${scaleDownUnneededTimeSeconds}s`
          : `node ${name} of pool ${pool.name} was not Ready for ${scaleDownUnreadyTimeSeconds}s`,
      };
    }
    if (removal !== undefined) resizes.push(removal);
  }
  return { resizes, unneededSince };
}

/** A node the pool's new nodes would be like: its labels (the template's, as mks sets them) and size. */
function poolNode(
  pool: NodePoolRecord,
  byName: ReadonlyMap<string, V1Node>,
  all: readonly V1Node[],
): { node: V1Node; labels: Record<string, string> } | undefined {
  const own = pool.nodes.map((record) => byName.get(record.name)).find((node) => node !== undefined);
  const node = own ?? all[0];
  if (node === undefined) return undefined;
  const labels = own?.metadata?.labels ?? { ...pool.template.metadata.labels, nodepool: pool.name };
  return { node, labels };
}

function capacityOf(node: V1Node): Capacity {
  const allocatable = node.status?.allocatable ?? {};
  return {
    cpu: parseQuantity(allocatable.cpu) ?? 0,
    memory: parseQuantity(allocatable.memory) ?? 0,
    pods: parseQuantity(allocatable.pods) ?? 0,
  };
}

/** Whether a fresh node of `pool` could take `pod`: taints tolerated, selector matched, requests within. */
function fitsFreshNode(
  pod: V1Pod,
  pool: NodePoolRecord,
  labels: Record<string, string>,
  size: Capacity,
): boolean {
  const tolerations = pod.spec?.tolerations ?? [];
  for (const taint of pool.template.spec.taints) {
    if (taint.effect === 'PreferNoSchedule') continue;
    const tolerated = tolerations.some(
      (t) =>
        (t.effect === undefined || t.effect === '' || t.effect === taint.effect) &&
        (t.operator === 'Exists'
          ? t.key === undefined || t.key === taint.key
          : t.key === taint.key && (t.value ?? '') === taint.value),
    );
    if (!tolerated) return false;
  }
  if (pool.template.spec.unschedulable) return false;
  const selector = pod.spec?.nodeSelector ?? {};
  if (Object.entries(selector).some(([key, value]) => labels[key] !== value)) return false;
  const wants = podRequests(pod.spec);
  return wants.cpu <= size.cpu && wants.memory <= size.memory;
}

/** How many empty nodes of `size` take `pods`: first fit, largest CPU request first. */
function newNodesFor(pods: readonly V1Pod[], size: Capacity): number {
  const bins: Capacity[] = [];
  const wants = pods.map((pod) => podRequests(pod.spec)).sort((a, b) => b.cpu - a.cpu || b.memory - a.memory);
  for (const want of wants) {
    const bin = bins.find((b) => b.cpu >= want.cpu && b.memory >= want.memory && b.pods >= 1);
    const target = bin ?? bins[bins.push({ ...size }) - 1]!;
    target.cpu -= want.cpu;
    target.memory -= want.memory;
    target.pods -= 1;
  }
  return bins.length;
}

/** Whether the pods on `name` could go: each has a controller, and together they fit on the pool's other nodes. */
function movable(
  pods: readonly V1Pod[],
  name: string,
  members: readonly { node: V1Node }[],
  live: readonly V1Pod[],
): boolean {
  if (pods.some((pod) => !(pod.metadata?.ownerReferences ?? []).some((ref) => ref.controller === true)))
    return false;
  const wants = sum(pods.map((pod) => podRequests(pod.spec)));
  let cpu = 0;
  let memory = 0;
  for (const { node } of members) {
    const other = node.metadata?.name ?? '';
    if (other === name) continue;
    const size = capacityOf(node);
    const used = sum(live.filter((pod) => pod.spec?.nodeName === other).map((pod) => podRequests(pod.spec)));
    cpu += size.cpu - used.cpu;
    memory += size.memory - used.memory;
  }
  return wants.cpu <= cpu && wants.memory <= memory;
}

function isDaemonPod(pod: V1Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some(
    (ref) => ref.kind === 'DaemonSet' && ref.controller === true,
  );
}

function sum(requests: readonly { cpu: number; memory: number }[]): { cpu: number; memory: number } {
  return requests.reduce((a, b) => ({ cpu: a.cpu + b.cpu, memory: a.memory + b.memory }), {
    cpu: 0,
    memory: 0,
  });
}

const ratio = (used: number, size: number) => (size > 0 ? used / size : 0);
