/**
 * Node pool changes, pure: validate what a request asks, and compute the cluster's next pools and
 * nodes. The service writes the result with the cluster's next generation (the reconciler makes
 * the emulated Nodes follow); `generation` here is that next generation, `now` its time.
 */
import crypto from 'node:crypto';
import { conflict, invalid, notFound } from '../errors.ts';
import {
  DEFAULT_AUTOSCALING,
  DEFAULT_FLAVOR,
  FLAVORS,
  isGone,
  MAX_POOL_NODES,
  type NodePoolChangeStatus,
  type NodePoolCreationInput,
  type NodePoolRecord,
  type NodePoolTemplate,
  type NodePoolUpdateInput,
  type NodeRecord,
  type PoolContext,
  type TemplateInput,
} from './nodepools.model.ts';

export interface PoolChange {
  readonly generation: number;
  readonly now: string;
}

/** A DNS-1123 label: what a pool name must be, as it names the pool's Nodes. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** `-node-` and six hex digits follow the pool name in a Node's name (a 63-character label). */
const MAX_POOL_NAME = 63 - '-node-'.length - 6;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Live pools of the cluster: those deleted and applied are dropped from storage here. */
export function livePools(pools: readonly NodePoolRecord[], cluster: PoolContext): NodePoolRecord[] {
  return pools.filter((pool) => !isGone(pool, cluster));
}

/** The pool named by id (a deleted pool is not found). */
export function findPool(
  pools: readonly NodePoolRecord[],
  cluster: PoolContext,
  poolId: string,
): NodePoolRecord {
  const pool = pools.find((candidate) => candidate.id === poolId && !isGone(candidate, cluster));
  if (pool === undefined) throw notFound(`Node pool ${poolId} does not exist`);
  return pool;
}

/** A new pool from `cloud.ProjectKubeNodePoolCreation`, validated against the cluster's others. */
export function newPool(
  input: NodePoolCreationInput,
  others: readonly NodePoolRecord[],
  change: PoolChange,
  field = 'nodepool',
): NodePoolRecord {
  const flavor = input.flavorName ?? DEFAULT_FLAVOR;
  if (!FLAVORS.some((offered) => offered.name === flavor)) {
    throw invalid(
      `${field}.flavorName: '${flavor}' is not offered; available flavors (GET /capabilities/kube/flavors): ${FLAVORS.map((f) => f.name).join(', ')}`,
    );
  }
  const name = input.name ?? `nodepool-${crypto.randomBytes(3).toString('hex')}`;
  checkPoolName(name, `${field}.name`);
  if (others.some((pool) => pool.name === name && pool.status !== 'DELETING')) {
    throw invalid(`${field}.name: the cluster already has a node pool named '${name}'`);
  }
  const minNodes = input.minNodes ?? 0;
  const maxNodes = input.maxNodes ?? MAX_POOL_NODES;
  const desiredNodes = input.desiredNodes ?? Math.min(Math.max(3, minNodes), maxNodes);
  checkBounds({ desiredNodes, minNodes, maxNodes }, field);
  const template = templateOf(input.template, `${field}.template`);
  const pool: NodePoolRecord = {
    id: crypto.randomUUID(),
    name,
    flavor,
    desiredNodes,
    minNodes,
    maxNodes,
    autoscale: input.autoscale ?? false,
    antiAffinity: input.antiAffinity ?? false,
    monthlyBilled: input.monthlyBilled ?? false,
    autoscaling: { ...DEFAULT_AUTOSCALING, ...withoutNulls(input.autoscaling ?? {}) },
    template,
    availabilityZones: input.availabilityZones ?? [],
    attachFloatingIps: input.attachFloatingIps ?? null,
    nodes: [],
    status: 'INSTALLING',
    generation: change.generation,
    createdAt: change.now,
    updatedAt: change.now,
  };
  return { ...pool, nodes: resize(pool, [], desiredNodes, change) };
}

