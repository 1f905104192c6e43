/**
 * The typed client of mks's API, over the signed `ApiClient`: one method per call, the API's own
 * types in and out. The CLI uses it now, the web console later; it only speaks HTTP, so it works
 * against any mks (or OVH) endpoint.
 */

import type { ApiApplication, ApiCredential, CredentialState } from '../auth/credentials.store.ts';
import type { RolloutView } from '../clusters/cluster-rollout.ts';
import type { ClusterStatus, CreationInput, UpdatePolicy } from '../clusters/clusters.model.ts';
import type { HistoryEntry } from '../clusters/customization-history.ts';
import type {
  NodePoolCreationInput,
  NodePoolStatus,
  NodePoolTemplate,
  NodePoolUpdateInput,
} from '../clusters/nodepools.model.ts';
import type {
  CustomizationInput,
  CustomizationView,
  KubeProxyMode,
} from '../customization/customization.model.ts';
import type { CustomizationPreview } from '../customization/preview.ts';
import { ApiClient, ApiError } from './api-client.ts';
import type { OvhCredentials } from './ovh-conf.ts';

/** `cloud.kube.Cluster` as the API returns it. */
/** `cloud.kube.EtcdUsage`: bytes. */
export interface EtcdUsage {
  quota: number;
  usage: number;
}

export interface Cluster {
  id: string;
  name: string;
  region: string;
  version: string;
  status: ClusterStatus;
  url: string;
  nodesUrl: string;
  updatePolicy: UpdatePolicy;
  isUpToDate: boolean;
  controlPlaneIsUpToDate: boolean;
  auditLogsSubscribed: boolean;
  nextUpgradeVersions: string[] | null;
  kubeProxyMode: KubeProxyMode;
  customization: CustomizationView | null;
  privateNetworkId: string | null;
  nodesSubnetId: string | null;
  loadBalancersSubnetId: string | null;
  privateNetworkConfiguration: unknown;
  createdAt: string;
  updatedAt: string;
  plan: string;
  ipAllocationPolicy: unknown;
  /** mks extension: why the cluster is in `ERROR`. */
  statusMessage?: string | null;
}

/** `GET …/kube/{id}/rollout` (mks extension): the kube-proxy rollout node by node. */
export type Rollout = RolloutView;

/** `cloud.kube.NodePool` as the API returns it. */
export interface NodePool {
  id: string;
  name: string;
  flavor: string;
  status: NodePoolStatus;
  sizeStatus: string;
  desiredNodes: number;
  minNodes: number;
  maxNodes: number;
  currentNodes: number;
  availableNodes: number;
  upToDateNodes: number;
  autoscale: boolean;
  template: NodePoolTemplate;
  createdAt: string;
  updatedAt: string;
}

/** `cloud.kube.Node` as the API returns it. */
export interface KubeNode {
  id: string;
  name: string;
  nodePoolId: string;
  flavor: string;
  status: string;
  version: string;
  createdAt: string;
}

/** `cloud.Project`, the fields mks returns. */
export interface Project {
  project_id: string;
  projectName: string;
  description: string;
  status: string;
  creationDate: string;
}

export type ClusterCreation = CreationInput & { region: string };
export type ClusterReset = Omit<CreationInput, 'region'>;

/** The endpoint could not be reached (connection refused, unknown host, TLS failure…). */
export class UnreachableError extends Error {
  readonly endpoint: string;
  constructor(endpoint: string, cause: unknown) {
    const reason = ((cause as Error).cause as Error | undefined)?.message ?? (cause as Error).message;
    super(`cannot reach ${endpoint}: ${reason}`, { cause });
    this.name = 'UnreachableError';
    this.endpoint = endpoint;
  }
}

export class MksClient {
  readonly api: ApiClient;

  constructor(credentials: OvhCredentials | ApiClient) {
    this.api = credentials instanceof ApiClient ? credentials : new ApiClient(credentials);
  }

  get endpoint(): string {
    return this.api.endpoint;
  }

