/**
 * One reconcile pass over one cluster (controller-runtime's Reconcile contract): read desired
 * state from the store and observed state from the cluster's Kubernetes API, plan with a pure
 * function, apply idempotently, and end in one outcome. Thrown errors are transient (the loop
 * retries with backoff), except a terminal Kubernetes error, which the loop writes to the
 * cluster's status and does not retry (loop.ts); problems found here are written to it too.
 */

import crypto from 'node:crypto';
import type { V1DaemonSet as DaemonSetModel } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { BoundedMap } from '../bounded-map.ts';
import {
  isApplying,
  isResetting,
  isRestarting,
  isUpgrading,
  reconcilerTask,
  reportsReady,
} from '../clusters/cluster-status.ts';
import type { ClusterRecord } from '../clusters/clusters.model.ts';
import { renderOidcFlags } from '../clusters/oidc.ts';
import { renderAdmissionFlags } from '../customization/customization.ts';
import { configHash, renderClusterConfig } from '../customization/kube-proxy-config.ts';
import { autoscale } from './autoscale.ts';
import { type ClusterKube, type Decoded, type KubeClients, KubeError } from './kube/kube-client.ts';
import {
  apiServerFlagsOf,
  CONFIG_HASH_ANNOTATION,
  type Desired,
  type Drift,
  driftMessage,
  driftOf,
  KUBE_PROXY,
  KUBE_SYSTEM,
  nodesOf,
  type Observed,
  onRolloutFailure,
  outdatedNodes,
  plan,
  RESET_ANNOTATION,
  RESTART_ANNOTATION,
  type RollbackTarget,
  rollbackMessage,
  rolloutState,
} from './plan.ts';
import type { ClusterConnector, ClusterProvider, ClusterShape } from './provider.ts';
import type { ReconcileStore } from './reconcile-store.ts';

/** kube-proxy's DaemonSet as the cluster's Kubernetes API answers it. */
type V1DaemonSet = Decoded<DaemonSetModel>;

export type Outcome =
  /**
   * Up to date: look again after the resync period. `settled`: the pass found the cluster
   * applied and healthy having written nothing, at this generation and state stamp (its next
   * resync may take that as its answer while both stay the same: loop.ts).
   */
  | { readonly kind: 'done'; readonly settled?: Settled }
  /** Progressing (a rollout): look again soon. */
  | { readonly kind: 'requeue'; readonly afterMs: number }
  /** The cluster is gone: no more work. */
  | { readonly kind: 'gone' }
  /** Cannot be applied: status ERROR was written; look again after the resync period. */
  | { readonly kind: 'failed'; readonly message: string };

/** How passes behave: the installation's settings (config.ts `reconcile`), on either thread. */
export interface PassSettings {
  /** How soon to look again while a rollout progresses. */
  readonly progressMs: number;
  /** Restore what was edited in the cluster (MKS_REPAIR_DRIFT). */
  readonly repairDrift: boolean;
  /** Roll a rollout that fails on a node back to the last config healthy everywhere (MKS_AUTO_ROLLBACK). */
  readonly autoRollback: boolean;
  /** How long a restarted kube-proxy pod may take to become ready (MKS_ROLLOUT_NODE_TIMEOUT_MS). */
  readonly nodeReadyTimeoutMs: number;
  /** How often the cluster autoscaler looks at a cluster with an autoscaled pool (default 10 s). */
  readonly autoscaleMs?: number;
  /**
   * A pass that makes its cluster READY checks it once more (`reconcileCluster`). Set by the
   * runtime, not the configuration: true where one process serves every cluster, whose settled
   * resyncs then never load it; false under scale-out, where the resync of a cluster out of
   * memory loads it anyway (another process may have changed it), so the check would only add
   * reads to the pass.
   */
  readonly recheckReady?: boolean;
}

/** The pass settings of `from` (and nothing else of it). */
export function passSettings(from: PassSettings): PassSettings {
  return {
    progressMs: from.progressMs,
    repairDrift: from.repairDrift,
    autoRollback: from.autoRollback,
    nodeReadyTimeoutMs: from.nodeReadyTimeoutMs,
    ...(from.autoscaleMs === undefined ? {} : { autoscaleMs: from.autoscaleMs }),
  };
}

export interface ReconcileContext extends PassSettings {
  readonly store: ReconcileStore;
  readonly provider: ClusterProvider;
  /** Where and how to reach the cluster's Kubernetes API. */
  readonly connection: ClusterConnector;
  readonly kube: KubeClients;
  readonly log: Logger;
}