/**
 * The pool after `cloud.ProjectKubeNodePoolUpdate`: bounds merged with the current ones and
 * checked, `nodesToRemove` (ids or names, of this pool only) removed first, then the pool grown or
 * shrunk (newest nodes first) to `desiredNodes`. Without `desiredNodes`, removing nodes lowers it.
 * Undefined when nothing changes.
 */
export function updatedPool(
  pool: NodePoolRecord,
  input: NodePoolUpdateInput,
  all: readonly NodePoolRecord[],
  change: PoolChange,
): NodePoolRecord | undefined {
  if (pool.status === 'DELETING')
    throw conflict(`Node pool ${pool.id} is being deleted; it can no longer be changed`);
  const removed = new Set<string>();
  for (const wanted of input.nodesToRemove ?? []) {
    const node = pool.nodes.find((candidate) => candidate.id === wanted || candidate.name === wanted);
    if (node === undefined) {
      const owner = all.find((other) =>
        other.nodes.some((candidate) => candidate.id === wanted || candidate.name === wanted),
      );
      throw invalid(
        owner === undefined
          ? `nodesToRemove: '${wanted}' is not a node of node pool ${pool.name}`
          : `nodesToRemove: '${wanted}' is a node of node pool ${owner.name}, not of ${pool.name}`,
      );
    }
    removed.add(node.id);
  }
  const kept = pool.nodes.filter((node) => !removed.has(node.id));
  const minNodes = input.minNodes ?? pool.minNodes;
  const maxNodes = input.maxNodes ?? pool.maxNodes;
  const desiredNodes =
    input.desiredNodes ??
    (removed.size > 0 ? Math.max(0, pool.desiredNodes - removed.size) : pool.desiredNodes);
  checkBounds({ desiredNodes, minNodes, maxNodes }, 'nodepool');
  const template =
    input.template === undefined || input.template === null
      ? pool.template
      : templateOf(input.template, 'template');
  const nodes = resize(pool, kept, desiredNodes, change);
  const templateChanged = JSON.stringify(template) !== JSON.stringify(pool.template);
  const status: NodePoolChangeStatus =
    nodes.length > kept.length
      ? 'UPSCALING'
      : nodes.length < pool.nodes.length
        ? 'DOWNSCALING'
        : 'REDEPLOYING';
  const next: NodePoolRecord = {
    ...pool,
    desiredNodes,
    minNodes,
    maxNodes,
    autoscale: input.autoscale ?? pool.autoscale,
    autoscaling:
      input.autoscaling === undefined || input.autoscaling === null
        ? pool.autoscaling
        : { ...pool.autoscaling, ...withoutNulls(input.autoscaling) },
    attachFloatingIps:
      input.attachFloatingIps === undefined ? pool.attachFloatingIps : input.attachFloatingIps,
    template,
    nodes,
  };
  const { updatedAt: _a, ...before } = pool;
  const { updatedAt: _b, ...after } = next;
  if (JSON.stringify(before) === JSON.stringify(after)) return undefined;
  // Only a change the nodes must follow starts a new status; bounds alone are bookkeeping.
  const nodesChange = templateChanged || nodes !== pool.nodes;
  return nodesChange
    ? { ...next, status, generation: change.generation, updatedAt: change.now }
    : { ...next, updatedAt: change.now };
}

/** The pool being deleted: its nodes leave the cluster; it is gone once that is applied. */
export function deletingPool(pool: NodePoolRecord, change: PoolChange): NodePoolRecord {
  return { ...pool, nodes: [], status: 'DELETING', generation: change.generation, updatedAt: change.now };
}

/** The pool that holds node `nodeId` (id or name), or 404. */
export function poolOfNode(
  pools: readonly NodePoolRecord[],
  cluster: PoolContext,
  nodeId: string,
): { pool: NodePoolRecord; node: NodeRecord } {
  for (const pool of pools) {
    if (isGone(pool, cluster)) continue;
    const node = pool.nodes.find((candidate) => candidate.id === nodeId || candidate.name === nodeId);
    if (node !== undefined) return { pool, node };
  }
  throw notFound(`Node ${nodeId} does not exist`);
}