  /** `ApiClient.call`, with network failures named (fetch says only "fetch failed"). */
  async #call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    try {
      return await this.api.call<T>(method, path, body);
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new UnreachableError(this.endpoint, error);
    }
  }

  listProjects(): Promise<string[]> {
    return this.#call<string[]>('GET', '/cloud/project');
  }

  getProject(project: string): Promise<Project> {
    return this.#call<Project>('GET', projectPath(project));
  }

  listClusterIds(project: string): Promise<string[]> {
    return this.#call<string[]>('GET', `${projectPath(project)}/kube`);
  }

  /** Every cluster of the project, read in parallel (ids that vanish meanwhile are left out). */
  async listClusters(project: string): Promise<Cluster[]> {
    const ids = await this.listClusterIds(project);
    const clusters = await Promise.all(ids.map((id) => this.findCluster(project, id)));
    return clusters.filter((cluster): cluster is Cluster => cluster !== undefined);
  }

  getCluster(project: string, id: string): Promise<Cluster> {
    return this.#call<Cluster>('GET', clusterPath(project, id));
  }

  /** The cluster, or undefined once it is gone (404). */
  async findCluster(project: string, id: string): Promise<Cluster | undefined> {
    try {
      return await this.getCluster(project, id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  createCluster(project: string, body: ClusterCreation): Promise<Cluster> {
    return this.#call<Cluster>('POST', `${projectPath(project)}/kube`, body);
  }

  async updateCluster(
    project: string,
    id: string,
    body: { name?: string; updatePolicy?: UpdatePolicy },
  ): Promise<void> {
    await this.#call('PUT', clusterPath(project, id), body);
  }

  async deleteCluster(project: string, id: string): Promise<void> {
    await this.#call('DELETE', clusterPath(project, id));
  }

  async resetCluster(project: string, id: string, body: ClusterReset): Promise<void> {
    await this.#call('POST', `${clusterPath(project, id)}/reset`, body);
  }

  /** What resetCluster(body) would do (mks extension); nothing is stored. */
  previewReset(project: string, id: string, body: ClusterReset): Promise<CustomizationPreview> {
    return this.#call<CustomizationPreview>('POST', `${clusterPath(project, id)}/reset/preview`, body);
  }

  getCustomization(project: string, id: string): Promise<CustomizationView> {
    return this.#call<CustomizationView>('GET', `${clusterPath(project, id)}/customization`);
  }

  /** Sections sent replace the stored ones, others are kept; answers the API's message (warnings). */
  updateCustomization(project: string, id: string, body: CustomizationInput): Promise<{ message?: string }> {
    return this.#call<{ message?: string } | null>(
      'PUT',
      `${clusterPath(project, id)}/customization`,
      body,
    ).then((answer) => answer ?? {});
  }

  /** What updateCustomization(body) would do (mks extension); nothing is stored. */
  previewCustomization(project: string, id: string, body: CustomizationInput): Promise<CustomizationPreview> {
    return this.#call<CustomizationPreview>(
      'POST',
      `${clusterPath(project, id)}/customization/preview`,
      body,
    );
  }

  /** Every change of the cluster, newest first (mks extension). */
  customizationHistory(project: string, id: string): Promise<HistoryEntry[]> {
    return this.#call<HistoryEntry[]>('GET', `${clusterPath(project, id)}/customization/history`);
  }

  /** Makes an earlier generation's customization the desired one again (mks extension). */
  revertCustomization(project: string, id: string, generation: number): Promise<{ message?: string }> {
    return this.#call<{ message?: string }>('POST', `${clusterPath(project, id)}/customization/revert`, {
      generation,
    });
  }

  /** The kube-proxy rollout node by node (mks extension). */
  rollout(project: string, id: string): Promise<Rollout> {
    return this.#call<Rollout>('GET', `${clusterPath(project, id)}/rollout`);
  }

  async getKubeconfig(project: string, id: string): Promise<string> {
    const answer = await this.#call<{ content: string }>('POST', `${clusterPath(project, id)}/kubeconfig`);
    return answer.content;
  }

  listNodePools(project: string, id: string): Promise<NodePool[]> {
    return this.#call<NodePool[]>('GET', `${clusterPath(project, id)}/nodepool`);
  }

  getNodePool(project: string, id: string, poolId: string): Promise<NodePool> {
    return this.#call<NodePool>('GET', poolPath(project, id, poolId));
  }

  /** The pool, or undefined once it is gone (404). */
  async findNodePool(project: string, id: string, poolId: string): Promise<NodePool | undefined> {
    try {
      return await this.getNodePool(project, id, poolId);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  createNodePool(project: string, id: string, body: NodePoolCreationInput): Promise<NodePool> {
    return this.#call<NodePool>('POST', `${clusterPath(project, id)}/nodepool`, body);
  }

  async updateNodePool(
    project: string,
    id: string,
    poolId: string,
    body: NodePoolUpdateInput,
  ): Promise<void> {
    await this.#call('PUT', poolPath(project, id, poolId), body);
  }

  async deleteNodePool(project: string, id: string, poolId: string): Promise<void> {
    await this.#call('DELETE', poolPath(project, id, poolId));
  }

  /** The nodes of one pool, or of the whole cluster. */
  listNodes(project: string, id: string, poolId?: string): Promise<KubeNode[]> {
    return this.#call<KubeNode[]>(
      'GET',
      poolId === undefined ? `${clusterPath(project, id)}/node` : `${poolPath(project, id, poolId)}/nodes`,
    );
  }

  /** `POST /update`: UPDATING while the nodes are replaced, then READY. */
  async upgradeCluster(project: string, id: string, strategy: 'LATEST_PATCH' | 'NEXT_MINOR'): Promise<void> {
    await this.#call('POST', `${clusterPath(project, id)}/update`, { strategy });
  }

  /** `POST /restart`: the control plane restarts (REDEPLOYING, then READY); `force` while not READY. */
  async restartCluster(project: string, id: string, force: boolean): Promise<void> {
    await this.#call('POST', `${clusterPath(project, id)}/restart`, force ? { force } : {});
  }

  /** `GET /metrics/etcdUsage`: bytes the cluster stores and its quota. */
  getEtcdUsage(project: string, id: string): Promise<EtcdUsage> {
    return this.#call<EtcdUsage>('GET', `${clusterPath(project, id)}/metrics/etcdUsage`);
  }

  getIpRestrictions(project: string, id: string): Promise<string[]> {
    return this.#call<string[]>('GET', `${clusterPath(project, id)}/ipRestrictions`);
  }

  /** `PUT` (replace the list) or `POST` (add to it). */
  async setIpRestrictions(
    project: string,
    id: string,
    ips: string[],
    mode: 'replace' | 'add',
  ): Promise<void> {
    await this.#call(mode === 'replace' ? 'PUT' : 'POST', `${clusterPath(project, id)}/ipRestrictions`, {
      ips,
    });
  }

  async deleteIpRestriction(project: string, id: string, ip: string): Promise<void> {
    await this.#call('DELETE', `${clusterPath(project, id)}/ipRestrictions/${encodeURIComponent(ip)}`);
  }

  listRegions(project: string): Promise<string[]> {
    return this.#call<string[]>('GET', `${projectPath(project)}/capabilities/kube/regions`);
  }

  listAdmissionPlugins(project: string): Promise<string[]> {
    return this.#call<string[]>('GET', `${projectPath(project)}/capabilities/kube/admissionplugins`);
  }

  /** `GET /me/api/credential`: the account's API key ids (optionally of one state or application). */
  listCredentialIds(filter: { status?: CredentialState; applicationId?: number } = {}): Promise<number[]> {
    const query = new URLSearchParams();
    if (filter.status !== undefined) query.set('status', filter.status);
    if (filter.applicationId !== undefined) query.set('applicationId', String(filter.applicationId));
    const search = query.size === 0 ? '' : `?${query}`;
    return this.#call<number[]>('GET', `/me/api/credential${search}`);
  }

  getCredential(id: number): Promise<ApiCredential> {
    return this.#call<ApiCredential>('GET', `/me/api/credential/${id}`);
  }

  async revokeCredential(id: number): Promise<void> {
    await this.#call('DELETE', `/me/api/credential/${id}`);
  }

  async setCredentialAllowedIps(id: number, allowedIPs: string[] | null): Promise<void> {
    await this.#call('PUT', `/me/api/credential/${id}`, { allowedIPs });
  }

  listApplicationIds(): Promise<number[]> {
    return this.#call<number[]>('GET', '/me/api/application');
  }

  getApplication(id: number): Promise<ApiApplication> {
    return this.#call<ApiApplication>('GET', `/me/api/application/${id}`);
  }

  async deleteApplication(id: number): Promise<void> {
    await this.#call('DELETE', `/me/api/application/${id}`);
  }

  /** `POST /auth/logout`: expires the consumer key this client signs with. */
  async logout(): Promise<void> {
    await this.#call('POST', '/auth/logout');
  }
}

const projectPath = (project: string) => `/cloud/project/${encodeURIComponent(project)}`;
const clusterPath = (project: string, id: string) => `${projectPath(project)}/kube/${encodeURIComponent(id)}`;
const poolPath = (project: string, id: string, poolId: string) =>
  `${clusterPath(project, id)}/nodepool/${encodeURIComponent(poolId)}`;