/**
 * One pass over `clusterId`: applies what its record asks, follows the rollout, reports the status.
 * Where `recheckReady`, a pass that makes the cluster READY ends with one more pass, a check: it
 * reads the cluster again while its emulated cluster is still in memory, and answers where it
 * found it settled. Without it the first resync after every change (and after a creation) made
 * that check later, once the cluster had left memory, and loaded it back for that alone: a fleet
 * just created loaded every cluster again (docs/performance.md, "Nineteenth round").
 */
export async function reconcileCluster(ctx: ReconcileContext, clusterId: string): Promise<Outcome> {
  const cluster = await ctx.store.get(clusterId);
  const task = reconcilerTask(cluster);
  if (cluster === undefined || task === 'none') return { kind: 'gone' };
  // ctx.log carries the cluster id (and the reconcile id) already.
  const log = ctx.log.child({ generation: cluster.generation });

  if (task === 'destroy') {
    await ctx.provider.destroyCluster(clusterId);
    ctx.kube.forget(clusterId);
    UNNEEDED.delete(clusterId);
    await ctx.store.markDeleted(clusterId);
    log.info('Deleted cluster');
    return { kind: 'gone' };
  }

  const stamp = await ctx.provider.ensureCluster(shapeOf(cluster));
  const generation = cluster.generation;
  const working = isApplying(cluster);
  const settled = settledAt(cluster, stamp);
  const kube = ctx.kube.for(clusterId, ctx.connection(cluster));

  const rendered = desiredOf(cluster);
  // A reset erases the cluster once per generation, recorded on the ConfigMap (plan.ts).
  const desired: Desired = isResetting(cluster)
    ? { ...rendered, resetGeneration: String(generation) }
    : rendered;

  let daemonSet: V1DaemonSet;
  /** While the current generation stays rolled back: the config its nodes went back to. */
  let rolledBack: DesiredState | undefined;
  if (working) {
    let observed = await observe(kube, desired);
    let steps = plan(desired, observed);
    if (steps.erase) {
      await ctx.provider.eraseCluster(clusterId);
      log.info('Erased cluster data for reset');
      await applyConfigMap(kube, desired, log);
      // The erased cluster is a fresh install, stamped with this reset: observed and planned afresh.
      observed = await observe(kube, desired);
      steps = plan(desired, observed);
    }
    daemonSet = presentDaemonSet(observed.daemonSet);
    if (steps.applyConfig) await applyConfigMap(kube, desired, log);
    if (steps.setApiServerFlags) {
      await ctx.provider.setApiServerFlags(clusterId, desired.apiServerFlags);
      log.info({ flags: desired.apiServerFlags }, 'Set API server admission flags');
    }
    // `POST …/restart`: the control plane restarts once for the generation that asked for it.
    const restart = String(cluster.restartGeneration);
    if (isRestarting(cluster) && observed.apiServerRestart !== restart) {
      await ctx.provider.restartApiServer(clusterId, restart);
      log.info({ restart: cluster.restartGeneration }, 'Restarted the control plane');
    }
    if (steps.restart) {
      await kube.patchDaemonSetTemplateAnnotations(KUBE_SYSTEM, KUBE_PROXY, {
        [CONFIG_HASH_ANNOTATION]: desired.configHash,
      });
      log.info({ configHash: desired.configHash }, 'Restarting kube-proxy');
      await recordEvent(
        kube,
        'DaemonSet',
        'Normal',
        'RolloutStarted',
        `mks restarts kube-proxy node by node for generation ${generation} (config ${desired.configHash})`,
      );
      // The patch gave the DaemonSet a generation its controller has not observed yet: the rollout
      // has only begun. Follow it here for a while; a longer one is left to the next passes.
      const followed = await followRollout(kube, daemonSet, desired.configHash, ctx.progressMs);
      if (followed === undefined) return { kind: 'requeue', afterMs: ctx.progressMs };
      daemonSet = followed;
    }
  } else {
    // A generation rolled back (only an ERROR one can be) runs the config its nodes went back to
    // until the next change: that is what mks applied, and what drift is measured against.
    if (cluster.status === 'ERROR') {
      const target = await ctx.store.rollbackTarget(clusterId, generation);
      if (target?.rolledBack === true) rolledBack = desiredOfTarget(target);
    }
    const applied: Desired = rolledBack ?? desired;
    // A settled cluster: what mks applied must still be there (someone may have edited it).
    const configMap = ctx.repairDrift ? await kube.readConfigMap(KUBE_SYSTEM, KUBE_PROXY) : undefined;
    daemonSet = await readKubeProxyDaemonSet(kube);
    const drift = !ctx.repairDrift
      ? undefined
      : driftOf(applied, {
          configConf: configMap?.data?.['config.conf'],
          templateHash: daemonSet.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION],
        });
    if (drift !== undefined) {
      await repairDrift(ctx, kube, clusterId, applied, drift, log);
      return { kind: 'requeue', afterMs: ctx.progressMs };
    }
  }

  // Crash detection reads kube-proxy's pods, unless the DaemonSet reports its rollout done: a
  // crash-looping container is not ready, so its pod is not available, and the rollout not done.
  const kubeProxyPods = rolloutState(daemonSet, []).done
    ? []
    : await kube.listPods(KUBE_SYSTEM, KUBE_PROXY_SELECTOR);
  // Failures count for the config being rolled out (the new one, or the one rolled back to).
  const rolling = working ? desired.configHash : rolledBack?.configHash;
  const rollout = rolloutState(daemonSet, kubeProxyPods, rolling, {
    now: Date.now(),
    timeoutMs: ctx.nodeReadyTimeoutMs,
  });
  if (rollout.failure !== undefined) {
    if (working) return failRollout(ctx, kube, cluster, desired, rollout.failure, log);
    return reportFailure(ctx, cluster, rollout.failure, log);
  }
  if (!rollout.done) {
    log.debug(
      { updated: rollout.updated, available: rollout.available, desired: rollout.desired },
      'Rollout in progress',
    );
    return { kind: 'requeue', afterMs: ctx.progressMs };
  }
  // An upgrade is done once every Node runs the cluster's version: the provider replaces one node
  // per pass, each once kube-proxy runs on the one replaced before (the rollout is done here).
  if (isUpgrading(cluster)) {
    const outdated = outdatedNodes(await kube.listNodes(), cluster.version);
    if (outdated.length > 0) {
      log.debug({ outdated: outdated.length, version: cluster.version }, 'Upgrade in progress');
      return { kind: 'requeue', afterMs: ctx.progressMs };
    }
  }
  // A rolled-back generation stays ERROR (its message says why) until the user changes or reverts it.
  const madeReady = rolledBack === undefined && reportsReady(cluster);
  if (madeReady) {
    await ctx.store.writeStatus(clusterId, generation, 'READY', null);
    if (working) {
      await recordEvent(
        kube,
        'DaemonSet',
        'Normal',
        'RolloutCompleted',
        `every kube-proxy pod runs generation ${generation} (config ${desired.configHash})`,
      );
    }
    log.info('Cluster is ready');
  }
  if (cluster.nodePools.some((pool) => pool.autoscale)) return autoscaleCluster(ctx, kube, cluster, log);
  UNNEEDED.delete(clusterId);
  // Found as applied, with nothing written: the next pass may take this as its answer while the
  // cluster stays unchanged (the stamp was taken before the reads, so a change since shows).
  if (settled !== undefined) return { kind: 'done', settled };
  // Made READY here (what this pass wrote changed the stamp): the check a later pass would make,
  // made now. It takes its own stamp before its reads, so it answers settled only if it is.
  if (madeReady && ctx.recheckReady === true && stamp !== undefined) {
    return reconcileCluster({ ...ctx, recheckReady: false }, clusterId);
  }
  return { kind: 'done' };
}

