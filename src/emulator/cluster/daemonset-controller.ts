/**
 * The DaemonSet controller, as kube-controller-manager runs it: one pod per matching node, a
 * ControllerRevision per template, rolling update within maxUnavailable (old pods that are not
 * available anyway go first), the status counters, and garbage collection of the pods and
 * revisions of DaemonSets that are gone.
 */

import { createHash } from 'node:crypto';
import { BoundedMap } from '../../bounded-map.ts';
import { FieldsByShape } from '../apiserver/managed-fields.ts';
import { type ObjectStore, TEMPLATE_GENERATION } from '../apiserver/object-store.ts';
import type { JsonObject, KubeObject } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';
import { daemonPod, daemonSetOwner, templateGeneration } from './kubeadm-objects.ts';
import { isAvailable, isReady, ownedBy, writeStatus } from './pods.ts';
import { recordScheduled } from './scheduler.ts';
import type { ClusterTimers } from './timers.ts';

const HASH_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** `controller-revision-hash`: a short hash of the pod template, in apimachinery's safe alphabet. */
export function templateHash(template: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  let out = '';
  for (let i = 0; i < 10; i++) out += HASH_ALPHABET[digest[i]! % HASH_ALPHABET.length];
  return out;
}

function labelsMatch(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  // No entry arrays: every sync matches every node.
  for (const key in selector)
    if (Object.hasOwn(selector, key) && labels?.[key] !== selector[key]) return false;
  return true;
}

/** Template hashes kept (one per DaemonSet of the clusters recently synced). */
const TEMPLATE_HASHES_MAX = 4096;

/** Old pods in their nodes' order (`[node, pod]`). */
const byNodeName = ([a]: [string, KubeObject], [b]: [string, KubeObject]): number => a.localeCompare(b);

/**
 * Pods' and revisions' fieldsV1 trees kept (one per template, ≈ 4 KiB each): a tree serves the
 * pods of the rollouts to one template (a change makes a new template), so the bound need only
 * cover the templates being rolled out at once, not every DaemonSet recently synced (at 4,096
 * trees by DaemonSet they held 17 MiB of a settled fleet's heap; docs/performance.md, "Memory").
 */
const POD_FIELDS_MAX = 512;

