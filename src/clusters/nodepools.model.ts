/**
 * Node pools and their nodes as mks holds them (inside their cluster's row), their wire views
 * (`cloud.kube.NodePool`, `cloud.kube.Node`), the flavors offered (`cloud.kube.Flavor`) and the
 * JSON schemas of the requests that create and update a pool (OVH's `cloud.ProjectKubeNodePool*`).
 */

/** `cloud.kube.NodePoolStatusEnum`: the cluster's statuses plus the pool's own. */
export const NODE_POOL_STATUSES = [
  'DELETED',
  'DELETING',
  'DOWNSCALING',
  'ERROR',
  'INSTALLING',
  'MAINTENANCE',
  'READY',
  'REDEPLOYING',
  'REOPENING',
  'RESETTING',
  'SUSPENDED',
  'SUSPENDING',
  'UPDATING',
  'UPSCALING',
  'USER_ERROR',
  'USER_NODE_NOT_FOUND_ERROR',
  'USER_NODE_SUSPENDED_SERVICE',
  'USER_QUOTA_ERROR',
  'UNKNOWN',
] as const;
export type NodePoolStatus = (typeof NODE_POOL_STATUSES)[number];

/** The statuses a pool change starts (READY once its cluster has applied it). */
export type NodePoolChangeStatus = 'INSTALLING' | 'UPSCALING' | 'DOWNSCALING' | 'REDEPLOYING' | 'DELETING';

/** `cloud.kube.NodePoolSizeStatusEnum`. */
export const SIZE_STATUSES = ['CAPACITY_OK', 'OVER_CAPACITY', 'UNDER_CAPACITY'] as const;

export const TAINT_EFFECTS = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'] as const;
export type TaintEffect = (typeof TAINT_EFFECTS)[number];

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: TaintEffect;
}