/** The generation and state stamp (ClusterProvider.ensureCluster) at which a pass found its cluster. */
export interface Settled {
  readonly generation: number;
  readonly stamp: string;
}

/** What the provider must make of the cluster (ClusterProvider.ensureCluster, first in every pass). */
export function shapeOf(cluster: ClusterRecord): ClusterShape {
  return { id: cluster.id, version: cluster.version, nodes: nodesOf(cluster) };
}

/**
 * Where a pass over `cluster`, its provider answering `stamp`, stands if it finds it applied and
 * healthy; undefined when such a pass is not a pure check: not READY, something to apply, an
 * autoscaler (whose decisions depend on time), or a provider that cannot tell changes. A later
 * pass at the same generation and stamp would read the same objects, so find the same.
 */
export function settledAt(cluster: ClusterRecord, stamp: string | undefined): Settled | undefined {
  if (stamp === undefined || cluster.status !== 'READY' || isApplying(cluster)) return undefined;
  if (cluster.nodePools.some((pool) => pool.autoscale)) return undefined;
  return { generation: cluster.generation, stamp };
}

/** Per cluster: when each node was first seen unneeded (the autoscaler's memory, this thread's). */
const UNNEEDED = new Map<string, ReadonlyMap<string, number>>();

/**
 * The cluster autoscaler, once the cluster is converged: the Nodes and Pods as the cluster's API
 * shows them, the decision (autoscale.ts, pure), then each resize through the store as a pool
 * change of its own generation, which the passes then apply like any other. Looks again after
 * `autoscaleMs`.
 */