export class DaemonSetController {
  readonly #now: () => Date;
  readonly #timers: ClusterTimers;
  /** Queues the cluster for another sync (when a pod's minReadySeconds is up). */
  readonly #enqueue: (cluster: ObjectStore) => void;
  /** Pods are deleted gracefully (Terminating until their kubelet confirms), or at once. */
  readonly #graceful: boolean;
  /** DaemonSet uid → its template hash at one generation. */
  readonly #templateHashes = new BoundedMap<string, { generation: number; hash: string }>(
    TEMPLATE_HASHES_MAX,
  );

  /**
   * The fieldsV1 of the pods created, by template hash: a DaemonSet's pods differ in values
   * (node, names), not in their leaf paths, which its template decides, but for their owner
   * reference's uid (a path segment), which `FieldsByShape.get` puts in. The DaemonSets of a
   * fleet's clusters share their template: the first pod walked serves every cluster's.
   */
  readonly #podFields = new FieldsByShape(POD_FIELDS_MAX);
  /** The fieldsV1 of the ControllerRevisions created, by template hash, as the pods'. */
  readonly #revisionFields = new FieldsByShape(POD_FIELDS_MAX);

  constructor(options: {
    now: () => Date;
    timers: ClusterTimers;
    enqueue: (cluster: ObjectStore) => void;
    graceful: boolean;
  }) {
    this.#now = options.now;
    this.#timers = options.timers;
    this.#enqueue = options.enqueue;
    this.#graceful = options.graceful;
  }

  /**
   * Deletes a pod as the controller does: gracefully, unless it is already going. Returns the pod
   * when it stays (Terminating) until its kubelet confirms.
   */
  #deletePod(cluster: ObjectStore, pod: KubeObject, ds?: KubeObject): KubeObject | undefined {
    if (pod.metadata.deletionTimestamp !== undefined) return pod;
    const deleted = cluster.delete(RESOURCE.pods, pod.metadata.namespace ?? '', pod.metadata.name ?? '', {
      graceful: this.#graceful,
    });
    if (ds !== undefined) this.#event(cluster, ds, 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    return deleted.metadata.deletionTimestamp === undefined ? undefined : deleted;
  }

  #event(cluster: ObjectStore, ds: KubeObject, reason: string, message: string): void {
    recordEvent(
      cluster,
      ds,
      { type: 'Normal', reason, message, component: 'daemonset-controller' },
      this.#now(),
    );
  }

  /** Syncs every DaemonSet and collects what deleted ones left; returns whether one still converges. */
  sync(cluster: ObjectStore): boolean {
    let busy = false;
    const daemonSets = cluster.list(RESOURCE.daemonsets);
    const uids = new Set(daemonSets.map((ds) => ds.metadata.uid));
    for (const ds of daemonSets) busy = this.#syncDaemonSet(cluster, ds) || busy;
    // Garbage collection of pods whose DaemonSet is gone.
    for (const pod of cluster.list(RESOURCE.pods)) {
      const owner = (pod.metadata.ownerReferences ?? []).find(
        (ref) => ref.kind === 'DaemonSet' && ref.controller === true,
      );
      if (owner !== undefined && !uids.has(String(owner.uid))) this.#deletePod(cluster, pod);
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
    return busy;
  }

  /**
   * The DaemonSet's template hash, kept per DaemonSet generation: every write goes through the API
   * server's rules, which bump the generation whenever the spec (so the template) changes.
   */
  #templateHashOf(ds: KubeObject, template: JsonObject): string {
    const uid = ds.metadata.uid ?? '';
    const generation = ds.metadata.generation;
    const known = this.#templateHashes.get(uid);
    if (known !== undefined && generation !== undefined && known.generation === generation) return known.hash;
    const hash = templateHash(template);
    if (uid !== '' && generation !== undefined) {
      // A cache (bounded: TEMPLATE_HASHES_MAX), not one entry for every DaemonSet ever synced.
      this.#templateHashes.set(uid, { generation, hash });
    }
    return hash;
  }

  /** Returns whether the DaemonSet is still converging. */
  #syncDaemonSet(cluster: ObjectStore, ds: KubeObject): boolean {
    const namespace = ds.metadata.namespace ?? '';
    const spec = ds.spec as JsonObject;
    const template = spec.template as JsonObject;
    const hash = this.#templateHashOf(ds, template);
    this.#syncRevisions(cluster, ds, hash, template);

    const templateSpec = (template.spec ?? {}) as JsonObject;
    const nodeSelector = templateSpec.nodeSelector as Record<string, string> | undefined;
    // Loops rather than callbacks made per sync: those lost their optimized code at every full
    // collection and were compiled again (docs/performance.md, "Fourteenth round").
    const nodes: KubeObject[] = [];
    const nodeNames = new Set<string | undefined>();
    for (const n of cluster.list(RESOURCE.nodes)) {
      if (!labelsMatch(nodeSelector, n.metadata.labels)) continue;
      nodes.push(n);
      nodeNames.add(n.metadata.name);
    }
    const byNode = new Map<string, KubeObject[]>();
    /** A node's pod that is being deleted: no replacement until it is gone (no surge). */
    const terminating = new Map<string, KubeObject>();
    for (const pod of cluster.list(RESOURCE.pods, namespace)) {
      if (!ownedBy(pod, ds.metadata.uid)) continue;
      const node = String((pod.spec as JsonObject).nodeName ?? '');
      if (!nodeNames.has(node)) {
        this.#deletePod(cluster, pod, ds);
        continue;
      }
      if (pod.metadata.deletionTimestamp !== undefined) {
        terminating.set(node, pod);
        continue;
      }
      const onNode = byNode.get(node);
      if (onNode === undefined) byNode.set(node, [pod]);
      else onNode.push(pod);
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
      for (const extra of pods.slice(1)) this.#deletePod(cluster, extra, ds);
    }

    const minReadySeconds = Number(spec.minReadySeconds ?? 0);
    // One clock reading per sync, as the controller's snapshot (it was one per pod looked at).
    const now = this.#now();

    const strategy = (spec.updateStrategy ?? {}) as JsonObject;
    if ((strategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
      const maxUnavailable = resolveMaxUnavailable(
        ((strategy.rollingUpdate ?? {}) as JsonObject).maxUnavailable,
        nodes.length,
      );
      let unavailable = 0;
      for (const n of nodes) {
        const pod = podOf.get(n.metadata.name ?? '');
        if (pod === undefined || !isAvailable(pod, minReadySeconds, now)) unavailable += 1;
      }
      const old: [string, KubeObject][] = [];
      for (const entry of podOf) {
        if (entry[1].metadata.labels?.['controller-revision-hash'] !== hash) old.push(entry);
      }
      old.sort(byNodeName);
      // Old pods that are not available anyway go first: replacing them costs no availability.
      for (const [node, pod] of old) {
        if (isAvailable(pod, minReadySeconds, now)) continue;
        this.#replacePod(cluster, ds, node, pod, podOf, terminating);
      }
      for (const [node, pod] of old) {
        if (!podOf.has(node) || unavailable >= maxUnavailable) continue;
        this.#replacePod(cluster, ds, node, pod, podOf, terminating);
        unavailable++;
      }
    }

    for (const node of nodes) {
      const name = node.metadata.name ?? '';
      // A node whose pod is still Terminating gets its replacement once the pod is gone.
      if (podOf.has(name) || terminating.has(name)) continue;
      const ip = String(
        ((node.status as JsonObject).addresses as JsonObject[] | undefined)?.find(
          (a) => a.type === 'InternalIP',
        )?.address ?? '',
      );
      const pod = cluster.create(RESOURCE.pods, daemonPod(ds, hash, name, ip, now), {
        manager: 'kube-controller-manager',
        owned: true,
        sameShapeAs: this.#podFields.get(hash, ds.metadata.uid ?? ''),
      });
      this.#podFields.learn(hash, pod);
      this.#event(cluster, ds, 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
      // A daemon pod names its node through node affinity; the scheduler confirms it.
      recordScheduled(cluster, pod, name, now);
      podOf.set(name, pod);
    }

    // The status counts each node's pod, a terminating one included, as kube-controller-manager does.
    const pods: KubeObject[] = [];
    for (const n of nodes) {
      const pod = podOf.get(n.metadata.name ?? '') ?? terminating.get(n.metadata.name ?? '');
      if (pod !== undefined) pods.push(pod);
    }
    const desired = nodes.length;
    let updated = 0;
    let ready = 0;
    let availableCount = 0;
    for (const pod of pods) {
      if (pod.metadata.labels?.['controller-revision-hash'] === hash) updated += 1;
      if (isReady(pod)) ready += 1;
      if (isAvailable(pod, minReadySeconds, now)) availableCount += 1;
    }
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
    writeStatus(cluster, RESOURCE.daemonsets, ds, status);
    if (minReadySeconds > 0 && availableCount < ready) {
      this.#timers.set(cluster, `ds/${ds.metadata.uid}`, minReadySeconds * 1000, () =>
        this.#enqueue(cluster),
      );
    }
    return updated < desired || availableCount < desired || terminating.size > 0;
  }

  /** Deletes a node's old pod (a rolling update's step): the node waits for it to be gone. */
  #replacePod(
    cluster: ObjectStore,
    ds: KubeObject,
    node: string,
    pod: KubeObject,
    podOf: Map<string, KubeObject>,
    terminating: Map<string, KubeObject>,
  ): void {
    const going = this.#deletePod(cluster, pod, ds);
    if (going !== undefined) terminating.set(node, going);
    podOf.delete(node);
  }

  #syncRevisions(cluster: ObjectStore, ds: KubeObject, hash: string, template: JsonObject): void {
    const namespace = ds.metadata.namespace ?? '';
    const revisions: KubeObject[] = [];
    let max = 0;
    let mine: KubeObject | undefined;
    for (const r of cluster.list(RESOURCE.controllerrevisions, namespace)) {
      if (!ownedBy(r, ds.metadata.uid)) continue;
      revisions.push(r);
      max = Math.max(max, Number(r.revision ?? 0));
      if (mine === undefined && r.metadata.labels?.['controller-revision-hash'] === hash) mine = r;
    }
    if (mine === undefined) {
      const revision = cluster.create(
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
            annotations: { [TEMPLATE_GENERATION]: templateGeneration(ds) },
            ownerReferences: [daemonSetOwner(ds)],
          },
          // The template's parts shared with the stored DaemonSet (never changed in place).
          data: { spec: { template: { ...template, $patch: 'replace' } } },
          revision: max + 1,
        },
        {
          manager: 'kube-controller-manager',
          owned: true,
          sameShapeAs: this.#revisionFields.get(hash, ds.metadata.uid ?? ''),
        },
      );
      this.#revisionFields.learn(hash, revision);
    } else if (Number(mine.revision) !== max) {
      cluster.update(RESOURCE.controllerrevisions, { ...mine, revision: max + 1 }, { owned: true });
    }
    const limit = Number((ds.spec as JsonObject).revisionHistoryLimit ?? 10);
    // Within the history limit (every sync but a few): nothing to sort and cut.
    if (revisions.length - (mine === undefined ? 0 : 1) <= limit) return;
    const stale = revisions
      .filter((r) => r !== mine)
      .sort((a, b) => Number(a.revision) - Number(b.revision))
      .slice(0, Math.max(0, revisions.length - (mine === undefined ? 0 : 1) - limit));
    for (const r of stale) cluster.delete(RESOURCE.controllerrevisions, namespace, r.metadata.name ?? '');
  }
}

function resolveMaxUnavailable(value: unknown, desired: number): number {
  if (typeof value === 'number') return Math.max(1, value);
  if (typeof value === 'string' && value.endsWith('%')) {
    return Math.max(1, Math.ceil((Number(value.slice(0, -1)) / 100) * desired));
  }
  return 1;
}
