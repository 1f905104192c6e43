/**
 * Cluster operations. The service only records intent: it validates, then writes the desired
 * state, the next generation and the transitional status in one transaction. Making it real is
 * the reconciler's job.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import {
  type Customization,
  type CustomizationInput,
  RESET_KUBE_PROXY_MODE,
} from '../customization/customization.model.ts';
import {
  kubeProxyWarnings,
  mergeCustomization,
  normalizeCustomization,
  validateCustomization,
} from '../customization/customization.ts';
import { type CustomizationPreview, previewCustomization, previewReset } from '../customization/preview.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { clip } from '../excerpt.ts';
import { isoText } from '../iso-time.ts';
import { type KubeProxyObserver, type RolloutView, rolloutView } from './cluster-rollout.ts';
import { type GenerationChange, INSTALLING, nextGeneration } from './cluster-status.ts';
import type {
  ClusterRecord,
  CreationInput,
  PrivateNetworkConfiguration,
  UpdatePolicy,
} from './clusters.model.ts';
import type { Actor, ClusterChange, ClusterStore } from './clusters.store.ts';
import { type HistoryEntry, historyEntries } from './customization-history.ts';
import { canonicalBlock, validBlocks } from './ip-restrictions.ts';
import {
  DEFAULT_POOL,
  type NodePoolCreationInput,
  type NodePoolRecord,
  type NodePoolUpdateInput,
  type NodeRecord,
} from './nodepools.model.ts';
import {
  deletingPool,
  findPool,
  livePools,
  newPool,
  type PoolChange,
  poolOfNode,
  updatedPool,
} from './nodepools.ts';
import { type OpenIdConnect, type OpenIdConnectInput, openIdConnectOf } from './oidc.ts';
import {
  NEWEST_MINOR,
  OFFERED_MINORS,
  resolveVersion,
  type UpdateStrategy,
  upgradeTarget,
} from './versions.ts';

export interface ClusterServiceOptions {
  readonly regions: readonly string[];
  readonly now?: () => Date;
}

export class ClusterService {
  readonly #store: ClusterStore;
  readonly #regions: readonly string[];
  readonly #now: () => Date;

  constructor(store: ClusterStore, options: ClusterServiceOptions) {
    this.#store = store;
    this.#regions = options.regions;
    this.#now = options.now ?? (() => new Date());
  }

  listIds(projectId: string): Promise<string[]> {
    return this.#store.listIds(projectId);
  }

  /**
   * The caller's live cluster when the store holds it in memory (no promise: the hot GETs), else
   * undefined and `get` answers (or refuses) it.
   */
  held(projectId: string, id: string): ClusterRecord | undefined {
    const cluster = this.#store.cached?.(id);
    return isLiveIn(cluster, projectId) ? cluster : undefined;
  }

  /** A live cluster of the project, or 404 (a cluster of another project does not exist here). */
  async get(projectId: string, id: string): Promise<ClusterRecord> {
    const cluster = await this.#store.get(id);
    if (!isLiveIn(cluster, projectId)) throw notFound(`Cluster ${id} does not exist`);
    return cluster;
  }

  async create(projectId: string, input: CreationInput, actor?: Actor): Promise<ClusterRecord> {
    const region = input.region ?? '';
    if (!this.#regions.includes(region)) {
      throw invalid(
        `region: '${clip(region)}' is not offered; available regions: ${this.#regions.join(', ')}`,
      );
    }
    const version = this.#version(input.version ?? NEWEST_MINOR);
    const customization = this.#customization(input.customization);
    const now = isoText(this.#now());
    const nodePools = initialPools(input, { generation: INSTALLING.generation, now }) ?? [
      newPool(DEFAULT_POOL, [], { generation: INSTALLING.generation, now }),
    ];
    const cluster: ClusterRecord = Object.freeze({
      id: crypto.randomUUID(),
      projectId,
      name: input.name ?? '',
      region,
      version,
      updatePolicy: input.updatePolicy ?? 'ALWAYS_UPDATE',
      kubeProxyMode: input.kubeProxyMode ?? 'iptables',
      customization,
      nodePools,
      ipRestrictions: [],
      openIdConnect: null,
      plan: input.plan ?? 'free',
      privateNetworkId: emptyToNull(input.privateNetworkId),
      nodesSubnetId: emptyToNull(input.nodesSubnetId),
      loadBalancersSubnetId: emptyToNull(input.loadBalancersSubnetId),
      privateNetworkConfiguration: privateNetworkConfiguration(input.privateNetworkConfiguration),
      ...INSTALLING,
      tokenEpoch: 1,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    await this.#store.insert(cluster, actor);
    return cluster;
  }

  /** `PUT /kube/{id}`: rename and/or change the update policy. Nothing for the reconciler. */
  async update(projectId: string, id: string, input: { name?: string; updatePolicy?: UpdatePolicy }) {
    await this.#change(projectId, id, (current) => ({
      next: {
        ...current,
        name: input.name ?? current.name,
        updatePolicy: input.updatePolicy ?? current.updatePolicy,
        updatedAt: isoText(this.#now()),
      },
    }));
  }

  /**
   * `POST /update`: moves the cluster to the version `strategy` names (status UPDATING); the
   * reconciler replaces its nodes one by one. Allowed whatever the update policy: the policy
   * governs the updates OVH would start by itself, and mks starts none.
   */
  async upgrade(projectId: string, id: string, strategy: UpdateStrategy): Promise<void> {
    await this.#change(projectId, id, (current) => {
      const target = upgradeTarget(current.version, strategy);
      if ('refused' in target) throw invalid(`strategy ${strategy}: ${target.refused}`);
      return this.#nextGeneration(current, 'upgrade', { version: target.version });
    });
  }

  /**
   * `POST /restart`: restarts the cluster's control plane (its API server: watches end, objects
   * are kept) as the next generation (status REDEPLOYING, then READY). A cluster that is not READY
   * is being changed already: refused unless `force`, which folds the restart into that change.
   */
  async restart(projectId: string, id: string, force: boolean, actor?: Actor): Promise<void> {
    await this.#change(projectId, id, (current) => {
      if (!force && current.status !== 'READY') {
        throw conflict(
          `Cluster ${id} is ${current.status}, not READY: its control plane can be restarted once it is READY, or now with {"force": true}`,
        );
      }
      return this.#nextGeneration(current, 'restart', { restartGeneration: current.generation + 1 }, actor);
    });
  }

  /** `PUT /ipRestrictions` replaces the list, `POST` adds to it; enforced at once on the Kubernetes API. */
  async setIpRestrictions(projectId: string, id: string, ips: readonly string[], mode: 'replace' | 'add') {
    const blocks = validBlocks(ips);
    await this.#change(projectId, id, (current) => {
      const next = mode === 'replace' ? blocks : validBlocks([...current.ipRestrictions, ...blocks]);
      return { next: { ...current, ipRestrictions: next, updatedAt: isoText(this.#now()) } };
    });
  }

  /** `DELETE /ipRestrictions/{ip}`: 404 when the block is not in the list. */
  async deleteIpRestriction(projectId: string, id: string, ip: string): Promise<void> {
    const block = canonicalBlock(ip) ?? ip;
    const same = (candidate: string) => (canonicalBlock(candidate) ?? candidate) === block;
    await this.#change(projectId, id, (current) => {
      if (!current.ipRestrictions.some(same))
        throw notFound(`IP restriction ${ip} does not exist on cluster ${id}`);
      const ipRestrictions = current.ipRestrictions.filter((candidate) => !same(candidate));
      return { next: { ...current, ipRestrictions, updatedAt: isoText(this.#now()) } };
    });
  }

  /**
   * Stores the private network configuration or the load balancers' subnet id: validated and
   * echoed, nothing to apply (mks has no OpenStack networks), so no generation for the reconciler.
   */
  async setNetwork(
    projectId: string,
    id: string,
    input: {
      privateNetworkConfiguration?: CreationInput['privateNetworkConfiguration'];
      loadBalancersSubnetId?: string | null;
    },
  ): Promise<void> {
    const gateway = input.privateNetworkConfiguration?.defaultVrackGateway ?? '';
    if (gateway !== '' && !net.isIPv4(gateway)) {
      throw invalid(`defaultVrackGateway: '${gateway}' is not an IPv4 address (empty string means disabled)`);
    }
    const subnet = input.loadBalancersSubnetId;
    if (subnet !== undefined && subnet !== null && !UUID.test(subnet)) {
      throw invalid(`loadBalancersSubnetId: '${subnet}' is not a UUID (OpenStack subnet id)`);
    }
    await this.#change(projectId, id, (current) => ({
      next: {
        ...current,
        ...(input.privateNetworkConfiguration === undefined
          ? {}
          : { privateNetworkConfiguration: privateNetworkConfiguration(input.privateNetworkConfiguration) }),
        ...(subnet === undefined ? {} : { loadBalancersSubnetId: emptyToNull(subnet) }),
        updatedAt: isoText(this.#now()),
      },
    }));
  }

  /** The cluster's OpenID Connect configuration; 404 when none is configured. */
  async getOpenIdConnect(projectId: string, id: string): Promise<OpenIdConnect> {
    const { openIdConnect } = await this.get(projectId, id);
    if (openIdConnect === null) throw notFound(`Cluster ${id} has no OpenID Connect configuration`);
    return openIdConnect;
  }

  /**
   * `POST` (none configured yet, else 409), `PUT` (one configured, else 404) or `DELETE` (404
   * when none) of the OpenID Connect configuration: a change of the API server's flags, applied by
   * the reconciler (REDEPLOYING).
   */
  async setOpenIdConnect(
    projectId: string,
    id: string,
    action: 'create' | 'update' | 'delete',
    input?: OpenIdConnectInput,
  ): Promise<OpenIdConnect | null> {
    const openIdConnect = input === undefined ? null : openIdConnectOf(input);
    await this.#change(projectId, id, (current) => {
      if (action === 'create' && current.openIdConnect !== null)
        throw conflict(`Cluster ${id} already has an OpenID Connect configuration: update it with PUT`);
      if (action !== 'create' && current.openIdConnect === null)
        throw notFound(`Cluster ${id} has no OpenID Connect configuration`);
      return this.#nextGeneration(current, 'customize', { openIdConnect });
    });
    return openIdConnect;
  }

  getCustomization(projectId: string, id: string): Promise<ClusterRecord> {
    return this.get(projectId, id);
  }

  /**
   * Top-level keys sent replace those sections whole; keys not sent are kept. The API's hot write:
   * a promise chain rather than `async`/`await` layers (docs/performance.md).
   */
  updateCustomization(
    projectId: string,
    id: string,
    patch: CustomizationInput,
    actor?: Actor,
  ): Promise<{ message: string }> {
    return this.#change(projectId, id, (current) => {
      const customization = mergeCustomization(current.customization, patch);
      validateCustomization(customization);
      return this.#nextGeneration(current, 'customize', { customization }, actor);
    }).then(customizationAccepted);
  }

  /**
   * Makes the customization of an earlier generation the desired one again, as a new generation
   * (mks extension). The mode stays the cluster's: only a reset changes it.
   */
  async revertCustomization(
    projectId: string,
    id: string,
    generation: number,
    actor?: Actor,
  ): Promise<{ message: string }> {
    await this.get(projectId, id);
    const history = await this.#store.history(id);
    const source = history.find((row) => Number(row.generation) === generation);
    if (source === undefined) {
      const known = history.map((row) => Number(row.generation));
      throw invalid(
        `generation: ${generation} is not in the history of cluster ${id}; its generations are ` +
          `${Math.min(...known)} to ${Math.max(...known)}`,
      );
    }
    // Valid when it was accepted; checked again in case the rules have changed since.
    const customization = JSON.parse(source.customization) as Customization;
    validateCustomization(customization);
    const next = await this.#change(projectId, id, (current) => ({
      ...this.#nextGeneration(current, 'revert', { customization }, actor),
      sourceGeneration: generation,
    }));
    return {
      message: acceptedMessage(`Customization of generation ${generation} restored`, next),
    };
  }

  /** How far the cluster's kube-proxy rollout has come, node by node (mks extension). */
  async rollout(projectId: string, id: string, observer: KubeProxyObserver): Promise<RolloutView> {
    const cluster = await this.get(projectId, id);
    const [history, observed] = await Promise.all([this.#store.history(id), observer.observe(cluster)]);
    return rolloutView(cluster, history, observed);
  }

  /** The cluster's changes, newest first, each with who made it and how applying it ended. */
  async history(projectId: string, id: string): Promise<HistoryEntry[]> {
    await this.get(projectId, id);
    return historyEntries(await this.#store.history(id));
  }

  /** What `updateCustomization(patch)` would do, computed without writing anything. */
  async previewCustomization(
    projectId: string,
    id: string,
    patch: CustomizationInput,
  ): Promise<CustomizationPreview> {
    const cluster = await this.get(projectId, id);
    if (cluster.status === 'DELETING') throw deleting(id);
    return previewCustomization(cluster, patch);
  }

  /**
   * What `reset(input)` would do to kube-proxy, computed without writing anything (mks extension):
   * refused as the reset refuses it, except that an invalid customization is a preview's verdict.
   */
  async previewReset(projectId: string, id: string, input: CreationInput): Promise<CustomizationPreview> {
    const cluster = await this.get(projectId, id);
    if (cluster.status === 'DELETING') throw deleting(id);
    checkResetRegion(cluster, input);
    const version =
      input.version === undefined || input.version === null ? cluster.version : this.#version(input.version);
    return previewReset(cluster, {
      version,
      kubeProxyMode: input.kubeProxyMode,
      customization: input.customization,
    });
  }

  /** Erases the cluster's Kubernetes data; what is not sent resets to its default (guide). */
  async reset(projectId: string, id: string, input: CreationInput, actor?: Actor): Promise<void> {
    // Validated before the transaction; the cluster's own fields are checked inside it.
    const customization = this.#customization(input.customization);
    const version =
      input.version === undefined || input.version === null ? undefined : this.#version(input.version);
    await this.#change(projectId, id, (current) => {
      checkResetRegion(current, input);
      const change = { generation: current.generation + 1, now: isoText(this.#now()) };
      return this.#nextGeneration(
        current,
        'reset',
        {
          name: input.name ?? current.name,
          version: version ?? current.version,
          updatePolicy: input.updatePolicy ?? current.updatePolicy,
          kubeProxyMode: input.kubeProxyMode ?? RESET_KUBE_PROXY_MODE,
          customization,
          nodePools: initialPools(input, change) ?? livePools(current.nodePools, current),
          privateNetworkId:
            input.privateNetworkId === undefined
              ? current.privateNetworkId
              : emptyToNull(input.privateNetworkId),
          nodesSubnetId:
            input.nodesSubnetId === undefined ? current.nodesSubnetId : emptyToNull(input.nodesSubnetId),
          loadBalancersSubnetId:
            input.loadBalancersSubnetId === undefined
              ? current.loadBalancersSubnetId
              : emptyToNull(input.loadBalancersSubnetId),
          privateNetworkConfiguration: privateNetworkConfiguration(input.privateNetworkConfiguration),
        },
        actor,
      );
    });
  }

  async delete(projectId: string, id: string, actor?: Actor): Promise<void> {
    await this.#change(projectId, id, (current) => this.#nextGeneration(current, 'delete', {}, actor), {
      allowDeleting: true,
    });
  }

  /** Invalidates every kubeconfig issued so far (their token derives from the epoch). */
  async resetKubeconfig(projectId: string, id: string): Promise<void> {
    await this.#change(projectId, id, (current) => ({
      next: { ...current, tokenEpoch: current.tokenEpoch + 1, updatedAt: isoText(this.#now()) },
    }));
  }

  /** The cluster's live node pools, oldest first. */
  async listPools(
    projectId: string,
    id: string,
  ): Promise<{ cluster: ClusterRecord; pools: NodePoolRecord[] }> {
    const cluster = await this.get(projectId, id);
    return { cluster, pools: livePools(cluster.nodePools, cluster) };
  }

  async getPool(
    projectId: string,
    id: string,
    poolId: string,
  ): Promise<{ cluster: ClusterRecord; pool: NodePoolRecord }> {
    const cluster = await this.get(projectId, id);
    return { cluster, pool: findPool(cluster.nodePools, cluster, poolId) };
  }

  /** Adds a pool (status INSTALLING until its nodes run kube-proxy). */
  async createPool(
    projectId: string,
    id: string,
    input: NodePoolCreationInput,
  ): Promise<{ cluster: ClusterRecord; pool: NodePoolRecord }> {
    let created: NodePoolRecord | undefined;
    const cluster = await this.#changePools(projectId, id, (pools, change) => {
      created = newPool(input, pools, change);
      return [...pools, created];
    });
    return { cluster, pool: created! };
  }

  /** Scales a pool, changes its bounds, autoscaling or template, removes named nodes. */
  async updatePool(projectId: string, id: string, poolId: string, input: NodePoolUpdateInput): Promise<void> {
    await this.#changePools(projectId, id, (pools, change, cluster) => {
      const pool = findPool(pools, cluster, poolId);
      const next = updatedPool(pool, input, pools, change);
      return next === undefined
        ? undefined
        : pools.map((candidate) => (candidate === pool ? next : candidate));
    });
  }

  /** Deletes a pool: its nodes leave the cluster (status DELETING, then gone). */
  async deletePool(projectId: string, id: string, poolId: string): Promise<void> {
    await this.#changePools(projectId, id, (pools, change, cluster) => {
      const pool = findPool(pools, cluster, poolId);
      if (pool.status === 'DELETING') return undefined;
      return pools.map((candidate) => (candidate === pool ? deletingPool(pool, change) : candidate));
    });
  }

  /** The nodes of one pool, or of every pool when `poolId` is undefined. */
  async listNodes(
    projectId: string,
    id: string,
    poolId?: string,
  ): Promise<{ cluster: ClusterRecord; nodes: Array<{ node: NodeRecord; pool: NodePoolRecord }> }> {
    const cluster = await this.get(projectId, id);
    const pools =
      poolId === undefined
        ? livePools(cluster.nodePools, cluster)
        : [findPool(cluster.nodePools, cluster, poolId)];
    return { cluster, nodes: pools.flatMap((pool) => pool.nodes.map((node) => ({ node, pool }))) };
  }

  async getNode(
    projectId: string,
    id: string,
    nodeId: string,
  ): Promise<{ cluster: ClusterRecord; node: NodeRecord; pool: NodePoolRecord }> {
    const cluster = await this.get(projectId, id);
    return { cluster, ...poolOfNode(cluster.nodePools, cluster, nodeId) };
  }

  /** Deletes one node: its pool's desiredNodes shrinks by one (as OVH's DELETE node does). */
  async deleteNode(projectId: string, id: string, nodeId: string): Promise<void> {
    await this.#changePools(projectId, id, (pools, change, cluster) => {
      const { pool, node } = poolOfNode(pools, cluster, nodeId);
      const minNodes = Math.min(pool.minNodes, pool.desiredNodes - 1);
      const next = updatedPool(pool, { nodesToRemove: [node.id], minNodes }, pools, change);
      return pools.map((candidate) => (candidate === pool ? (next ?? pool) : candidate));
    });
  }

  /**
   * A change of the cluster's pools, as the cluster's next generation. `change` gets the live
   * pools and answers the next ones, or undefined when nothing changes (nothing is written then).
   */
  async #changePools(
    projectId: string,
    id: string,
    change: (
      pools: readonly NodePoolRecord[],
      at: PoolChange,
      cluster: ClusterRecord,
    ) => readonly NodePoolRecord[] | undefined,
  ): Promise<ClusterRecord> {
    return this.#change(projectId, id, (current) => {
      const at = { generation: current.generation + 1, now: isoText(this.#now()) };
      const nodePools = change(livePools(current.nodePools, current), at, current);
      if (nodePools === undefined) return { next: current };
      return this.#nextGeneration(current, 'nodepool', { nodePools });
    });
  }

  /** Never throws: every refusal is the promise's rejection. */
  #change(
    projectId: string,
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
    options?: { allowDeleting?: boolean },
  ): Promise<ClusterRecord> {
    return this.#store
      .update(id, (current) => {
        if (current.projectId !== projectId || current.deletedAt !== null)
          throw notFound(`Cluster ${id} does not exist`);
        if (current.status === 'DELETING') {
          if (options?.allowDeleting) return { next: current };
          throw deleting(id);
        }
        return change(current);
      })
      .then((next) => next ?? Promise.reject(notFound(`Cluster ${id} does not exist`)));
  }

  /** A change for the reconciler: the next generation, recorded in the history as `change`. */
  #nextGeneration(
    current: ClusterRecord,
    change: GenerationChange,
    changes: Partial<ClusterRecord>,
    actor?: Actor,
  ): ClusterChange & { history: GenerationChange } {
    return {
      next: nextGeneration(current, change, changes, isoText(this.#now())),
      history: change,
      ...(actor && { actor }),
    };
  }

  #version(requested: string): string {
    const version = resolveVersion(requested);
    if (version === undefined) {
      throw invalid(
        `version: '${clip(requested)}' is not offered; available versions: ${OFFERED_MINORS.join(', ')}`,
      );
    }
    return version;
  }

  #customization(input: CustomizationInput | null | undefined): Customization {
    const customization = normalizeCustomization(input);
    validateCustomization(customization);
    return customization;
  }
}

