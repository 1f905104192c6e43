/**
 * The per-node view of a cluster's kube-proxy rollout (mks extension): which generation is being
 * applied, how far, and on each node which config its kube-proxy runs. Pure: what kube-proxy's
 * objects say is observed elsewhere (through a KubeProxyObserver, implemented on the reconciler's
 * Kubernetes client) and handed in as plain data.
 */
import { configHash, renderClusterConfig } from '../customization/kube-proxy-config.ts';
import type { ClusterRecord } from './clusters.model.ts';
import type { HistoryRow } from './clusters.store.ts';

/** One kube-proxy pod as observed. */
export interface ObservedPod {
  readonly name: string;
  readonly node: string | null;
  /** The config hash the pod was started for (its template's annotation). */
  readonly configHash: string | null;
  readonly ready: boolean;
  readonly restarts: number;
  /** Why it is not running (waiting reason and message, or its last exit), null when running. */
  readonly message: string | null;
}

/** What a cluster's kube-proxy objects say. */
export interface ObservedKubeProxy {
  /** The ConfigMap's config.conf (undefined when there is none). */
  readonly configConf: string | undefined;
  /** The config hash on the DaemonSet's pod template. */
  readonly templateHash: string | undefined;
  readonly desired: number;
  readonly updated: number;
  readonly available: number;
  readonly pods: readonly ObservedPod[];
}

/** Reads a cluster's kube-proxy objects; a failure to reach the cluster is a message, not an error. */
export interface KubeProxyObserver {
  observe(cluster: ClusterRecord): Promise<ObservedKubeProxy | { readonly unreachable: string }>;
}

/**
 * - `pending`: the ConfigMap does not hold the desired config yet;
 * - `config-applied`: it does, kube-proxy has not been told to restart for it yet;
 * - `rolling`: kube-proxy restarts node by node;
 * - `done`: every node runs the desired config;
 * - `failed`: applying it failed (the cluster reports ERROR, statusMessage says why);
 * - `rolled-back`: it failed on a node and the nodes changed went back to the last config healthy
 *   everywhere (ERROR too; the history's `rollback` entry names the generation).
 */
export type RolloutPhase = 'pending' | 'config-applied' | 'rolling' | 'done' | 'failed' | 'rolled-back';

export interface RolloutNode {
  readonly node: string | null;
  readonly pod: string;
  readonly configHash: string | null;
  /** The newest generation whose config has that hash; null when none of the history has it. */
  readonly generation: number | null;
  readonly ready: boolean;
  readonly restarts: number;
  readonly message: string | null;
}

export interface RolloutView {
  /** The generation being applied (or last applied). */
  readonly generation: number;
  readonly observedGeneration: number;
  readonly status: string;
  readonly statusMessage: string | null;
  /** The hash of the config.conf the generation renders. */
  readonly configHash: string;
  /** null when the cluster's Kubernetes API cannot be read (then `message` says why). */
  readonly phase: RolloutPhase | null;
  readonly message: string | null;
  readonly desired: number;
  readonly updated: number;
  readonly available: number;
  readonly nodes: RolloutNode[];
}

export function rolloutView(
  cluster: ClusterRecord,
  history: readonly HistoryRow[],
  observed: ObservedKubeProxy | { readonly unreachable: string },
): RolloutView {
  const desiredConf = renderClusterConfig(cluster.kubeProxyMode, cluster.customization);
  const desiredHash = configHash(desiredConf);
  const base = {
    generation: cluster.generation,
    observedGeneration: cluster.observedGeneration,
    status: cluster.status,
    statusMessage: cluster.statusMessage,
    configHash: desiredHash,
  };
  if ('unreachable' in observed) {
    return {
      ...base,
      phase: null,
      message: observed.unreachable,
      desired: 0,
      updated: 0,
      available: 0,
      nodes: [],
    };
  }
  const generations = generationsByHash(history);
  generations.set(desiredHash, cluster.generation);
  const nodes = observed.pods
    .map((pod) => ({
      node: pod.node,
      pod: pod.name,
      configHash: pod.configHash,
      generation: pod.configHash === null ? null : (generations.get(pod.configHash) ?? null),
      ready: pod.ready,
      restarts: pod.restarts,
      message: pod.message,
    }))
    .sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.pod.localeCompare(b.pod));
  return {
    ...base,
    phase: phaseOf(cluster, history, observed, desiredConf, desiredHash),
    message: null,
    desired: observed.desired,
    updated: observed.updated,
    available: observed.available,
    nodes,
  };
}

function phaseOf(
  cluster: ClusterRecord,
  history: readonly HistoryRow[],
  observed: ObservedKubeProxy,
  desiredConf: string,
  desiredHash: string,
): RolloutPhase {
  if (cluster.status === 'ERROR') {
    const rolledBack = history.some(
      (row) => row.action === 'rollback' && Number(row.generation) === cluster.generation,
    );
    return rolledBack ? 'rolled-back' : 'failed';
  }
  if (observed.configConf !== desiredConf) return 'pending';
  if (observed.templateHash !== desiredHash) return 'config-applied';
  const done =
    observed.pods.length >= observed.desired &&
    observed.pods.every((pod) => pod.configHash === desiredHash && pod.ready) &&
    observed.available >= observed.desired;
  return done ? 'done' : 'rolling';
}

/** Each config hash of the history, with the newest generation that rendered it. */
function generationsByHash(history: readonly HistoryRow[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of history) {
    // A rollback entry renders its generation's config, which that generation's own entry maps already.
    if (row.action === 'delete' || row.action === 'rollback') continue;
    const conf = renderClusterConfig(
      row.kube_proxy_mode as ClusterRecord['kubeProxyMode'],
      JSON.parse(row.customization) as ClusterRecord['customization'],
    );
    out.set(configHash(conf), Number(row.generation));
  }
  return out;
}
