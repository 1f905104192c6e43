/**
 * The cluster as mks holds it, its wire views (`cloud.kube.Cluster`) and the JSON schemas of the
 * requests that create, reset and update it (OVH's `cloud.ProjectKube*` models).
 */
import type { Customization, KubeProxyMode } from '../customization/customization.model.ts';
import { customizationSchema, KUBE_PROXY_MODES } from '../customization/customization.model.ts';
import { customizationView } from '../customization/customization.ts';
import { isUpgrading } from './cluster-status.ts';
import {
  type NodePoolCreationInput,
  type NodePoolRecord,
  nodePoolCreationSchema,
} from './nodepools.model.ts';
import type { OpenIdConnect } from './oidc.ts';
import { isLatestPatch, nextUpgradeVersions, UPDATE_STRATEGIES } from './versions.ts';

export const CLUSTER_STATUSES = [
  'DELETED',
  'DELETING',
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
  'USER_ERROR',
  'USER_QUOTA_ERROR',
  'USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR',
  'UNKNOWN',
] as const;
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number];

export const UPDATE_POLICIES = ['ALWAYS_UPDATE', 'MINIMAL_DOWNTIME', 'NEVER_UPDATE'] as const;
export type UpdatePolicy = (typeof UPDATE_POLICIES)[number];
export const PLANS = ['free', 'standard'] as const;

export interface PrivateNetworkConfiguration {
  defaultVrackGateway: string;
  privateNetworkRoutingAsDefault: boolean;
}

export interface ClusterRecord {
  readonly id: string;
  readonly projectId: string;
  readonly name: string;
  readonly region: string;
  readonly version: string;
  readonly updatePolicy: UpdatePolicy;
  readonly kubeProxyMode: KubeProxyMode;
  readonly customization: Customization;
  /** The cluster's node pools and their nodes (pools being deleted included until applied). */
  readonly nodePools: readonly NodePoolRecord[];
  /** Canonical CIDR blocks allowed on the cluster's Kubernetes API; empty: every address. */
  readonly ipRestrictions: readonly string[];
  /** The Kubernetes API's OpenID Connect configuration (kube-apiserver `--oidc-*` flags), or null. */
  readonly openIdConnect: OpenIdConnect | null;
  readonly plan: string;
  readonly privateNetworkId: string | null;
  readonly nodesSubnetId: string | null;
  readonly loadBalancersSubnetId: string | null;
  readonly privateNetworkConfiguration: PrivateNetworkConfiguration | null;
  readonly status: ClusterStatus;
  readonly statusMessage: string | null;
  readonly generation: number;
  readonly observedGeneration: number;
  /** The generation of the last `POST …/restart` (0: never): the control plane restarts once for it. */
  readonly restartGeneration: number;
  readonly tokenEpoch: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
}

/** Where a cluster's Kubernetes API is served (mks serves emulated clusters itself). */
export function kubernetesApiUrl(kubePublicUrl: string, clusterId: string): string {
  return `${kubePublicUrl}/k8s/${clusterId}`;
}

/** `cloud.kube.Cluster`: every field present, `null` where unset. */
export function clusterView(cluster: ClusterRecord, kubePublicUrl: string) {
  return {
    id: cluster.id,
    name: cluster.name,
    region: cluster.region,
    version: cluster.version,
    status: cluster.status,
    url: kubernetesApiUrl(kubePublicUrl, cluster.id).replace(/^https?:\/\//, ''),
    nodesUrl: `${cluster.id.slice(0, 6)}.nodes.${cluster.region.toLowerCase()}.mks.internal`,
    updatePolicy: cluster.updatePolicy,
    isUpToDate: !isUpgrading(cluster) && isLatestPatch(cluster.version),
    controlPlaneIsUpToDate: !isUpgrading(cluster) && isLatestPatch(cluster.version),
    auditLogsSubscribed: false,
    nextUpgradeVersions: nextUpgradeVersions(cluster.version),
    kubeProxyMode: cluster.kubeProxyMode,
    customization: customizationView(cluster.customization),
    privateNetworkId: cluster.privateNetworkId,
    nodesSubnetId: cluster.nodesSubnetId,
    loadBalancersSubnetId: cluster.loadBalancersSubnetId,
    privateNetworkConfiguration: cluster.privateNetworkConfiguration,
    createdAt: cluster.createdAt,
    updatedAt: cluster.updatedAt,
    plan: cluster.plan,
    ipAllocationPolicy: null,
    statusMessage: cluster.statusMessage,
  };
}

const nullable = (schema: Record<string, unknown>, description?: string) => ({
  ...schema,
  type: [schema.type as string, 'null'],
  ...(description === undefined ? {} : { description }),
});

const privateNetworkConfigurationSchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    defaultVrackGateway: { type: 'string', description: 'Empty string means disabled' },
    privateNetworkRoutingAsDefault: { type: ['boolean', 'null'] },
  },
} as const;

const ipAllocationPolicySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    podsIpv4Cidr: { type: ['string', 'null'] },
    servicesIpv4Cidr: { type: ['string', 'null'] },
  },
} as const;