/** `cloud.kube.NodePoolTemplate`: what every node of the pool carries in Kubernetes. */
export interface NodePoolTemplate {
  readonly metadata: {
    readonly annotations: Readonly<Record<string, string>>;
    readonly finalizers: readonly string[];
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly spec: { readonly taints: readonly Taint[]; readonly unschedulable: boolean };
}

export interface Autoscaling {
  readonly scaleDownUnneededTimeSeconds: number;
  readonly scaleDownUnreadyTimeSeconds: number;
  readonly scaleDownUtilizationThreshold: number;
}

export interface NodeRecord {
  readonly id: string;
  /** The Kubernetes Node's name. */
  readonly name: string;
  /** The cluster generation that created the node: it is READY once that generation is applied. */
  readonly generation: number;
  readonly createdAt: string;
}

export interface NodePoolRecord {
  readonly id: string;
  readonly name: string;
  readonly flavor: string;
  readonly desiredNodes: number;
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly autoscale: boolean;
  readonly antiAffinity: boolean;
  readonly monthlyBilled: boolean;
  readonly autoscaling: Autoscaling;
  readonly template: NodePoolTemplate;
  readonly availabilityZones: readonly string[];
  readonly attachFloatingIps: { readonly enabled: boolean } | null;
  readonly nodes: readonly NodeRecord[];
  /** The status the pool's last change started; reported until its cluster applied `generation`. */
  readonly status: NodePoolChangeStatus;
  /** The cluster generation of the pool's last change. */
  readonly generation: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** `cloud.kube.Flavor`. */
export interface Flavor {
  readonly name: string;
  readonly category: string;
  readonly state: 'available' | 'unavailable';
  readonly vCPUs: number;
  readonly ram: number;
  readonly gpus: number;
}

/** The flavors a node pool may use (mks offers the same in every region). */
export const FLAVORS: readonly Flavor[] = Object.freeze(
  (
    [
      ['b2-7', 'b', 2, 7],
      ['b2-15', 'b', 4, 15],
      ['b2-30', 'b', 8, 30],
      ['b3-8', 'b', 2, 8],
      ['b3-16', 'b', 4, 16],
      ['b3-32', 'b', 8, 32],
      ['b3-64', 'b', 16, 64],
      ['c3-4', 'c', 2, 4],
      ['c3-8', 'c', 4, 8],
      ['c3-16', 'c', 8, 16],
      ['d2-4', 'd', 2, 4],
      ['d2-8', 'd', 4, 8],
      ['r3-16', 'r', 2, 16],
      ['r3-32', 'r', 4, 32],
      ['r3-64', 'r', 8, 64],
    ] as const
  ).map(([name, category, vCPUs, ram]) =>
    Object.freeze({ name, category, state: 'available' as const, vCPUs, ram, gpus: 0 }),
  ),
);

export const DEFAULT_FLAVOR = 'b3-8';

/** The pool a cluster created without `nodepool(s)` gets, so it has nodes for kube-proxy. */
export const DEFAULT_POOL = Object.freeze({ name: 'default', desiredNodes: 3 });

/** OVH's default scale-down settings of the cluster autoscaler. */
export const DEFAULT_AUTOSCALING: Autoscaling = Object.freeze({
  scaleDownUnneededTimeSeconds: 600,
  scaleDownUnreadyTimeSeconds: 1200,
  scaleDownUtilizationThreshold: 0.5,
});

/** The most nodes one pool may have in mks (each is an emulated Node with a kube-proxy pod). */
export const MAX_POOL_NODES = 100;

// ---- views -----------------------------------------------------------------------------------

/** What a view needs of the pool's cluster. */
export interface PoolContext {
  readonly projectId: string;
  readonly version: string;
  readonly observedGeneration: number;
}

/** Whether the change the pool (or node) records at `generation` is applied. */
const settled = (generation: number, cluster: PoolContext) => generation <= cluster.observedGeneration;

/** A pool deleted and applied: gone from every view. */
export function isGone(pool: NodePoolRecord, cluster: PoolContext): boolean {
  return pool.status === 'DELETING' && settled(pool.generation, cluster);
}

export function nodePoolStatus(pool: NodePoolRecord, cluster: PoolContext): NodePoolStatus {
  return settled(pool.generation, cluster) ? 'READY' : pool.status;
}

/** `cloud.kube.NodePool`. */
export function nodePoolView(pool: NodePoolRecord, cluster: PoolContext) {
  const available = pool.nodes.filter((node) => settled(node.generation, cluster)).length;
  const current = pool.nodes.length;
  return {
    id: pool.id,
    projectId: cluster.projectId,
    name: pool.name,
    flavor: pool.flavor,
    status: nodePoolStatus(pool, cluster),
    sizeStatus:
      current < pool.desiredNodes
        ? 'UNDER_CAPACITY'
        : current > pool.desiredNodes
          ? 'OVER_CAPACITY'
          : 'CAPACITY_OK',
    autoscale: pool.autoscale,
    autoscaling: pool.autoscaling,
    monthlyBilled: pool.monthlyBilled,
    antiAffinity: pool.antiAffinity,
    desiredNodes: pool.desiredNodes,
    minNodes: pool.minNodes,
    maxNodes: pool.maxNodes,
    currentNodes: current,
    availableNodes: available,
    upToDateNodes: available,
    template: pool.template,
    availabilityZones: pool.availabilityZones,
    attachFloatingIps: pool.attachFloatingIps,
    createdAt: pool.createdAt,
    updatedAt: pool.updatedAt,
  };
}

/** `cloud.kube.Node`. */
export function nodeView(node: NodeRecord, pool: NodePoolRecord, cluster: PoolContext) {
  const ready = settled(node.generation, cluster);
  return {
    id: node.id,
    projectId: cluster.projectId,
    instanceId: ready ? node.id : null,
    nodePoolId: pool.id,
    name: node.name,
    flavor: pool.flavor,
    status: ready ? 'READY' : 'INSTALLING',
    isUpToDate: true,
    version: cluster.version,
    createdAt: node.createdAt,
    deployedAt: ready ? node.createdAt : null,
    updatedAt: node.createdAt,
    deletedAt: null,
  };
}

// ---- schemas ---------------------------------------------------------------------------------

const nullable = (schema: Record<string, unknown>) => ({
  ...schema,
  type: [schema.type as string, 'null'],
});

/** A Kubernetes label key or annotation key: an optional DNS subdomain prefix and a name. */
const stringMap = {
  type: 'object',
  additionalProperties: { type: 'string', maxLength: 4096 },
  maxProperties: 64,
} as const;

export const templateSchema = {
  type: 'object',
  additionalProperties: false,
  description:
    'cloud.kube.NodePoolTemplate: labels, annotations, taints and unschedulable of every node of the pool',
  properties: {
    metadata: nullable({
      type: 'object',
      additionalProperties: false,
      properties: {
        annotations: nullable(stringMap),
        finalizers: nullable({ type: 'array', items: { type: 'string', maxLength: 253 }, maxItems: 32 }),
        labels: nullable(stringMap),
      },
    }),
    spec: nullable({
      type: 'object',
      additionalProperties: false,
      properties: {
        taints: nullable({
          type: 'array',
          maxItems: 32,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['key', 'effect'],
            properties: {
              key: { type: 'string', maxLength: 316 },
              value: nullable({ type: 'string', maxLength: 63 }),
              effect: { type: 'string', enum: [...TAINT_EFFECTS] },
            },
          },
        }),
        unschedulable: nullable({ type: 'boolean' }),
      },
    }),
  },
} as const;

const autoscalingSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scaleDownUnneededTimeSeconds: nullable({ type: 'integer', minimum: 0 }),
    scaleDownUnreadyTimeSeconds: nullable({ type: 'integer', minimum: 0 }),
    scaleDownUtilizationThreshold: nullable({ type: 'number', minimum: 0, maximum: 1 }),
  },
} as const;

