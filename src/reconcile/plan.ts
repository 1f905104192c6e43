/**
 * Pure decisions of a reconcile pass: what to change given desired and observed state, and how
 * far a kube-proxy rollout has come. No I/O here.
 */
import type {
  V1DaemonSet as DaemonSetModel,
  V1Node as NodeModel,
  V1Pod as PodModel,
} from '@kubernetes/client-node';
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import type { HistoryRow } from '../clusters/clusters.store.ts';
import type { Customization, KubeProxyMode } from '../customization/customization.model.ts';
import type { Decoded } from './kube/kube-client.ts';
import type { NodeShape } from './provider.ts';

/** The objects a pass reads, as the cluster's Kubernetes API answers them (kube-client.ts). */
type V1DaemonSet = Decoded<DaemonSetModel>;
type V1Pod = Decoded<PodModel>;
type V1Node = Decoded<NodeModel>;

export const KUBE_SYSTEM = 'kube-system';
export const KUBE_PROXY = 'kube-proxy';
/** Pod-template annotation carrying the hash of the config the pods must run. */
export const CONFIG_HASH_ANNOTATION = 'mks.ovh/config-hash';
/** ConfigMap annotation recording the generation whose reset already erased the cluster. */
export const RESET_ANNOTATION = 'mks.ovh/reset-generation';
/**
 * kube-apiserver pod annotation recording the generation of the last control-plane restart: the
 * provider writes it as it restarts the API server (`restartApiServer`), so each restart is made once.
 */
export const RESTART_ANNOTATION = 'mks.ovh/restart-generation';

export interface Desired {
  readonly configConf: string;
  readonly configHash: string;
  readonly apiServerFlags: readonly string[];
  /** While a reset is applied: its generation, erased once and recorded on the ConfigMap. */
  readonly resetGeneration?: string;
}

export interface Observed {
  readonly configConf: string | undefined;
  readonly templateHash: string | undefined;
  /** undefined when the control plane's flags cannot be observed. */
  readonly apiServerFlags: readonly string[] | undefined;
  /** The ConfigMap's RESET_ANNOTATION: the generation whose reset already erased the cluster. */
  readonly resetGeneration?: string | undefined;
}

export interface Plan {
  /**
   * Erase the cluster for a reset not yet erased for this generation, then stamp it (apply the
   * ConfigMap with the reset's generation). An erase is planned alone: the erased cluster is a
   * fresh install, to be observed again and planned like any other (stamped, it is not erased
   * twice).
   */
  readonly erase: boolean;
  /** Apply the ConfigMap (with the reset's generation, during a reset). */
  readonly applyConfig: boolean;
  /** Restart kube-proxy (new template hash): only when the config it must run changed. */
  readonly restart: boolean;
  readonly setApiServerFlags: boolean;
}

export function plan(desired: Desired, observed: Observed): Plan {
  if (desired.resetGeneration !== undefined && observed.resetGeneration !== desired.resetGeneration) {
    return { erase: true, applyConfig: true, restart: false, setApiServerFlags: false };
  }
  return {
    erase: false,
    applyConfig: observed.configConf !== desired.configConf,
    restart: observed.templateHash !== desired.configHash,
    setApiServerFlags:
      observed.apiServerFlags === undefined ||
      observed.apiServerFlags.length !== desired.apiServerFlags.length ||
      observed.apiServerFlags.some((flag, index) => flag !== desired.apiServerFlags[index]),
  };
}

/**
 * What of a settled cluster's kube-proxy differs from what mks applied (someone edited it in the
 * cluster): each an object and what was found. Empty when nothing drifted. Only what mks owns
 * counts: config.conf, and the config-hash annotation of the pod template.
 */
export interface Drift {
  readonly configConf: boolean;
  readonly template: boolean;
}

export function driftOf(desired: Desired, observed: Omit<Observed, 'apiServerFlags'>): Drift | undefined {
  const configConf = observed.configConf !== desired.configConf;
  const template = observed.templateHash !== desired.configHash;
  return configConf || template ? { configConf, template } : undefined;
}

/** The history note and Event message of a drift repair. */
export function driftMessage(drift: Drift): string {
  const parts = [
    ...(drift.configConf ? [`ConfigMap ${KUBE_SYSTEM}/${KUBE_PROXY} (config.conf)`] : []),
    ...(drift.template
      ? [`DaemonSet ${KUBE_SYSTEM}/${KUBE_PROXY} (pod template's ${CONFIG_HASH_ANNOTATION})`]
      : []),
  ];
  return `${parts.join(' and ')} changed in the cluster, not through mks; restored the desired state`;
}

export interface Rollout {
  readonly done: boolean;
  readonly desired: number;
  readonly updated: number;
  readonly available: number;
  /**
   * Set when a kube-proxy pod crash-loops, or one started for `onlyHash` is not ready within the
   * bound: names the node and kube-proxy's reason.
   */
  readonly failure: string | undefined;
}

/** How long a pod started for the config being rolled out may take to become ready. */
export interface ReadyBound {
  /** Now, in epoch ms. */
  readonly now: number;
  readonly timeoutMs: number;
}

/**
 * `kubectl rollout status` semantics (spec/kube-proxy.md §5.2), plus crash detection: kube-proxy
 * has no probes, so a crash-looping pod can look available; its container status tells.
 * `onlyHash` restricts crash detection to pods started for that config (during a rollout, old
 * pods being replaced are not the new config's fault); with `bound`, such a pod not ready that
 * long after it was created fails the rollout too.
 */
