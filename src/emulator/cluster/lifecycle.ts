/**
 * A cluster's life as the reconciler drives it, run where the cluster is owned: install (system
 * namespaces, nodes, kubeadm's kube-system objects, kube-proxy running on every node), follow the
 * node count and version, restart the API server with new admission flags, erase, destroy.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BoundedMap } from '../../bounded-map.ts';
import type { ClusterMeta, ObjectStore } from '../apiserver/object-store.ts';
import { clone, deepEqual, type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import { RESOURCE, RESOURCES } from '../apiserver/resources.ts';
import type { EmulatedNode, EmulatorControl, EnsureClusterInput } from '../scale-out/control.ts';
import type { Controllers } from './controllers.ts';
import {
  apiServerCommand,
  apiServerConfigMaps,
  apiServerPod,
  DEFAULT_ADMISSION_FLAGS,
  INSTALLER,
  KUBE_PROXY,
  KUBE_SYSTEM,
  kubeProxyConfigMap,
  kubeProxyDaemonSet,
  kubeProxyImage,
  namespaceObject,
  nodeObject,
  nodePoolFields,
  RESTART_ANNOTATION,
  SYSTEM_NAMESPACES,
} from './kubeadm-objects.ts';
import { serviceAccountObject } from './namespace-controller.ts';
import { isReady } from './pods.ts';

export interface LifecycleDeps {
  readonly logger: Logger;
  readonly now: () => Date;
  /** The API server URL written into the kube-proxy ConfigMap's `kubeconfig.conf`. */
  readonly serverUrl: (clusterId: string) => string;
  /** The cluster's CA (`extension-apiserver-authentication`'s `client-ca-file`). */
  readonly caPem: string;
  readonly controllers: Controllers;
  /** The cluster, from memory or loaded from the store; undefined when unknown. */
  cluster(clusterId: string): Promise<ObjectStore | undefined>;
  /** Brings in what the cluster's load left in the store (its Events: `Emulator.loadDeferred`). */
  loadDeferred(cluster: ObjectStore): Promise<void>;
  /**
   * The resourceVersion a cluster left memory at, while it is out of memory (nothing can have
   * changed it since: every call loads it first); undefined when it is in memory or not known.
   */
  idleAt(clusterId: string): number | undefined;
  /** Registers a new, empty cluster (in memory, and marked for the store). */
  create(meta: ClusterMeta): ObjectStore;
  /** Forgets the cluster: memory, controllers, store and ownership. */
  destroy(clusterId: string): Promise<void>;
  /** Resolves when every change made so far is durable. */
  flush(): Promise<void>;
}

/** The kube-apiserver flags the reconciler sets: admission plugins and OpenID Connect. */
const MANAGED_FLAG = /^--((enable|disable)-admission-plugins|oidc-[a-z-]+)(=|$)/;

/** Clusters whose last ensure found them as asked, remembered at most (then it starts over). */
const ENSURED_MAX = 100_000;

/** What an ensure asks for, in a few bytes. */
const fingerprintOf = (input: EnsureClusterInput): string =>
  createHash('sha1')
    .update(JSON.stringify([input.version, input.nodes]))
    .digest('base64');

/** The control operations, run on this process's clusters. */
export class ClusterLifecycle implements EmulatorControl {
  readonly #deps: LifecycleDeps;
  /**
   * Per cluster, the last ensure that changed nothing: what it asked for and the cluster's
   * resourceVersion then. The same ensure of a cluster that has not changed since (out of memory
   * at that resourceVersion) changes nothing either, so it is answered without loading it: the
   * resync of a settled fleet costs no load per cluster (docs/performance.md).
   */
  readonly #ensured = new BoundedMap<string, { fingerprint: string; resourceVersion: number }>(ENSURED_MAX);
  /**
   * Stamps name this process: after a restart (which may lose changes not yet committed, and so
   * reach the same resourceVersion with other objects) no stamp equals one given before.
   */
  readonly #incarnation = randomUUID();

  constructor(deps: LifecycleDeps) {
    this.#deps = deps;
  }

