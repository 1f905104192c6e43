/**
 * The kubelet of every node: starts a pod's container after `podStartMs`, runs kube-proxy's
 * config loading in each new kube-proxy container (on the node's kernel: the modules its Node's
 * `emulator.mks.internal/missing-kernel-modules` annotation says it lacks), crash-loops (with the
 * kubelet's back-off) the containers whose config was refused, and stops the container of a pod
 * being deleted (`podStopMs`) before deleting the pod for good.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ObjectStore } from '../apiserver/object-store.ts';
import { isObject, type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';
import { type LoadResult, loadKubeProxyConfig, missingKernelModules, startupLog } from './kube-proxy.ts';
import {
  containerId,
  KUBE_PROXY,
  LOADED_CONFIG_ANNOTATION,
  loadedConfigHash,
  runningStatus,
} from './kubeadm-objects.ts';
import { crashLooping, firstContainerStatus } from './pods.ts';
import type { ClusterTimers } from './timers.ts';

const CRASH_BACKOFF_BASE_MS = 10_000;

const CRASH_BACKOFF_MAX_MS = 300_000;

export class Kubelet {
  readonly #logger: Logger;
  readonly #podStartMs: number;
  readonly #podStopMs: number;
  readonly #now: () => Date;
  readonly #timers: ClusterTimers;

  constructor(options: {
    logger: Logger;
    podStartMs: number;
    podStopMs: number;
    now: () => Date;
    timers: ClusterTimers;
  }) {
    this.#logger = options.logger;
    this.#podStartMs = options.podStartMs;
    this.#podStopMs = options.podStopMs;
    this.#now = options.now;
    this.#timers = options.timers;
  }

  /** Starts and restarts containers; returns whether some pod is still starting or crash-looping. */
  sync(cluster: ObjectStore): boolean {
    let busy = false;
    for (const pod of cluster.list(RESOURCE.pods)) {
      // A pod the scheduler has not bound (it fits no node) is no kubelet's to start.
      if ((pod.spec as JsonObject).nodeName === undefined) continue;
      const status = (pod.status ?? {}) as JsonObject;
      const uid = pod.metadata.uid ?? '';
      if (pod.metadata.deletionTimestamp !== undefined) {
        busy = true;
        if (!this.#timers.has(cluster, `stop/${uid}`)) {
          this.#stopping(cluster, pod);
          this.#timers.set(cluster, `stop/${uid}`, this.#podStopMs, () => this.#stopped(cluster, pod));
        }
        continue;
      }
      if (status.phase === 'Running' && !cluster.containerLogs.has(uid)) {
        // A cluster read back from the store: its containers' logs are rebuilt from what they loaded.
        cluster.containerLogs.set(uid, this.#rebuiltLog(cluster, pod));
      }
      if (status.phase === 'Pending' || status.phase === undefined) {
        busy = true;
        if (!this.#timers.has(cluster, uid)) {
          this.#timers.set(cluster, uid, this.#podStartMs, () => this.#startContainer(cluster, pod));
        }
      } else if (crashLooping(pod)) {
        busy = true;
        if (!this.#timers.has(cluster, uid)) {
          const restarts = Number(firstContainerStatus(pod)?.restartCount ?? 1);
          const delay = Math.min(
            CRASH_BACKOFF_BASE_MS * 2 ** Math.max(0, restarts - 1),
            CRASH_BACKOFF_MAX_MS,
          );
          this.#timers.set(cluster, uid, delay, () => this.#startContainer(cluster, pod));
        }
      }
    }
    return busy;
  }

  /**
   * What a kube-proxy container logged at its last start, rebuilt from the pod and the ConfigMap
   * (same lines, same time): a refused config's error is in the container's last state; a loaded
   * config is the ConfigMap's, when its hash is still the one the container loaded. Otherwise (the
   * ConfigMap changed since, or not kube-proxy) nothing is known: empty.
   */
  #rebuiltLog(cluster: ObjectStore, pod: KubeObject): string {
    if (pod.metadata.labels?.['k8s-app'] !== KUBE_PROXY) return '';
    const container = firstContainerStatus(pod);
    const node = String((pod.spec as JsonObject).nodeName ?? '');
    if (crashLooping(pod)) {
      const terminated = ((container?.lastState ?? {}) as JsonObject).terminated as JsonObject | undefined;
      if (terminated === undefined) return '';
      const at = logTime(pod, String(terminated.finishedAt ?? ''));
      return startupLog(
        { ok: false, message: String(terminated.message ?? '') },
        node,
        cluster.meta.version,
        at,
      );
    }
    const text = (configMapOfPod(cluster, pod)?.data as JsonObject | undefined)?.['config.conf'];
    const running = ((container?.state ?? {}) as JsonObject).running as JsonObject | undefined;
    if (
      typeof text !== 'string' ||
      running === undefined ||
      loadedConfigHash(text) !== pod.metadata.annotations?.[LOADED_CONFIG_ANNOTATION]
    )
      return '';
    const at = logTime(pod, String(running.startedAt ?? ''));
    return startupLog(loadKubeProxyConfig(text, cluster.meta.version), node, cluster.meta.version, at);
  }

  /** A pod being deleted whose container runs: the kubelet stops it (`Killing`). */
  #stopping(cluster: ObjectStore, pod: KubeObject): void {
    const status = firstContainerStatus(pod);
    if (!isObject(status?.state) || !isObject(status.state.running)) return;
    recordEvent(
      cluster,
      pod,
      {
        type: 'Normal',
        reason: 'Killing',
        message: `Stopping container ${String(status.name ?? '')}`,
        component: 'kubelet',
        host: String((pod.spec as JsonObject).nodeName ?? ''),
      },
      this.#now(),
    );
  }

  /**
   * A pod being deleted: its container has stopped (after `podStopMs`), so the kubelet deletes the
   * pod for good, as a real one does once the container exits within its grace period.
   */
  #stopped(cluster: ObjectStore, stale: KubeObject): void {
    const namespace = stale.metadata.namespace ?? '';
    const pod = cluster.get(RESOURCE.pods, namespace, stale.metadata.name ?? '');
    if (pod === undefined || pod.metadata.uid !== stale.metadata.uid) return;
    cluster.delete(RESOURCE.pods, namespace, pod.metadata.name ?? '', { uid: pod.metadata.uid });
  }

  /** Starts every pending pod now (a cluster is installed with its pods already running). */
  startPendingNow(cluster: ObjectStore): void {
    for (const pod of cluster.list(RESOURCE.pods)) {
      const bound = (pod.spec as JsonObject).nodeName !== undefined;
      if (bound && (pod.status as JsonObject | undefined)?.phase === 'Pending')
        this.#startContainer(cluster, pod);
    }
  }

  /** The container (re)starts: a kube-proxy reads `config.conf` now, and keeps what it read. */
  #startContainer(cluster: ObjectStore, stale: KubeObject): void {
    const namespace = stale.metadata.namespace ?? '';
    const pod = cluster.get(RESOURCE.pods, namespace, stale.metadata.name ?? '');
    if (pod === undefined || pod.metadata.uid !== stale.metadata.uid) return;
    if (pod.metadata.deletionTimestamp !== undefined) return;
    const spec = pod.spec as JsonObject;
    const container = ((spec.containers ?? []) as JsonObject[])[0] ?? {};
    const image = String(container.image ?? '');
    const name = String(container.name ?? 'container');
    const previous = firstContainerStatus(pod);
    const restarts = crashLooping(pod) ? Number(previous?.restartCount ?? 0) : 0;
    const time = rfc3339(this.#now());
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
      let result: LoadResult;
      if (typeof text !== 'string') {
        result = {
          ok: false,
          message: 'failed complete: open /var/lib/kube-proxy/config.conf: no such file or directory',
        };
      } else {
        annotations[LOADED_CONFIG_ANNOTATION] = loadedConfigHash(text);
        // The node's kernel (a fault the Node's annotation injects) decides what IPVS can load.
        const node = cluster.get(RESOURCE.nodes, '', String(spec.nodeName ?? ''));
        result = loadKubeProxyConfig(
          text,
          cluster.meta.version,
          missingKernelModules(node?.metadata.annotations),
        );
      }
      if (!result.ok) failure = result.message;
      cluster.containerLogs.set(
        pod.metadata.uid ?? '',
        startupLog(result, String(spec.nodeName ?? ''), cluster.meta.version, logTime(pod, time)),
      );
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
    // What a real kubelet reports of a container start (the image is always present: no pulls).
    const event = (type: 'Normal' | 'Warning', reason: string, message: string) =>
      recordEvent(
        cluster,
        updated,
        { type, reason, message, component: 'kubelet', host: String(spec.nodeName ?? '') },
        this.#now(),
      );
    event('Normal', 'Pulled', `Container image "${image}" already present on machine`);
    event('Normal', 'Created', `Created container: ${name}`);
    event('Normal', 'Started', `Started container ${name}`);
    if (failure !== undefined) {
      event(
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${name} in pod ${pod.metadata.name}_${namespace}(${pod.metadata.uid})`,
      );
      this.#logger.debug(
        { clusterId: cluster.meta.id, pod: updated.metadata.name, failure },
        'Emulated kube-proxy refused its config',
      );
    }
  }
}

function configMapOfPod(cluster: ObjectStore, pod: KubeObject): KubeObject | undefined {
  const volumes = ((pod.spec as JsonObject).volumes ?? []) as JsonObject[];
  const volume = volumes.find((v) => isObject(v.configMap));
  const name = volume === undefined ? KUBE_PROXY : String((volume.configMap as JsonObject).name);
  return cluster.get(RESOURCE.configmaps, pod.metadata.namespace ?? '', name);
}

/**
 * The time a container's log lines carry: the second its status records (`startedAt`,
 * `finishedAt`), with a sub-second part fixed per pod, so a rebuilt log is the same text.
 */
function logTime(pod: KubeObject, stamp: string): Date {
  const millis = createHash('sha256')
    .update(pod.metadata.uid ?? '')
    .digest()
    .readUInt16BE(0);
  return new Date(Date.parse(stamp) + (millis % 1000));
}

function formatSeconds(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`;
}