const sharedCreationProperties = {
  name: { type: 'string', maxLength: 255, description: 'Cluster name' },
  version: { type: ['string', 'null'], description: 'Kubernetes minor version, e.g. 1.33 (default: newest)' },
  updatePolicy: { type: ['string', 'null'], enum: [...UPDATE_POLICIES, null] },
  kubeProxyMode: { type: 'string', enum: [...KUBE_PROXY_MODES], description: 'kube-proxy mode' },
  customization: customizationSchema,
  privateNetworkId: { type: ['string', 'null'], maxLength: 128 },
  nodesSubnetId: { type: ['string', 'null'], maxLength: 128 },
  loadBalancersSubnetId: { type: ['string', 'null'], maxLength: 128 },
  privateNetworkConfiguration: privateNetworkConfigurationSchema,
  nodepool: nullable(nodePoolCreationSchema, 'Deprecated: one initial node pool (use nodepools)'),
  nodepools: nullable({ type: 'array', items: nodePoolCreationSchema, maxItems: 10 }, 'Initial node pools'),
  ipAllocationPolicy: ipAllocationPolicySchema,
} as const;

/** `cloud.ProjectKubeCreation` (only `region` is required). */
export const creationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['region'],
  properties: {
    region: { type: 'string', description: 'Region, see GET /capabilities/kube/regions' },
    plan: { type: ['string', 'null'], enum: [...PLANS, null] },
    ...sharedCreationProperties,
  },
} as const;

/** `cloud.ProjectKubeResetCreation`: no field required; what is left out resets to its default. */
export const resetSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    region: {
      type: 'string',
      description: 'Accepted for symmetry with creation; must be the cluster region',
    },
    workerNodesPolicy: { type: ['string', 'null'], enum: ['delete', 'reinstall', null] },
    ...sharedCreationProperties,
  },
} as const;

/** `cloud.ProjectKubeIpRestrictionUpsert` (POST and PUT `/ipRestrictions`). */
export const ipRestrictionsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ips'],
  properties: {
    ips: {
      type: 'array',
      maxItems: 100,
      items: { type: 'string', maxLength: 64 },
      description:
        'IP blocks (IPv4 or IPv6, optional /prefix) allowed on the cluster Kubernetes API; empty allows all',
    },
  },
} as const;

/** `cloud.ProjectKubeUpdate`. */
export const updateSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 255 },
    updatePolicy: { type: 'string', enum: [...UPDATE_POLICIES] },
  },
} as const;

/** `cloud.ProjectKubeUpdateCreation` (POST `/update`). */
export const upgradeSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    strategy: {
      type: 'string',
      enum: [...UPDATE_STRATEGIES],
      description:
        'NEXT_MINOR: to the next minor of nextUpgradeVersions; LATEST_PATCH: to the newest patch of its minor (default)',
    },
    force: { type: ['boolean', 'null'], description: 'Deprecated by OVH, no effect' },
  },
} as const;

export const updatePolicySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['updatePolicy'],
  properties: { updatePolicy: { type: 'string', enum: [...UPDATE_POLICIES] } },
} as const;

export interface CreationInput {
  region?: string;
  name?: string;
  version?: string | null;
  updatePolicy?: UpdatePolicy | null;
  kubeProxyMode?: KubeProxyMode;
  customization?: import('../customization/customization.model.ts').CustomizationInput | null;
  privateNetworkId?: string | null;
  nodesSubnetId?: string | null;
  loadBalancersSubnetId?: string | null;
  privateNetworkConfiguration?: {
    defaultVrackGateway?: string;
    privateNetworkRoutingAsDefault?: boolean | null;
  } | null;
  nodepool?: NodePoolCreationInput | null;
  nodepools?: NodePoolCreationInput[] | null;
  plan?: string | null;
  workerNodesPolicy?: string | null;
}

/** `cloud.kube.Cluster`, for the OpenAPI document. */
export const clusterResponseSchema = {
  type: 'object',
  description: 'cloud.kube.Cluster',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    region: { type: 'string' },
    version: { type: 'string', description: 'MAJOR.MINOR.PATCH' },
    status: { type: 'string', enum: [...CLUSTER_STATUSES] },
    url: { type: 'string' },
    nodesUrl: { type: 'string' },
    updatePolicy: { type: 'string' },
    isUpToDate: { type: 'boolean' },
    controlPlaneIsUpToDate: { type: 'boolean' },
    auditLogsSubscribed: { type: 'boolean' },
    nextUpgradeVersions: { type: ['array', 'null'], items: { type: 'string' } },
    kubeProxyMode: { type: 'string', enum: [...KUBE_PROXY_MODES] },
    customization: { type: ['object', 'null'] },
    privateNetworkId: { type: ['string', 'null'] },
    nodesSubnetId: { type: ['string', 'null'] },
    loadBalancersSubnetId: { type: ['string', 'null'] },
    privateNetworkConfiguration: { type: ['object', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    plan: { type: 'string' },
    ipAllocationPolicy: { type: ['object', 'null'] },
    statusMessage: { type: ['string', 'null'], description: 'mks extension: why the cluster is in ERROR' },
  },
} as const;