/** A reset keeps the cluster in its region. */
function checkResetRegion(current: ClusterRecord, input: CreationInput): void {
  if (input.region !== undefined && input.region !== current.region) {
    throw invalid(
      `region: a reset keeps the cluster in ${current.region}; '${clip(input.region)}' cannot be chosen here`,
    );
  }
}

/** The pools a creation or reset asks for (`nodepools`, else the deprecated `nodepool`), if any. */
function initialPools(input: CreationInput, change: PoolChange): NodePoolRecord[] | undefined {
  const requested =
    input.nodepools !== undefined && input.nodepools !== null && input.nodepools.length > 0
      ? input.nodepools.map((pool, index) => ({ pool, field: `nodepools[${index}]` }))
      : input.nodepool === undefined || input.nodepool === null
        ? undefined
        : [{ pool: input.nodepool, field: 'nodepool' }];
  if (requested === undefined) return undefined;
  const pools: NodePoolRecord[] = [];
  for (const { pool, field } of requested) pools.push(newPool(pool, pools, change, field));
  return pools;
}

/** The answer to an accepted customization update. */
function customizationAccepted(next: ClusterRecord): { message: string } {
  return { message: acceptedMessage('Customization accepted', next) };
}

/** What an accepted change answers: its generation and status, and kube-proxy's warnings. */
function acceptedMessage(what: string, next: ClusterRecord): string {
  return [
    `${what}: generation ${next.generation} is being applied (status ${next.status}).`,
    ...kubeProxyWarnings(next.version, next.kubeProxyMode),
  ].join(' ');
}

function deleting(id: string) {
  return conflict(`Cluster ${id} is being deleted; it can no longer be changed`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function emptyToNull(value: string | null | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : value;
}

/** The Terraform provider always sends an empty configuration: that is "nothing set", not a value. */
function privateNetworkConfiguration(
  input: CreationInput['privateNetworkConfiguration'],
): PrivateNetworkConfiguration | null {
  if (input === undefined || input === null) return null;
  const gateway = input.defaultVrackGateway ?? '';
  const routing = input.privateNetworkRoutingAsDefault ?? false;
  if (gateway === '' && !routing) return null;
  return { defaultVrackGateway: gateway, privateNetworkRoutingAsDefault: routing };
}

/** Whether `cluster` is a live (not deleted) cluster of the project. */
function isLiveIn(cluster: ClusterRecord | undefined, projectId: string): cluster is ClusterRecord {
  return cluster !== undefined && cluster.projectId === projectId && cluster.deletedAt === null;
}