async function autoscaleCluster(
  ctx: ReconcileContext,
  kube: ClusterKube,
  cluster: ClusterRecord,
  log: Logger,
): Promise<Outcome> {
  const [nodes, pods] = await Promise.all([kube.listNodes(), kube.listAllPods()]);
  const decision = autoscale({
    pools: cluster.nodePools,
    nodes,
    pods,
    unneededSince: UNNEEDED.get(cluster.id) ?? new Map(),
    now: Date.now(),
  });
  UNNEEDED.set(cluster.id, decision.unneededSince);
  // The first resize makes a new generation: the others, decided on this one, would be stale.
  const resize = decision.resizes[0];
  if (resize !== undefined) {
    await ctx.store.resizePool(cluster.id, cluster.generation, resize);
    log.info(
      { pool: resize.poolId, desiredNodes: resize.desiredNodes, reason: resize.reason },
      'Cluster autoscaler resized a node pool',
    );
  }
  return { kind: 'requeue', afterMs: ctx.autoscaleMs ?? 10_000 };
}

const API_SERVER_SELECTOR = 'component=kube-apiserver';
const KUBE_PROXY_SELECTOR = `k8s-app=${KUBE_PROXY}`;
/** How many times a pass re-reads the DaemonSet it restarted before leaving the rollout to later passes. */
const ROLLOUT_READS = 10;
/** How many of those come a third of the interval apart, right after the patch (`followRollout`). */
const EARLY_READS = 3;

/**
 * `ms` spread over half of it either way, as client-go's `wait.Jitter` spreads its waits. The
 * passes a claim starts together would otherwise read their DaemonSets in the same turns, their
 * answers go back in one message, and they end, and the next ones start, together again: a
 * fleet's change then ran in waves of up to 64 passes that left the main thread idle between
 * their bursts (docs/performance.md, "Twenty-eighth round").
 */
export function jittered(ms: number, random: () => number = Math.random): number {
  return ms * (0.5 + random());
}

async function readKubeProxyDaemonSet(kube: ClusterKube): Promise<V1DaemonSet> {
  return presentDaemonSet(await kube.readDaemonSet(KUBE_SYSTEM, KUBE_PROXY));
}

function presentDaemonSet(daemonSet: V1DaemonSet | undefined): V1DaemonSet {
  if (daemonSet === undefined)
    throw new KubeError('transient', 'kube-proxy DaemonSet is missing', 404, undefined);
  return daemonSet;
}

/**
 * What a pass applying a change observes. The ConfigMap matters only for a reset, and is read only
 * then (its annotation records whether this reset already erased the cluster); otherwise the
 * desired config.conf is server-side applied unread: an apply of what is already there changes
 * nothing. A missing DaemonSet is observed, not refused: a reset erases and reinstalls it.
 */
async function observe(
  kube: ClusterKube,
  desired: Desired,
): Promise<
  Observed & {
    readonly daemonSet: V1DaemonSet | undefined;
    /** The kube-apiserver pod's RESTART_ANNOTATION: the generation of the last restart made. */
    readonly apiServerRestart: string | undefined;
  }
> {
  const configMap =
    desired.resetGeneration === undefined ? undefined : await kube.readConfigMap(KUBE_SYSTEM, KUBE_PROXY);
  const daemonSet = await kube.readDaemonSet(KUBE_SYSTEM, KUBE_PROXY);
  const apiServerPods = await kube.listPods(KUBE_SYSTEM, API_SERVER_SELECTOR);
  return {
    configConf: configMap?.data?.['config.conf'],
    resetGeneration: configMap?.metadata?.annotations?.[RESET_ANNOTATION],
    templateHash: daemonSet?.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION],
    apiServerFlags: apiServerFlagsOf(apiServerPods[0]),
    daemonSet,
    apiServerRestart: apiServerPods[0]?.metadata?.annotations?.[RESTART_ANNOTATION],
  };
}