const nodeCountSchema = nullable({ type: 'integer', minimum: 0, maximum: MAX_POOL_NODES });

/** `cloud.ProjectKubeCreationNodePool` and `cloud.ProjectKubeNodePoolCreation`. */
export const nodePoolCreationSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'A node pool: flavor from GET /capabilities/kube/flavors, name a Kubernetes name',
  properties: {
    flavorName: { type: 'string', maxLength: 64, description: `Flavor (default ${DEFAULT_FLAVOR})` },
    name: nullable({ type: 'string', maxLength: 63, description: 'Lowercase alphanumerics and -' }),
    desiredNodes: nodeCountSchema,
    minNodes: nodeCountSchema,
    maxNodes: nodeCountSchema,
    autoscale: nullable({ type: 'boolean' }),
    antiAffinity: nullable({ type: 'boolean' }),
    monthlyBilled: nullable({ type: 'boolean' }),
    template: nullable(templateSchema),
    autoscaling: nullable(autoscalingSchema),
    availabilityZones: nullable({ type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 8 }),
    attachFloatingIps: nullable({
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: { enabled: { type: 'boolean' } },
    }),
  },
} as const;

/** `cloud.ProjectKubeNodePoolUpdate`. */
export const nodePoolUpdateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    desiredNodes: nodeCountSchema,
    minNodes: nodeCountSchema,
    maxNodes: nodeCountSchema,
    autoscale: nullable({ type: 'boolean' }),
    autoscaling: nullable(autoscalingSchema),
    template: nullable(templateSchema),
    nodesToRemove: nullable({
      type: 'array',
      items: { type: 'string', maxLength: 128 },
      maxItems: MAX_POOL_NODES,
      description: 'Ids or names of nodes of this pool to remove (desiredNodes shrinks with them)',
    }),
    attachFloatingIps: nodePoolCreationSchema.properties.attachFloatingIps,
  },
} as const;