  async ensureCluster(input: EnsureClusterInput): Promise<string> {
    const fingerprint = fingerprintOf(input);
    const idle = this.#deps.idleAt(input.id);
    if (idle !== undefined) {
      const ensured = this.#ensured.get(input.id);
      if (ensured?.fingerprint === fingerprint && ensured.resourceVersion === idle) return this.#stamp(idle);
    }
    const existing = await this.#deps.cluster(input.id);
    const nodeCount = input.nodes.length;
    if (existing === undefined) {
      const cluster = this.#deps.create({
        id: input.id,
        version: input.version,
        nodeCount,
        resourceVersion: 0,
        busy: false,
        createdAt: rfc3339(this.#deps.now()),
      });
      this.#syncNodes(cluster, input.nodes);
      this.#install(cluster);
      this.#deps.logger.info({ clusterId: input.id, nodeCount }, 'Created emulated cluster');
      this.#ensured.delete(input.id);
      await this.#deps.flush();
      return this.#stamp(cluster.meta.resourceVersion);
    }
    // Every pass ensures its cluster: one that is as asked costs nothing (no write, no commit).
    const before = existing.meta.resourceVersion;
    const upgraded = existing.meta.version !== input.version;
    const reshaped = existing.reshape(input.version, nodeCount);
    this.#syncNodes(existing, input.nodes);
    if (upgraded) this.#upgradeKubeProxy(existing);
    this.#upgradeOneNode(existing, input.nodes);
    if (!reshaped && existing.meta.resourceVersion === before) {
      this.#ensured.set(input.id, { fingerprint, resourceVersion: before });
      return this.#stamp(before);
    }
    this.#ensured.delete(input.id);
    await this.#deps.flush();
    return this.#stamp(existing.meta.resourceVersion);
  }

  /** A cluster's state stamp (EmulatorControl.ensureCluster): this process, its resourceVersion. */
  #stamp(resourceVersion: number): string {
    return `${this.#incarnation}/${resourceVersion}`;
  }

  async setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void> {
    const cluster = await this.#mustCluster(clusterId);
    const pod = apiServer(cluster);
    if (pod === undefined) throw new Error(`emulated cluster ${clusterId} has no kube-apiserver pod`);
    const spec = clone(pod.spec) as JsonObject;
    const container = (spec.containers as JsonObject[])[0]!;
    const command = (container.command as string[]).filter((flag) => !MANAGED_FLAG.test(flag));
    const others = command.slice(1);
    const next = apiServerCommand(flags.filter((f) => MANAGED_FLAG.test(f)));
    // Keep flags someone else added, in place of the defaults the template carries.
    container.command = [...next, ...others.filter((flag) => !next.includes(flag))];
    const updated = cluster.update(RESOURCE.pods, { ...pod, spec }, { manager: 'kubelet' });
    // A static pod whose manifest changed is restarted by the kubelet.
    const status = clone(updated.status) as JsonObject;
    for (const cs of (status.containerStatuses ?? []) as JsonObject[])
      cs.state = { running: { startedAt: rfc3339(this.#deps.now()) } };
    cluster.update(RESOURCE.pods, { ...updated, status }, { subresource: 'status' });
    await this.#deps.flush();
  }

  async restartApiServer(clusterId: string, restart: string): Promise<void> {
    const cluster = await this.#mustCluster(clusterId);
    const pod = apiServer(cluster);
    if (pod === undefined) throw new Error(`emulated cluster ${clusterId} has no kube-apiserver pod`);
    if (pod.metadata.annotations?.[RESTART_ANNOTATION] === restart) return;
    // The API server process goes away: its watch streams end (clients re-list and watch again).
    cluster.closeWatchers();
    const annotations = { ...pod.metadata.annotations, [RESTART_ANNOTATION]: restart };
    const annotated = cluster.update(
      RESOURCE.pods,
      { ...pod, metadata: { ...pod.metadata, annotations } },
      { manager: 'kubelet' },
    );
    // The kubelet starts its container again: one more restart, running since now.
    const status = clone(annotated.status) as JsonObject;
    const startedAt = rfc3339(this.#deps.now());
    for (const cs of (status.containerStatuses ?? []) as JsonObject[]) {
      cs.lastState = { terminated: { exitCode: 0, reason: 'Completed', finishedAt: startedAt } };
      cs.restartCount = Number(cs.restartCount ?? 0) + 1;
      cs.state = { running: { startedAt } };
    }
    cluster.update(RESOURCE.pods, { ...annotated, status }, { subresource: 'status' });
    this.#deps.logger.info({ clusterId, restart }, 'Restarted the API server');
    await this.#deps.flush();
  }

  async eraseCluster(clusterId: string): Promise<void> {
    const cluster = await this.#mustCluster(clusterId);
    // Every object of the erased namespaces goes, those still in the store only too.
    await this.#deps.loadDeferred(cluster);
    const kept = new Set(['kube-system', 'kube-public', 'kube-node-lease']);
    for (const type of RESOURCES) {
      if (type === RESOURCE.nodes) continue;
      for (const object of cluster.list(type)) {
        const name = object.metadata.name ?? '';
        if (type === RESOURCE.namespaces) {
          if (!SYSTEM_NAMESPACES.includes(name as (typeof SYSTEM_NAMESPACES)[number]))
            cluster.delete(type, '', name);
        } else if (type.namespaced && !kept.has(object.metadata.namespace ?? '')) {
          cluster.delete(type, object.metadata.namespace ?? '', name);
        }
      }
    }
    // kube-system's own objects go back to their installed state.
    const ds = cluster.get(RESOURCE.daemonsets, KUBE_SYSTEM, KUBE_PROXY);
    for (const pod of cluster.list(RESOURCE.pods, KUBE_SYSTEM)) {
      const owned = (pod.metadata.ownerReferences ?? []).some(
        (ref) => ds !== undefined && ref.uid === ds.metadata.uid,
      );
      if (owned || pod.metadata.labels?.component === 'kube-apiserver')
        cluster.delete(RESOURCE.pods, KUBE_SYSTEM, pod.metadata.name ?? '');
    }
    for (const revision of cluster.list(RESOURCE.controllerrevisions, KUBE_SYSTEM)) {
      if (
        (revision.metadata.ownerReferences ?? []).some(
          (ref) => ds !== undefined && ref.uid === ds.metadata.uid,
        )
      ) {
        cluster.delete(RESOURCE.controllerrevisions, KUBE_SYSTEM, revision.metadata.name ?? '');
      }
    }
    if (ds !== undefined) cluster.delete(RESOURCE.daemonsets, KUBE_SYSTEM, KUBE_PROXY);
    if (cluster.get(RESOURCE.configmaps, KUBE_SYSTEM, KUBE_PROXY) !== undefined)
      cluster.delete(RESOURCE.configmaps, KUBE_SYSTEM, KUBE_PROXY);
    this.#deps.controllers.forget(clusterId);
    this.#install(cluster);
    this.#deps.logger.info({ clusterId }, 'Erased emulated cluster');
    await this.#deps.flush();
  }

  destroyCluster(clusterId: string): Promise<void> {
    this.#ensured.delete(clusterId);
    return this.#deps.destroy(clusterId);
  }

  /** Namespaces and kube-system's base objects (the nodes are the caller's: a reset keeps them). */
  #install(cluster: ObjectStore): void {
    for (const name of SYSTEM_NAMESPACES) {
      if (cluster.get(RESOURCE.namespaces, '', name) === undefined)
        cluster.create(RESOURCE.namespaces, namespaceObject(name), { manager: 'kube-apiserver' });
    }
    this.#installKubeSystem(cluster);
  }

  /**
   * Makes the cluster's Nodes those of `nodes`: missing ones join (Ready, with the lowest free
   * pod CIDR index), those whose pool changed their labels, annotations, taints or unschedulable
   * follow it, and the others leave. The DaemonSet controller gives joining nodes a kube-proxy pod
   * of the current template and deletes the pods of those that leave.
   */
  #syncNodes(cluster: ObjectStore, nodes: readonly EmulatedNode[]): void {
    const wanted = new Map(nodes.map((node) => [node.name, node]));
    const used = new Set<number>();
    for (const existing of cluster.list(RESOURCE.nodes)) {
      const name = existing.metadata.name ?? '';
      if (!wanted.has(name)) {
        cluster.delete(RESOURCE.nodes, '', name);
        // kube-controller-manager's pod GC: the pods bound to a Node that is gone go with it.
        for (const pod of cluster.list(RESOURCE.pods)) {
          if ((pod.spec as JsonObject).nodeName === name)
            cluster.delete(RESOURCE.pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
        }
        continue;
      }
      used.add(podCidrIndex(existing));
    }
    let next = 0;
    for (const node of nodes) {
      const existing = cluster.get(RESOURCE.nodes, '', node.name);
      if (existing === undefined) {
        while (used.has(next)) next++;
        used.add(next);
        cluster.create(
          RESOURCE.nodes,
          nodeObject(cluster.meta.id, node, next, cluster.meta.version, this.#deps.now()),
          {
            manager: 'kubelet',
          },
        );
        continue;
      }
      const fields = nodePoolFields(node);
      // The emulator's own annotations (node faults, docs/emulator.md) are set on the Node, not by its pool.
      fields.annotations = { ...emulatorAnnotations(existing.metadata.annotations), ...fields.annotations };
      const spec = existing.spec as JsonObject;
      const { taints: _taints, unschedulable: _unschedulable, ...rest } = spec;
      const nextSpec = { ...rest, ...fields.spec };
      if (
        deepEqual(existing.metadata.labels, fields.labels) &&
        deepEqual(existing.metadata.annotations, fields.annotations) &&
        deepEqual(spec, nextSpec)
      ) {
        continue;
      }
      cluster.update(
        RESOURCE.nodes,
        {
          ...existing,
          metadata: { ...existing.metadata, labels: fields.labels, annotations: fields.annotations },
          spec: nextSpec,
        },
        { manager: 'mks-nodepool-controller' },
      );
    }
  }

  /**
   * A version upgrade, one node at a time: when every Node has a ready kube-proxy pod that is not
   * being deleted (the node replaced before has rejoined, no rolling update has one down), the first Node still on another version is replaced by a new
   * machine of the same name on the cluster's version, its pods going with the old one. The
   * reconciler calls again until none is left.
   */
  #upgradeOneNode(cluster: ObjectStore, nodes: readonly EmulatedNode[]): void {
    const version = `v${cluster.meta.version}`;
    const current = cluster.list(RESOURCE.nodes);
    const next = current
      .filter((node) => kubeletVersion(node) !== version)
      .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))[0];
    if (next === undefined) return;
    const readyOn = new Set(
      cluster
        .list(RESOURCE.pods, KUBE_SYSTEM)
        // A pod being deleted (its DaemonSet rolling it, Terminating) still reports Ready until its
        // kubelet stops it, but its node is going without kube-proxy: not a node to count on.
        .filter(
          (pod) =>
            pod.metadata.labels?.['k8s-app'] === KUBE_PROXY &&
            pod.metadata.deletionTimestamp === undefined &&
            isReady(pod),
        )
        .map((pod) => String((pod.spec as JsonObject).nodeName ?? '')),
    );
    if (!current.every((node) => readyOn.has(node.metadata.name ?? ''))) return;
    const name = next.metadata.name ?? '';
    const shape = nodes.find((node) => node.name === name);
    if (shape === undefined) return;
    for (const pod of cluster.list(RESOURCE.pods)) {
      if ((pod.spec as JsonObject).nodeName === name)
        cluster.delete(RESOURCE.pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '');
    }
    const index = podCidrIndex(next);
    cluster.delete(RESOURCE.nodes, '', name);
    cluster.create(
      RESOURCE.nodes,
      nodeObject(cluster.meta.id, shape, index, cluster.meta.version, this.#deps.now()),
      { manager: 'kubelet' },
    );
    this.#deps.logger.info({ clusterId: cluster.meta.id, node: name, version }, 'Replaced node for upgrade');
  }

  /**
   * The control plane moved to another version: as `kubeadm upgrade apply` does for its addon,
   * kube-proxy's DaemonSet takes the image of that version. Its controller then rolls the pods
   * node by node (maxUnavailable 1), interleaved with the node replacements (`#upgradeOneNode`
   * waits for every kube-proxy pod to be ready, the rolling update for the replaced node's pod),
   * and a node that joins from now on runs the new image. Only the image changes: the pod
   * template's config hash is the reconciler's.
   */
  #upgradeKubeProxy(cluster: ObjectStore): void {
    const ds = cluster.get(RESOURCE.daemonsets, KUBE_SYSTEM, KUBE_PROXY);
    if (ds === undefined) return;
    const image = kubeProxyImage(cluster.meta.version);
    const spec = clone(ds.spec) as JsonObject;
    const podSpec = (spec.template as JsonObject).spec as JsonObject;
    const container = ((podSpec.containers ?? []) as JsonObject[]).find((c) => c.name === KUBE_PROXY);
    if (container === undefined || container.image === image) return;
    container.image = image;
    cluster.update(RESOURCE.daemonsets, { ...ds, spec }, { manager: INSTALLER });
    this.#deps.logger.info({ clusterId: cluster.meta.id, image }, 'Upgraded kube-proxy image');
  }

  /** Creates kube-system's base objects and starts kube-proxy on every node at once. */
  #installKubeSystem(cluster: ObjectStore): void {
    const { id, version } = cluster.meta;
    if (cluster.get(RESOURCE.configmaps, KUBE_SYSTEM, KUBE_PROXY) === undefined) {
      cluster.create(RESOURCE.configmaps, kubeProxyConfigMap(this.#deps.serverUrl(id)), {
        manager: INSTALLER,
      });
    }
    if (cluster.get(RESOURCE.daemonsets, KUBE_SYSTEM, KUBE_PROXY) === undefined) {
      cluster.create(RESOURCE.daemonsets, kubeProxyDaemonSet(version), { manager: INSTALLER });
    }
    if (cluster.get(RESOURCE.serviceaccounts, KUBE_SYSTEM, KUBE_PROXY) === undefined) {
      cluster.create(RESOURCE.serviceaccounts, serviceAccountObject(KUBE_SYSTEM, KUBE_PROXY), {
        manager: INSTALLER,
      });
    }
    // What kube-apiserver itself keeps in kube-system.
    for (const configMap of apiServerConfigMaps(this.#deps.caPem, this.#deps.now())) {
      if (cluster.get(RESOURCE.configmaps, KUBE_SYSTEM, configMap.metadata.name ?? '') === undefined)
        cluster.create(RESOURCE.configmaps, configMap, { manager: 'kube-apiserver' });
    }
    if (apiServer(cluster) === undefined) {
      cluster.create(RESOURCE.pods, apiServerPod(id, version, DEFAULT_ADMISSION_FLAGS, this.#deps.now()), {
        manager: 'kubelet',
      });
    }
    const controllers = this.#deps.controllers;
    controllers.sync(cluster);
    controllers.startPendingNow(cluster);
    controllers.sync(cluster);
  }

  async #mustCluster(clusterId: string): Promise<ObjectStore> {
    const cluster = await this.#deps.cluster(clusterId);
    // 404 when a control call from another process names a cluster the emulator does not know.
    if (cluster === undefined)
      throw Object.assign(new Error(`unknown emulated cluster ${clusterId}`), { statusCode: 404 });
    return cluster;
  }
}

function kubeletVersion(node: KubeObject): unknown {
  return ((node.status as JsonObject | undefined)?.nodeInfo as JsonObject | undefined)?.kubeletVersion;
}

/** The index a Node's pod CIDR (`10.2.<index>.0/24`) was given. */
function podCidrIndex(node: KubeObject): number {
  const cidr = String((node.spec as JsonObject | undefined)?.podCIDR ?? '');
  return Number(/^10\.2\.(\d+)\.0\/24$/.exec(cidr)?.[1] ?? -1);
}

function apiServer(cluster: ObjectStore): KubeObject | undefined {
  return cluster
    .list(RESOURCE.pods, KUBE_SYSTEM)
    .find((p) => p.metadata.labels?.component === 'kube-apiserver');
}

/** The annotations under `emulator.mks.internal/` (node faults a user or a test sets with kubectl). */
function emulatorAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(annotations ?? {}).filter(([key]) => key.startsWith('emulator.mks.internal/')),
  );
}