/**
 * A rollout that fails on a node (plan.ts `onRolloutFailure`): the nodes already changed go back
 * to the last config healthy everywhere, or, when that cannot or must not be done, the rollout
 * stops there (the DaemonSet's maxUnavailable of 1 holds the other nodes). Either way the cluster
 * reports ERROR. The decision is recorded before it is carried out: a pass that stops in between
 * (a crash, a lost lease) leaves a rolled-back generation, whose next pass finds the cluster
 * differing from the config rolled back to and restores it (drift repair).
 */
async function failRollout(
  ctx: ReconcileContext,
  kube: ClusterKube,
  cluster: ClusterRecord,
  desired: Desired,
  failure: string,
  log: Logger,
): Promise<Outcome> {
  // Read only when it may be used (a store call, across threads when passes run in theirs).
  const target = ctx.autoRollback
    ? await ctx.store.rollbackTarget(cluster.id, cluster.generation)
    : undefined;
  const to = target === undefined ? undefined : desiredOfTarget(target);
  const decision = onRolloutFailure(
    ctx.autoRollback,
    desired.configHash,
    target === undefined || to === undefined ? undefined : { ...target, configHash: to.configHash },
  );
  if (decision === 'stop' || target === undefined || to === undefined) {
    return reportFailure(ctx, cluster, failure, log);
  }
  const message = rollbackMessage(failure, target, to.configHash);
  if (!(await ctx.store.recordRollback(cluster.id, cluster.generation, target.generation, message))) {
    // A newer change (or another pass) came first: the next pass plans afresh.
    return { kind: 'requeue', afterMs: ctx.progressMs };
  }
  // During a reset, the ConfigMap keeps the reset's stamp (it erased the cluster already).
  const restored: Desired =
    desired.resetGeneration === undefined ? to : { ...to, resetGeneration: desired.resetGeneration };
  await applyConfigMap(kube, restored, log);
  await kube.patchDaemonSetTemplateAnnotations(KUBE_SYSTEM, KUBE_PROXY, {
    [CONFIG_HASH_ANNOTATION]: to.configHash,
  });
  await recordEvent(kube, 'DaemonSet', 'Warning', 'RolledBack', message);
  log.warn(
    { reason: failure, toGeneration: target.generation, configHash: to.configHash },
    'Rolled kube-proxy back',
  );
  // The nodes go back node by node: the next passes follow it (the generation stays ERROR).
  return { kind: 'requeue', afterMs: ctx.progressMs };
}

/** kube-proxy fails and nothing is rolled back: the generation's outcome is ERROR, with why. */
async function reportFailure(
  ctx: ReconcileContext,
  cluster: ClusterRecord,
  failure: string,
  log: Logger,
): Promise<Outcome> {
  await ctx.store.writeStatus(cluster.id, cluster.generation, 'ERROR', failure);
  log.warn({ reason: failure }, 'kube-proxy is failing');
  return { kind: 'failed', message: failure };
}

/**
 * Puts back what was edited in the cluster, records it (a `drift` history entry, a Warning Event
 * on the object), and leaves the restart it causes to be followed by the next passes. Applied once:
 * the next pass finds the desired state and does nothing.
 */
async function repairDrift(
  ctx: ReconcileContext,
  kube: ClusterKube,
  clusterId: string,
  desired: Desired,
  drift: Drift,
  log: Logger,
): Promise<void> {
  if (drift.configConf) await applyConfigMap(kube, desired, log);
  if (drift.template) {
    await kube.patchDaemonSetTemplateAnnotations(KUBE_SYSTEM, KUBE_PROXY, {
      [CONFIG_HASH_ANNOTATION]: desired.configHash,
    });
  }
  const message = driftMessage(drift);
  await ctx.store.recordDrift(clusterId, message);
  await recordEvent(kube, drift.configConf ? 'ConfigMap' : 'DaemonSet', 'Warning', 'DriftRepaired', message);
  log.warn({ drift }, 'Repaired drift: restored kube-proxy as mks applied it');
}

/**
 * A Kubernetes Event about kube-proxy's ConfigMap or DaemonSet, from mks (`kubectl get events -n
 * kube-system` lists them): rollouts started and completed, drift repaired.
 */
