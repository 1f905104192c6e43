/**
 * Cluster operations. The service only records intent: it validates, then writes the desired
 * state, the next generation and the transitional status in one transaction. Making it real is
 * the reconciler's job.
 */
import crypto from 'node:crypto';
import type { Customization, CustomizationInput } from '../customization/customization.model.ts';
import {
  kubeProxyWarnings,
  mergeCustomization,
  normalizeCustomization,
  validateCustomization,
} from '../customization/customization.ts';
import { type CustomizationPreview, previewCustomization } from '../customization/preview.ts';
import { conflict, invalid, notFound } from '../errors.ts';
import { clip } from '../excerpt.ts';
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
import { NEWEST_MINOR, OFFERED_MINORS, resolveVersion } from './versions.ts';

export const DEFAULT_NODE_COUNT = 3;

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

  /** A live cluster of the project, or 404 (a cluster of another project does not exist here). */
  async get(projectId: string, id: string): Promise<ClusterRecord> {
    const cluster = await this.#store.get(id);
    if (cluster === undefined || cluster.projectId !== projectId || cluster.deletedAt !== null) {
      throw notFound(`Cluster ${id} does not exist`);
    }
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
    const now = this.#now().toISOString();
    const cluster: ClusterRecord = Object.freeze({
      id: crypto.randomUUID(),
      projectId,
      name: input.name ?? '',
      region,
      version,
      updatePolicy: input.updatePolicy ?? 'ALWAYS_UPDATE',
      kubeProxyMode: input.kubeProxyMode ?? 'iptables',
      customization,
      nodeCount: nodeCount(input) ?? DEFAULT_NODE_COUNT,
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
        updatedAt: this.#now().toISOString(),
      },
    }));
  }

  getCustomization(projectId: string, id: string): Promise<ClusterRecord> {
    return this.get(projectId, id);
  }

  /** Top-level keys sent replace those sections whole; keys not sent are kept. */
  async updateCustomization(
    projectId: string,
    id: string,
    patch: CustomizationInput,
    actor?: Actor,
  ): Promise<{ message: string }> {
    const next = await this.#change(projectId, id, (current) => {
      const customization = mergeCustomization(current.customization, patch);
      validateCustomization(customization);
      return this.#nextGeneration(current, 'customize', { customization }, actor);
    });
    return { message: acceptedMessage('Customization accepted', next) };
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

  /** Erases the cluster's Kubernetes data; what is not sent resets to its default (guide). */
  async reset(projectId: string, id: string, input: CreationInput, actor?: Actor): Promise<void> {
    // Validated before the transaction; the cluster's own fields are checked inside it.
    const customization = this.#customization(input.customization);
    const version =
      input.version === undefined || input.version === null ? undefined : this.#version(input.version);
    await this.#change(projectId, id, (current) => {
      if (input.region !== undefined && input.region !== current.region) {
        throw invalid(
          `region: a reset keeps the cluster in ${current.region}; '${clip(input.region)}' cannot be chosen here`,
        );
      }
      return this.#nextGeneration(
        current,
        'reset',
        {
          name: input.name ?? current.name,
          version: version ?? current.version,
          updatePolicy: input.updatePolicy ?? current.updatePolicy,
          kubeProxyMode: input.kubeProxyMode ?? 'ipvs',
          customization,
          nodeCount: nodeCount(input) ?? current.nodeCount,
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
      next: { ...current, tokenEpoch: current.tokenEpoch + 1, updatedAt: this.#now().toISOString() },
    }));
  }

  async #change(
    projectId: string,
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
    options: { allowDeleting?: boolean } = {},
  ): Promise<ClusterRecord> {
    const next = await this.#store.update(id, (current) => {
      if (current.projectId !== projectId || current.deletedAt !== null)
        throw notFound(`Cluster ${id} does not exist`);
      if (current.status === 'DELETING') {
        if (options.allowDeleting) return { next: current };
        throw deleting(id);
      }
      return change(current);
    });
    if (next === undefined) throw notFound(`Cluster ${id} does not exist`);
    return next;
  }

  /** A change for the reconciler: the next generation, recorded in the history as `change`. */
  #nextGeneration(
    current: ClusterRecord,
    change: GenerationChange,
    changes: Partial<ClusterRecord>,
    actor: Actor | undefined,
  ): ClusterChange & { history: GenerationChange } {
    return {
      next: nextGeneration(current, change, changes, this.#now().toISOString()),
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

function nodeCount(input: CreationInput): number | undefined {
  if (input.nodepools !== undefined && input.nodepools !== null && input.nodepools.length > 0) {
    return input.nodepools.reduce((sum, pool) => sum + (pool.desiredNodes ?? DEFAULT_NODE_COUNT), 0);
  }
  return input.nodepool?.desiredNodes ?? undefined;
}

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