export interface TemplateInput {
  metadata?: {
    annotations?: Record<string, string> | null;
    finalizers?: string[] | null;
    labels?: Record<string, string> | null;
  } | null;
  spec?: {
    taints?: Array<{ key: string; value?: string | null; effect: TaintEffect }> | null;
    unschedulable?: boolean | null;
  } | null;
}

export interface AutoscalingInput {
  scaleDownUnneededTimeSeconds?: number | null;
  scaleDownUnreadyTimeSeconds?: number | null;
  scaleDownUtilizationThreshold?: number | null;
}

export interface NodePoolCreationInput {
  flavorName?: string;
  name?: string | null;
  desiredNodes?: number | null;
  minNodes?: number | null;
  maxNodes?: number | null;
  autoscale?: boolean | null;
  antiAffinity?: boolean | null;
  monthlyBilled?: boolean | null;
  template?: TemplateInput | null;
  autoscaling?: AutoscalingInput | null;
  availabilityZones?: string[] | null;
  attachFloatingIps?: { enabled: boolean } | null;
}

export interface NodePoolUpdateInput {
  desiredNodes?: number | null;
  minNodes?: number | null;
  maxNodes?: number | null;
  autoscale?: boolean | null;
  autoscaling?: AutoscalingInput | null;
  template?: TemplateInput | null;
  nodesToRemove?: string[] | null;
  attachFloatingIps?: { enabled: boolean } | null;
}

const taintResponse = {
  type: 'object',
  properties: { key: { type: 'string' }, value: { type: 'string' }, effect: { type: 'string' } },
} as const;

/** `cloud.kube.NodePool`, for the OpenAPI document. */
export const nodePoolResponseSchema = {
  type: 'object',
  description: 'cloud.kube.NodePool',
  properties: {
    id: { type: 'string' },
    projectId: { type: 'string' },
    name: { type: 'string' },
    flavor: { type: 'string' },
    status: { type: 'string', enum: [...NODE_POOL_STATUSES] },
    sizeStatus: { type: 'string', enum: [...SIZE_STATUSES] },
    autoscale: { type: 'boolean' },
    autoscaling: { type: 'object' },
    monthlyBilled: { type: 'boolean' },
    antiAffinity: { type: 'boolean' },
    desiredNodes: { type: 'integer' },
    minNodes: { type: 'integer' },
    maxNodes: { type: 'integer' },
    currentNodes: { type: 'integer' },
    availableNodes: { type: 'integer' },
    upToDateNodes: { type: 'integer' },
    template: {
      type: 'object',
      properties: {
        metadata: { type: 'object' },
        spec: {
          type: 'object',
          properties: { taints: { type: 'array', items: taintResponse }, unschedulable: { type: 'boolean' } },
        },
      },
    },
    availabilityZones: { type: 'array', items: { type: 'string' } },
    attachFloatingIps: { type: ['object', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

/** `cloud.kube.Node`, for the OpenAPI document. */
export const nodeResponseSchema = {
  type: 'object',
  description: 'cloud.kube.Node',
  properties: {
    id: { type: 'string' },
    projectId: { type: 'string' },
    instanceId: { type: ['string', 'null'] },
    nodePoolId: { type: 'string' },
    name: { type: 'string' },
    flavor: { type: 'string' },
    status: { type: 'string' },
    isUpToDate: { type: 'boolean' },
    version: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    deployedAt: { type: ['string', 'null'] },
    updatedAt: { type: 'string', format: 'date-time' },
    deletedAt: { type: ['string', 'null'] },
  },
} as const;

/** `cloud.kube.Flavor`, for the OpenAPI document. */
export const flavorResponseSchema = {
  type: 'object',
  description: 'cloud.kube.Flavor',
  properties: {
    name: { type: 'string' },
    category: { type: 'string' },
    state: { type: 'string', enum: ['available', 'unavailable'] },
    vCPUs: { type: 'integer' },
    ram: { type: 'integer', description: 'GB' },
    gpus: { type: 'integer' },
  },
} as const;