async function recordEvent(
  kube: ClusterKube,
  kind: 'ConfigMap' | 'DaemonSet',
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date();
  await kube.createEvent(KUBE_SYSTEM, {
    metadata: {
      name: `${KUBE_PROXY}.${now.getTime().toString(16)}${crypto.randomBytes(2).toString('hex')}`,
      namespace: KUBE_SYSTEM,
    },
    involvedObject: {
      apiVersion: kind === 'ConfigMap' ? 'v1' : 'apps/v1',
      kind,
      namespace: KUBE_SYSTEM,
      name: KUBE_PROXY,
    },
    reason,
    message,
    type,
    source: { component: 'mks' },
    reportingComponent: 'mks',
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  });
}

/** Server-side applies the desired config.conf, with the reset's generation during a reset. */
async function applyConfigMap(kube: ClusterKube, desired: Desired, log: Logger): Promise<void> {
  await kube.applyConfigMap({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: KUBE_PROXY,
      namespace: KUBE_SYSTEM,
      ...(desired.resetGeneration === undefined
        ? {}
        : { annotations: { [RESET_ANNOTATION]: desired.resetGeneration } }),
    },
    data: { 'config.conf': desired.configConf },
  });
  log.info({ configHash: desired.configHash }, 'Applied kube-proxy ConfigMap');
}

/**
 * Re-reads a DaemonSet whose pod template was just patched until its controller has observed the
 * change and its status reports the rollout done, or for ROLLOUT_READS reads; answers the last
 * read. The first EARLY_READS reads come a third of `intervalMs` apart, the others `intervalMs`
 * apart, each wait jittered (`jittered`): a pass waiting here holds one of its loop's concurrent
 * slots, so a quick rollout (an emulated cluster's, its pods started at once, done within a few
 * tens of milliseconds) ends the pass as soon as it is done rather than a whole interval after the
 * patch. A long one is read as many times, ROLLOUT_READS over eight intervals instead of ten,
 * before the next passes follow it. With 64 passes at once the passes' latency paces a fleet's
 * change: a fleet of 1,000 changed 10–18 % sooner so (docs/performance.md, "Twenty-sixth round").
 * Undefined when the DaemonSet was replaced since the pass observed it (`observed`, read before the
 * patch: the patch's own answer is not read) or its template changed again meanwhile: that is
 * another change, for the next pass to plan afresh.
 */
async function followRollout(
  kube: ClusterKube,
  observed: V1DaemonSet,
  configHash: string,
  intervalMs: number,
): Promise<V1DaemonSet | undefined> {
  for (let reads = 1; ; reads++) {
    const wait = jittered(reads <= EARLY_READS ? intervalMs / EARLY_READS : intervalMs);
    await new Promise((resolve) => setTimeout(resolve, wait));
    const daemonSet = await readKubeProxyDaemonSet(kube);
    if (
      daemonSet.metadata?.uid !== observed.metadata?.uid ||
      daemonSet.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] !== configHash
    ) {
      return undefined;
    }
    if (reads >= ROLLOUT_READS || rolloutState(daemonSet, []).done) return daemonSet;
  }
}

interface DesiredState {
  readonly configConf: string;
  readonly configHash: string;
  readonly apiServerFlags: string[];
}

/** The kube-proxy config of a generation a rollback goes back to (its API-server flags are not rolled back). */
function desiredOfTarget(target: RollbackTarget): DesiredState {
  return desiredOf({
    kubeProxyMode: target.kubeProxyMode,
    customization: target.customization,
    openIdConnect: null,
  });
}

/** Rendered desired states by what they are rendered from: a fleet shares a few customizations. */
const DESIRED = new BoundedMap<string, DesiredState>(1024);

/** What the cluster must run (pure in the cluster's mode and customization, so kept). */
function desiredOf(
  cluster: Pick<ClusterRecord, 'kubeProxyMode' | 'customization' | 'openIdConnect'>,
): DesiredState {
  const key = `${cluster.kubeProxyMode}\n${JSON.stringify(cluster.customization)}\n${JSON.stringify(cluster.openIdConnect)}`;
  const known = DESIRED.get(key);
  // A copy of the flags: callers get an array of their own, as a fresh render gives them.
  if (known !== undefined) return { ...known, apiServerFlags: [...known.apiServerFlags] };
  const configConf = renderClusterConfig(cluster.kubeProxyMode, cluster.customization);
  const desired = {
    configConf,
    configHash: configHash(configConf),
    apiServerFlags: [
      ...renderAdmissionFlags(cluster.customization),
      ...renderOidcFlags(cluster.openIdConnect),
    ].sort(),
  };
  DESIRED.set(key, { ...desired, apiServerFlags: [...desired.apiServerFlags] });
  return desired;
}
