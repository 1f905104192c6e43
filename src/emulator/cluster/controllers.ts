/**
 * The cluster's moving parts: the DaemonSet controller (one pod per node, rolling update with
 * maxUnavailable, status counters as kube-controller-manager keeps them) and the kubelet, which
 * starts pods after `podStartMs` and runs kube-proxy's config loading in each new container.
 * Driven by changes (a cluster is queued when one of its pods, nodes, DaemonSets or kube-system
 * ConfigMaps changes) and by per-pod timers; nothing polls.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { configHash } from '../../customization/kube-proxy-config.ts';
import type { ChangeEvent, ObjectStore } from '../apiserver/object-store.ts';
import {
  clone,
  deepEqual,
  isObject,
  type JsonObject,
  type KubeObject,
  rfc3339,
} from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { loadKubeProxyConfig } from './kube-proxy.ts';
import {
  containerId,
  daemonPod,
  KUBE_PROXY,
  LOADED_CONFIG_ANNOTATION,
  runningStatus,
} from './kubeadm-objects.ts';

export interface ControllerOptions {
  readonly logger: Logger;
  readonly podStartMs: number;
  readonly now: () => Date;
}

const CRASH_BACKOFF_BASE_MS = 10_000;
const CRASH_BACKOFF_MAX_MS = 300_000;

const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `controller-revision-hash`: a short hash of the pod template, in apimachinery's safe alphabet. */
export function templateHash(template: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  let out = '';
  for (let i = 0; i < 10; i++) out += HASH_ALPHABET[digest[i]! % HASH_ALPHABET.length];
  return out;
}

const labelsMatch = (
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);

const condition = (pod: KubeObject, type: string): JsonObject | undefined =>
  ((pod.status as JsonObject | undefined)?.conditions as JsonObject[] | undefined)?.find(
    (c) => c.type === type,
  );

const isReady = (pod: KubeObject): boolean => condition(pod, 'Ready')?.status === 'True';

const ownedBy = (pod: KubeObject, uid: string | undefined): boolean =>
  (pod.metadata.ownerReferences ?? []).some((ref) => ref.uid === uid && ref.controller === true);

export class Controllers {
  private readonly options: ControllerOptions;
  private readonly queue = new Set<ObjectStore>();
  private scheduled = false;
  private running = false;
  /** clusterId → pod uid → timer (container start or crash-loop restart). */
  private readonly timers = new Map<string, Map<string, NodeJS.Timeout>>();
  /** DaemonSet uid → its template hash at one generation. */
  private readonly templateHashes = new Map<string, { generation: number; hash: string }>();
  /** The cluster being synced: its changes meanwhile are the controllers' own. */
  private syncing: ObjectStore | undefined;

  constructor(options: ControllerOptions) {
    this.options = options;
  }

  start(): void {
    this.running = true;
    if (this.queue.size > 0) this.schedule();
  }

  stop(): void {
    this.running = false;
    for (const byPod of this.timers.values()) for (const timer of byPod.values()) clearTimeout(timer);
    this.timers.clear();
  }

  forget(clusterId: string): void {
    for (const timer of this.timers.get(clusterId)?.values() ?? []) clearTimeout(timer);
    this.timers.delete(clusterId);
    for (const cluster of this.queue) if (cluster.meta.id === clusterId) this.queue.delete(cluster);
  }

  /** Called for every change in a cluster. */
  onChange(cluster: ObjectStore, event: ChangeEvent): void {
    // A sync runs the controllers to a fixpoint: syncing again for its own writes would change nothing.
    if (cluster === this.syncing) return;
    const r = event.resource;
    if (
      r === RESOURCE.pods ||
      r === RESOURCE.nodes ||
      r === RESOURCE.daemonsets ||
      (r === RESOURCE.configmaps && event.object.metadata.namespace === 'kube-system')
    ) {
      this.enqueue(cluster);
    }
  }