function resize(
  pool: NodePoolRecord,
  kept: readonly NodeRecord[],
  desired: number,
  change: PoolChange,
): readonly NodeRecord[] {
  if (kept.length === desired) return kept.length === pool.nodes.length ? pool.nodes : kept;
  if (kept.length > desired) {
    // The newest go first, as OVH's downscale does.
    return [...kept]
      .sort((a, b) => a.generation - b.generation || a.createdAt.localeCompare(b.createdAt))
      .slice(0, desired);
  }
  const names = new Set(kept.map((node) => node.name));
  const added: NodeRecord[] = [];
  while (kept.length + added.length < desired) {
    const name = `${pool.name}-node-${crypto.randomBytes(3).toString('hex')}`;
    if (names.has(name)) continue;
    names.add(name);
    added.push({ id: crypto.randomUUID(), name, generation: change.generation, createdAt: change.now });
  }
  return [...kept, ...added];
}

function checkPoolName(name: string, field: string): void {
  if (name.length > MAX_POOL_NAME || !DNS_LABEL.test(name)) {
    throw invalid(
      `${field}: '${name}' is not a valid node pool name: it names the pool's Kubernetes Nodes, so it must be ` +
        `1 to ${MAX_POOL_NAME} lowercase letters, digits or '-', starting and ending with a letter or digit`,
    );
  }
}

function checkBounds(
  pool: { desiredNodes: number; minNodes: number; maxNodes: number },
  field: string,
): void {
  if (pool.minNodes > pool.maxNodes) {
    throw invalid(`${field}.minNodes: ${pool.minNodes} is greater than maxNodes ${pool.maxNodes}`);
  }
  if (pool.desiredNodes < pool.minNodes || pool.desiredNodes > pool.maxNodes) {
    throw invalid(
      `${field}.desiredNodes: ${pool.desiredNodes} is outside [minNodes, maxNodes] = [${pool.minNodes}, ${pool.maxNodes}]`,
    );
  }
}

/** The stored template: every field present, keys and values checked as Kubernetes checks them. */
export function templateOf(input: TemplateInput | null | undefined, field: string): NodePoolTemplate {
  const labels = input?.metadata?.labels ?? {};
  const annotations = input?.metadata?.annotations ?? {};
  for (const [key, value] of Object.entries(labels)) {
    checkQualifiedName(key, `${field}.metadata.labels`);
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      throw invalid(
        `${field}.metadata.labels.${key}: '${value}' is not a valid label value (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
      );
    }
  }
  for (const key of Object.keys(annotations)) checkQualifiedName(key, `${field}.metadata.annotations`);
  const taints = (input?.spec?.taints ?? []).map((taint) => ({
    key: taint.key,
    value: taint.value ?? '',
    effect: taint.effect,
  }));
  const seen = new Set<string>();
  for (const taint of taints) {
    checkQualifiedName(taint.key, `${field}.spec.taints`);
    if (taint.value.length > 63 || !LABEL_VALUE.test(taint.value)) {
      throw invalid(`${field}.spec.taints.${taint.key}: '${taint.value}' is not a valid taint value`);
    }
    const id = `${taint.key}:${taint.effect}`;
    if (seen.has(id)) throw invalid(`${field}.spec.taints: ${id} is given twice`);
    seen.add(id);
  }
  return {
    metadata: { annotations, finalizers: input?.metadata?.finalizers ?? [], labels },
    spec: { taints, unschedulable: input?.spec?.unschedulable ?? false },
  };
}

function checkQualifiedName(key: string, field: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  const valid =
    name.length <= 63 &&
    QUALIFIED_NAME.test(name) &&
    (prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix)));
  if (!valid) {
    throw invalid(
      `${field}: '${key}' is not a valid Kubernetes key (an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
    );
  }
}

function withoutNulls<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}