export function rolloutState(
  daemonSet: V1DaemonSet,
  pods: readonly V1Pod[],
  onlyHash?: string,
  bound?: ReadyBound,
): Rollout {
  const status = daemonSet.status;
  const desired = status?.desiredNumberScheduled ?? 0;
  const updated = status?.updatedNumberScheduled ?? 0;
  const available = status?.numberAvailable ?? 0;
  const observed = (status?.observedGeneration ?? 0) >= (daemonSet.metadata?.generation ?? 0);
  let failure: string | undefined;
  for (const pod of pods) {
    if (onlyHash !== undefined && pod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] !== onlyHash) continue;
    const where = `kube-proxy on node ${pod.spec?.nodeName ?? '?'} (pod ${pod.metadata?.name})`;
    for (const container of pod.status?.containerStatuses ?? []) {
      if (container.state?.waiting?.reason !== 'CrashLoopBackOff') continue;
      const detail =
        container.lastState?.terminated?.message ?? container.state.waiting.message ?? 'exited with an error';
      failure ??= `${where} is in CrashLoopBackOff: ${detail.trim()}`;
    }
    const created = pod.metadata?.creationTimestamp;
    if (onlyHash === undefined || bound === undefined || created === undefined || isPodReady(pod)) continue;
    const waited = bound.now - new Date(created).getTime();
    if (waited > bound.timeoutMs) {
      failure ??= `${where} is not ready ${Math.round(waited / 1000)}s after it was created (the bound is ${bound.timeoutMs / 1000}s)`;
    }
  }
  return {
    done: observed && updated >= desired && available >= desired,
    desired,
    updated,
    available,
    failure,
  };
}

function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** A configuration applied everywhere once: a generation whose outcome was READY. */
export interface HealthyConfig {
  readonly generation: number;
  readonly kubeProxyMode: KubeProxyMode;
  readonly customization: Customization;
}

/**
 * What a rollback of the cluster's current generation goes back to. `rolledBack`: the current
 * generation was rolled back already (a `rollback` history row of that generation names it); else
 * the candidate is the newest earlier generation whose outcome was READY.
 */
export interface RollbackTarget extends HealthyConfig {
  readonly rolledBack: boolean;
}

type HistoryFacts = Pick<
  HistoryRow,
  'generation' | 'action' | 'outcome' | 'source_generation' | 'kube_proxy_mode' | 'customization'
>;

/** The rollback target of `generation` from the cluster's history rows (oldest first). */
export function rollbackTargetOf(
  rows: readonly HistoryFacts[],
  generation: number,
): RollbackTarget | undefined {
  const changes = rows.filter((row) => !NOT_CHANGES.has(row.action));
  const config = (row: HistoryFacts, rolledBack: boolean): RollbackTarget => ({
    generation: Number(row.generation),
    kubeProxyMode: row.kube_proxy_mode as KubeProxyMode,
    customization: JSON.parse(row.customization) as Customization,
    rolledBack,
  });
  const rollback = rows.findLast((row) => row.action === 'rollback' && Number(row.generation) === generation);
  if (rollback?.source_generation != null) {
    const to = changes.findLast((row) => Number(row.generation) === Number(rollback.source_generation));
    return to === undefined ? undefined : config(to, true);
  }
  const healthy = changes.findLast((row) => Number(row.generation) < generation && row.outcome === 'READY');
  return healthy === undefined ? undefined : config(healthy, false);
}

/** History rows that record no change of the desired state. */
const NOT_CHANGES: ReadonlySet<string> = new Set(['delete', 'drift', 'rollback']);

/**
 * What a rollout that fails on a node does: roll the nodes already changed back to the last
 * config healthy everywhere, unless automatic rollback is off, there is none (nothing was ever
 * READY), or it is the very config that fails.
 */
export function onRolloutFailure(
  autoRollback: boolean,
  desiredHash: string,
  target: (RollbackTarget & { readonly configHash: string }) | undefined,
): 'roll-back' | 'stop' {
  return autoRollback && target !== undefined && !target.rolledBack && target.configHash !== desiredHash
    ? 'roll-back'
    : 'stop';
}

/** The status message and history note of a rollback. */
export function rollbackMessage(failure: string, target: HealthyConfig, configHash: string): string {
  return `${failure}; rolled back: kube-proxy's nodes went back to generation ${target.generation} (config ${configHash}), the last configuration healthy everywhere. The desired customization is unchanged: update or revert it to roll out again`;
}

/** The flags mks manages on a kube-apiserver pod's command line (admission plugins, OIDC), sorted. */
export function apiServerFlagsOf(pod: V1Pod | undefined): string[] | undefined {
  const command = pod?.spec?.containers?.[0]?.command;
  if (command === undefined) return undefined;
  return command
    .filter((argument) => /^--((enable|disable)-admission-plugins|oidc-[a-z-]+)=/.test(argument))
    .sort();
}

/** The worker nodes the cluster's pools ask for (a pool being deleted asks for none). */
export function nodesOf(cluster: Pick<ClusterRecord, 'nodePools'>): NodeShape[] {
  return cluster.nodePools.flatMap((pool) =>
    pool.nodes.map((node) => ({
      name: node.name,
      pool: pool.name,
      flavor: pool.flavor,
      labels: pool.template.metadata.labels,
      annotations: pool.template.metadata.annotations,
      taints: pool.template.spec.taints,
      unschedulable: pool.template.spec.unschedulable,
    })),
  );
}

/** The names of the Nodes whose kubelet is not on `version` yet (an upgrade replaces them one by one). */
export function outdatedNodes(nodes: readonly V1Node[], version: string): string[] {
  return nodes
    .filter((node) => node.status?.nodeInfo?.kubeletVersion !== `v${version}`)
    .map((node) => node.metadata?.name ?? '')
    .sort();
}