  enqueue(cluster: ObjectStore): void {
    this.queue.add(cluster);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || !this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.running) return;
      // Syncing may queue the same cluster again (its own writes): that runs in the next turn.
      const batch = [...this.queue];
      this.queue.clear();
      for (const cluster of batch) {
        if (cluster.destroyed) continue;
        try {
          this.sync(cluster);
        } catch (error) {
          this.options.logger.error(
            { err: error, clusterId: cluster.meta.id },
            'Emulated controllers failed',
          );
        }
      }
    });
  }

  /**
   * Runs every controller once over a cluster (also used synchronously at install). A sync leaves
   * nothing for an immediate second one to do, so the changes it makes queue no further sync.
   */
  sync(cluster: ObjectStore): void {
    const outer = this.syncing;
    this.syncing = cluster;
    try {
      this.syncOnce(cluster);
    } finally {
      this.syncing = outer;
    }
  }

  private syncOnce(cluster: ObjectStore): void {
    let busy = false;
    const daemonSets = cluster.list(RESOURCE.daemonsets);
    const uids = new Set(daemonSets.map((ds) => ds.metadata.uid));
    for (const ds of daemonSets) busy = this.syncDaemonSet(cluster, ds) || busy;
    // Garbage collection of pods whose DaemonSet is gone.
    for (const pod of cluster.list(RESOURCE.pods)) {
      const owner = (pod.metadata.ownerReferences ?? []).find(
        (ref) => ref.kind === 'DaemonSet' && ref.controller === true,
      );
      if (owner !== undefined && !uids.has(String(owner.uid)))
        cluster.delete(RESOURCE.pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    }
    for (const revision of cluster.list(RESOURCE.controllerrevisions)) {
      const owner = (revision.metadata.ownerReferences ?? []).find((ref) => ref.kind === 'DaemonSet');
      if (owner !== undefined && !uids.has(String(owner.uid))) {
        cluster.delete(
          RESOURCE.controllerrevisions,
          revision.metadata.namespace ?? '',
          revision.metadata.name ?? '',
        );
      }
    }
    busy = this.kubelet(cluster) || busy;
    cluster.setBusy(busy);
  }

  /**
   * The DaemonSet's template hash, kept per DaemonSet generation: every write goes through the API
   * server's rules, which bump the generation whenever the spec (so the template) changes.
   */
  private templateHashOf(ds: KubeObject, template: JsonObject): string {
    const uid = ds.metadata.uid ?? '';
    const generation = ds.metadata.generation;
    const known = this.templateHashes.get(uid);
    if (known !== undefined && generation !== undefined && known.generation === generation) return known.hash;
    const hash = templateHash(template);
    if (uid !== '' && generation !== undefined) this.templateHashes.set(uid, { generation, hash });
    return hash;
  }

  // -------------------------------------------------------------------------------------------
  // DaemonSet controller

  /** Returns whether the DaemonSet is still converging. */
  private syncDaemonSet(cluster: ObjectStore, ds: KubeObject): boolean {
    const namespace = ds.metadata.namespace ?? '';
    const spec = ds.spec as JsonObject;
    const template = spec.template as JsonObject;
    const hash = this.templateHashOf(ds, template);
    this.syncRevisions(cluster, ds, hash, template);

    const templateSpec = (template.spec ?? {}) as JsonObject;
    const nodeSelector = templateSpec.nodeSelector as Record<string, string> | undefined;
    const nodes = cluster.list(RESOURCE.nodes).filter((n) => labelsMatch(nodeSelector, n.metadata.labels));
    const nodeNames = new Set(nodes.map((n) => n.metadata.name));
    const byNode = new Map<string, KubeObject[]>();
    for (const pod of cluster.list(RESOURCE.pods, namespace)) {
      if (!ownedBy(pod, ds.metadata.uid)) continue;
      const node = String((pod.spec as JsonObject).nodeName ?? '');
      if (!nodeNames.has(node)) {
        cluster.delete(RESOURCE.pods, namespace, pod.metadata.name ?? '');
        continue;
      }
      byNode.set(node, [...(byNode.get(node) ?? []), pod]);
    }
    const podOf = new Map<string, KubeObject>();
    for (const [node, pods] of byNode) {
      // More than one daemon pod on a node: keep the updated (then the oldest) one.
      pods.sort(
        (a, b) =>
          Number(b.metadata.labels?.['controller-revision-hash'] === hash) -
            Number(a.metadata.labels?.['controller-revision-hash'] === hash) ||
          String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
      );
      podOf.set(node, pods[0]!);
      for (const extra of pods.slice(1)) cluster.delete(RESOURCE.pods, namespace, extra.metadata.name ?? '');
    }

    const minReadySeconds = Number(spec.minReadySeconds ?? 0);
    const available = (pod: KubeObject) => {
      if (!isReady(pod)) return false;
      if (minReadySeconds <= 0) return true;
      const since = Date.parse(String(condition(pod, 'Ready')?.lastTransitionTime ?? ''));
      return this.options.now().getTime() - since >= minReadySeconds * 1000;
    };

    const strategy = (spec.updateStrategy ?? {}) as JsonObject;
    if ((strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
      const maxUnavailable = resolveMaxUnavailable(
        ((strategy.rollingUpdate ?? {}) as JsonObject).maxUnavailable,
        nodes.length,
      );
      let unavailable = nodes.filter((n) => {
        const pod = podOf.get(n.metadata.name ?? '');
        return pod === undefined || !available(pod);
      }).length;
      const old = [...podOf.entries()]
        .filter(([, pod]) => pod.metadata.labels?.['controller-revision-hash'] !== hash)
        .sort(([a], [b]) => a.localeCompare(b));
      // Old pods that are not available anyway go first: replacing them costs no availability.
      for (const [node, pod] of old) {
        if (!available(pod)) {
          cluster.delete(RESOURCE.pods, namespace, pod.metadata.name ?? '');
          podOf.delete(node);
        }
      }
      for (const [node, pod] of old) {
        if (!podOf.has(node) || unavailable >= maxUnavailable) continue;
        cluster.delete(RESOURCE.pods, namespace, pod.metadata.name ?? '');
        podOf.delete(node);
        unavailable++;
      }
    }

    const now = this.options.now();
    for (const node of nodes) {
      const name = node.metadata.name ?? '';
      if (podOf.has(name)) continue;
      const ip = String(
        ((node.status as JsonObject).addresses as JsonObject[] | undefined)?.find(
          (a) => a.type === 'InternalIP',
        )?.address ?? '',
      );
      const pod = cluster.create(RESOURCE.pods, daemonPod(ds, hash, name, ip, now), {
        manager: 'kube-controller-manager',
        owned: true,
      });
      podOf.set(name, pod);
    }

    const pods = [...podOf.values()];
    const desired = nodes.length;
    const updated = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash).length;
    const ready = pods.filter(isReady).length;
    const availableCount = pods.filter(available).length;
    // Integer fields marked omitempty in the Go type are absent when zero, as on a real cluster.
    const status: JsonObject = {
      currentNumberScheduled: pods.length,
      desiredNumberScheduled: desired,
      ...(availableCount > 0 ? { numberAvailable: availableCount } : {}),
      numberMisscheduled: 0,
      numberReady: ready,
      ...(desired - availableCount > 0 ? { numberUnavailable: desired - availableCount } : {}),
      observedGeneration: ds.metadata.generation ?? 1,
      ...(updated > 0 ? { updatedNumberScheduled: updated } : {}),
    };
    const current = cluster.get(RESOURCE.daemonsets, namespace, ds.metadata.name ?? '');
    if (current !== undefined && !deepEqual(current.status, status)) {
      cluster.update(RESOURCE.daemonsets, { ...current, status }, { subresource: 'status', owned: true });
    }
    if (minReadySeconds > 0 && availableCount < ready) {
      this.timer(cluster, `ds/${ds.metadata.uid}`, minReadySeconds * 1000, () => this.enqueue(cluster));
    }
    return updated < desired || availableCount < desired;
  }

  private syncRevisions(cluster: ObjectStore, ds: KubeObject, hash: string, template: JsonObject): void {
    const namespace = ds.metadata.namespace ?? '';
    const revisions = cluster
      .list(RESOURCE.controllerrevisions, namespace)
      .filter((r) => ownedBy(r, ds.metadata.uid));
    const max = Math.max(0, ...revisions.map((r) => Number(r.revision ?? 0)));
    const mine = revisions.find((r) => r.metadata.labels?.['controller-revision-hash'] === hash);
    if (mine === undefined) {
      cluster.create(
        RESOURCE.controllerrevisions,
        {
          apiVersion: 'apps/v1',
          kind: 'ControllerRevision',
          metadata: {
            name: `${ds.metadata.name}-${hash}`,
            namespace,
            labels: {
              ...((template.metadata as JsonObject | undefined)?.labels as Record<string, string>),
              'controller-revision-hash': hash,
            },
            annotations: { 'deprecated.daemonset.template.generation': String(ds.metadata.generation ?? 1) },
            ownerReferences: [
              {
                apiVersion: 'apps/v1',
                kind: 'DaemonSet',
                name: ds.metadata.name ?? '',
                uid: ds.metadata.uid ?? '',
                controller: true,
                blockOwnerDeletion: true,
              },
            ],
          },
          data: { spec: { template: { ...clone(template), $patch: 'replace' } } },
          revision: max + 1,
        },
        { manager: 'kube-controller-manager', owned: true },
      );
    } else if (Number(mine.revision) !== max) {
      cluster.update(RESOURCE.controllerrevisions, { ...mine, revision: max + 1 }, { owned: true });
    }
    const limit = Number((ds.spec as JsonObject).revisionHistoryLimit ?? 10);
    const stale = revisions
      .filter((r) => r !== mine)
      .sort((a, b) => Number(a.revision) - Number(b.revision))
      .slice(0, Math.max(0, revisions.length - (mine === undefined ? 0 : 1) - limit));
    for (const r of stale) cluster.delete(RESOURCE.controllerrevisions, namespace, r.metadata.name ?? '');
  }

  // -------------------------------------------------------------------------------------------
  // Kubelet: starts containers, runs kube-proxy's config loading, crash-loops refused configs

  /** Returns whether some pod is still starting or crash-looping. */
  private kubelet(cluster: ObjectStore): boolean {
    let busy = false;
    const nodes = cluster.list(RESOURCE.nodes);
    let next = 0;
    for (const listed of cluster.list(RESOURCE.pods)) {
      let pod = listed;
      const spec = pod.spec as JsonObject;
      if (spec.nodeName === undefined && nodes.length > 0) {
        // A minimal scheduler for pods created by users: spread them over the nodes; the kubelet
        // then takes the pod at once.
        const node = nodes[next++ % nodes.length]!;
        pod = cluster.update(
          RESOURCE.pods,
          { ...pod, spec: { ...spec, nodeName: node.metadata.name ?? '' } },
          { owned: true },
        );
        busy = true;
      }
      const status = (pod.status ?? {}) as JsonObject;
      const uid = pod.metadata.uid ?? '';
      if (status.phase === 'Pending' || status.phase === undefined) {
        busy = true;
        if (!this.hasTimer(cluster, uid)) {
          this.timer(cluster, uid, this.options.podStartMs, () => this.startContainer(cluster, pod));
        }
      } else if (crashLooping(pod)) {
        busy = true;
        if (!this.hasTimer(cluster, uid)) {
          const restarts = Number(firstContainerStatus(pod)?.restartCount ?? 1);
          const delay = Math.min(
            CRASH_BACKOFF_BASE_MS * 2 ** Math.max(0, restarts - 1),
            CRASH_BACKOFF_MAX_MS,
          );
          this.timer(cluster, uid, delay, () => this.startContainer(cluster, pod));
        }
      }
    }
    return busy;
  }

  private hasTimer(cluster: ObjectStore, key: string): boolean {
    return this.timers.get(cluster.meta.id)?.has(key) === true;
  }

  private timer(cluster: ObjectStore, key: string, ms: number, run: () => void): void {
    let byKey = this.timers.get(cluster.meta.id);
    if (byKey === undefined) {
      byKey = new Map();
      this.timers.set(cluster.meta.id, byKey);
    }
    if (byKey.has(key)) return;
    const timer = setTimeout(() => {
      byKey.delete(key);
      if (!this.running || cluster.destroyed) return;
      try {
        run();
      } catch (error) {
        this.options.logger.error({ err: error, clusterId: cluster.meta.id }, 'Emulated kubelet failed');
      }
    }, ms);
    byKey.set(key, timer);
  }

  /** Starts every pending pod now (a cluster is installed with its pods already running). */
  startPendingNow(cluster: ObjectStore): void {
    for (const pod of cluster.list(RESOURCE.pods)) {
      if ((pod.status as JsonObject | undefined)?.phase === 'Pending') this.startContainer(cluster, pod);
    }
  }

  /** The container (re)starts: a kube-proxy reads `config.conf` now, and keeps what it read. */
  private startContainer(cluster: ObjectStore, stale: KubeObject): void {
    const namespace = stale.metadata.namespace ?? '';
    const pod = cluster.get(RESOURCE.pods, namespace, stale.metadata.name ?? '');
    if (pod === undefined || pod.metadata.uid !== stale.metadata.uid) return;
    const spec = pod.spec as JsonObject;
    const container = ((spec.containers ?? []) as JsonObject[])[0] ?? {};
    const image = String(container.image ?? '');
    const name = String(container.name ?? 'container');
    const previous = firstContainerStatus(pod);
    const restarts = crashLooping(pod) ? Number(previous?.restartCount ?? 0) : 0;
    const time = rfc3339(this.options.now());
    const status = (pod.status ?? {}) as JsonObject;
    const ip = String(status.hostIP ?? '');
    const annotations = { ...(pod.metadata.annotations ?? {}) };

    let failure: string | undefined;
    if (pod.metadata.labels?.['k8s-app'] === KUBE_PROXY) {
      const configMap = configMapOfPod(cluster, pod);
      if (configMap === undefined) {
        // The volume cannot be mounted: the container is not created until the ConfigMap exists.
        return;
      }
      const text = (configMap.data as JsonObject | undefined)?.['config.conf'];
      if (typeof text !== 'string') {
        failure = 'failed complete: open /var/lib/kube-proxy/config.conf: no such file or directory';
      } else {
        annotations[LOADED_CONFIG_ANNOTATION] = configHash(text);
        const result = loadKubeProxyConfig(text, cluster.meta.version);
        if (!result.ok) failure = result.message;
      }
    }

    let next: JsonObject;
    if (failure === undefined) {
      next = runningStatus(name, image, ip, time, restarts);
      next.qosClass = status.qosClass ?? 'BestEffort';
      next.startTime = status.startTime ?? time;
    } else {
      const restartCount = restarts + 1;
      const backoff = Math.min(CRASH_BACKOFF_BASE_MS * 2 ** (restartCount - 1), CRASH_BACKOFF_MAX_MS) / 1000;
      next = runningStatus(name, image, ip, time, restartCount);
      next.qosClass = status.qosClass ?? 'BestEffort';
      next.startTime = status.startTime ?? time;
      next.conditions = (next.conditions as JsonObject[]).map((c) =>
        c.type === 'Ready' || c.type === 'ContainersReady'
          ? {
              ...c,
              status: 'False',
              reason: 'ContainersNotReady',
              message: `containers with unready status: [${name}]`,
            }
          : c,
      );
      const cs = (next.containerStatuses as JsonObject[])[0]!;
      cs.ready = false;
      cs.started = false;
      cs.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${formatSeconds(backoff)} restarting failed container=${name} pod=${pod.metadata.name}_${namespace}(${pod.metadata.uid})`,
        },
      };
      cs.lastState = {
        terminated: {
          exitCode: 1,
          reason: 'Error',
          message: failure,
          startedAt: time,
          finishedAt: time,
          containerID: containerId(),
        },
      };
    }
    const updated = cluster.update(
      RESOURCE.pods,
      { ...pod, metadata: { ...pod.metadata, annotations }, status: next },
      { internal: true, owned: true },
    );
    if (failure !== undefined) {
      this.options.logger.debug(
        { clusterId: cluster.meta.id, pod: updated.metadata.name, failure },
        'Emulated kube-proxy refused its config',
      );
    }
  }
}

function resolveMaxUnavailable(value: unknown, desired: number): number {
  if (typeof value === 'number') return Math.max(1, value);
  if (typeof value === 'string' && value.endsWith('%')) {
    return Math.max(1, Math.ceil((Number(value.slice(0, -1)) / 100) * desired));
  }
  return 1;
}

function firstContainerStatus(pod: KubeObject): JsonObject | undefined {
  return (((pod.status ?? {}) as JsonObject).containerStatuses as JsonObject[] | undefined)?.[0];
}

function crashLooping(pod: KubeObject): boolean {
  const state = firstContainerStatus(pod)?.state;
  return isObject(state) && isObject(state.waiting) && state.waiting.reason === 'CrashLoopBackOff';
}

function configMapOfPod(cluster: ObjectStore, pod: KubeObject): KubeObject | undefined {
  const volumes = ((pod.spec as JsonObject).volumes ?? []) as JsonObject[];
  const volume = volumes.find((v) => isObject(v.configMap));
  const name = volume === undefined ? KUBE_PROXY : String((volume.configMap as JsonObject).name);
  return cluster.get(RESOURCE.configmaps, pod.metadata.namespace ?? '', name);
}

function formatSeconds(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}
