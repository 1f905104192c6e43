/**
 * The Deployment and ReplicaSet controllers, as kube-controller-manager runs them: a Deployment
 * owns one ReplicaSet per pod template (labelled `pod-template-hash`, numbered by the
 * `deployment.kubernetes.io/revision` annotation) and moves replicas from the old ones to the new
 * one within maxSurge and maxUnavailable (RollingUpdate), or after the old pods are gone
 * (Recreate); a ReplicaSet keeps `replicas` pods, which the scheduler binds and the kubelet
 * starts. Their pods are not run (no container runtime): the kubelet shows them Running.
 */
import type { ObjectStore } from '../apiserver/object-store.ts';
import { clone, deepEqual, type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import { RESOURCE, type ResourceType } from '../apiserver/resources.ts';
import { templateHash } from './daemonset-controller.ts';
import { recordEvent } from './events.ts';
import { isAvailable, isReady, ownedBy, writeStatus } from './pods.ts';
import type { ClusterTimers } from './timers.ts';

const HASH_LABEL = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX = 'deployment.kubernetes.io/max-replicas';

const ownerOf = (owner: KubeObject): JsonObject => ({
  apiVersion: 'apps/v1',
  kind: owner.kind,
  name: owner.metadata.name ?? '',
  uid: owner.metadata.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

const replicasOf = (object: KubeObject): number => Number((object.spec as JsonObject).replicas ?? 1);
const controllerUid = (object: KubeObject, kind: string): string | undefined =>
  (object.metadata.ownerReferences ?? []).find((ref) => ref.kind === kind && ref.controller === true)?.uid as
    | string
    | undefined;

/** An IntOrString against `total`: a number, or a percentage rounded up (surge) or down. */
function scaled(value: unknown, total: number, fallback: string, roundUp: boolean): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return Math.max(0, v);
  const percent = Number(String(v).replace(/%$/, ''));
  if (!Number.isFinite(percent)) return 0;
  const exact = (percent * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** The Progressing condition of a paused Deployment (its times kept while it stays paused). */
function pausedCondition(deployment: KubeObject, now: Date): JsonObject {
  const before = (((deployment.status ?? {}) as JsonObject).conditions as JsonObject[] | undefined)?.find(
    (c) => c.type === 'Progressing',
  );
  const time = before?.reason === 'DeploymentPaused' ? String(before.lastTransitionTime) : rfc3339(now);
  return {
    type: 'Progressing',
    status: 'Unknown',
    lastUpdateTime: time,
    lastTransitionTime: time,
    reason: 'DeploymentPaused',
    message: 'Deployment is paused',
  };
}

export class WorkloadControllers {
  readonly #now: () => Date;
  readonly #graceful: boolean;
  readonly #timers: ClusterTimers;
  /** Queues the cluster for another sync (when a pod's minReadySeconds is up). */
  readonly #enqueue: (cluster: ObjectStore) => void;

  constructor(options: {
    now: () => Date;
    graceful: boolean;
    timers: ClusterTimers;
    enqueue: (cluster: ObjectStore) => void;
  }) {
    this.#now = options.now;
    this.#graceful = options.graceful;
    this.#timers = options.timers;
    this.#enqueue = options.enqueue;
  }

  /** Syncs every Deployment, then every ReplicaSet; returns whether one still converges. */
  sync(cluster: ObjectStore): boolean {
    let busy = false;
    const deployments = cluster.list(RESOURCE.deployments);
    for (const deployment of deployments) busy = this.#syncDeployment(cluster, deployment) || busy;
    this.#collect(
      cluster,
      RESOURCE.replicasets,
      'Deployment',
      new Set(deployments.map((d) => d.metadata.uid)),
    );
    const replicaSets = cluster.list(RESOURCE.replicasets);
    for (const rs of replicaSets) busy = this.#syncReplicaSet(cluster, rs) || busy;
    this.#collect(cluster, RESOURCE.pods, 'ReplicaSet', new Set(replicaSets.map((r) => r.metadata.uid)));
    return busy;
  }

  /** Garbage collection: what a controller of `kind` owned, once that owner is gone. */
  #collect(
    cluster: ObjectStore,
    resource: ResourceType,
    kind: string,
    owners: Set<string | undefined>,
  ): void {
    for (const object of cluster.list(resource)) {
      const uid = controllerUid(object, kind);
      if (uid === undefined || owners.has(uid) || object.metadata.deletionTimestamp !== undefined) continue;
      cluster.delete(resource, object.metadata.namespace ?? '', object.metadata.name ?? '', {
        graceful: this.#graceful,
      });
    }
  }

  #event(cluster: ObjectStore, object: KubeObject, reason: string, message: string, component: string): void {
    recordEvent(cluster, object, { type: 'Normal', reason, message, component }, this.#now());
  }

  #scale(
    cluster: ObjectStore,
    deployment: KubeObject,
    rs: KubeObject,
    replicas: number,
    max: number,
  ): KubeObject {
    const from = replicasOf(rs);
    const annotations = {
      ...rs.metadata.annotations,
      [DESIRED]: String(replicasOf(deployment)),
      [MAX]: String(max),
    };
    if (from === replicas && deepEqual(annotations, rs.metadata.annotations)) return rs;
    const updated = cluster.update(
      RESOURCE.replicasets,
      { ...rs, metadata: { ...rs.metadata, annotations }, spec: { ...(rs.spec as JsonObject), replicas } },
      { owned: true, manager: 'kube-controller-manager' },
    );
    if (from !== replicas) {
      this.#event(
        cluster,
        deployment,
        'ScalingReplicaSet',
        `Scaled ${replicas > from ? 'up' : 'down'} replica set ${rs.metadata.name} from ${from} to ${replicas}`,
        'deployment-controller',
      );
    }
    return updated;
  }

  #syncDeployment(cluster: ObjectStore, deployment: KubeObject): boolean {
    const namespace = deployment.metadata.namespace ?? '';
    const spec = deployment.spec as JsonObject;
    const template = spec.template as JsonObject;
    const replicas = replicasOf(deployment);
    const hash = templateHash(template);
    const owned = cluster
      .list(RESOURCE.replicasets, namespace)
      .filter((rs) => ownedBy(rs, deployment.metadata.uid));
    const revisions = owned.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0));
    let current = owned.find((rs) => rs.metadata.labels?.[HASH_LABEL] === hash);
    // Paused (`kubectl rollout pause`): a template change makes no new ReplicaSet; the newest one
    // keeps the replicas, and nothing rolls out until it is resumed.
    const paused = spec.paused === true;
    const stale = paused && current === undefined;
    if (stale) {
      current = [...owned].sort(
        (a, b) =>
          Number(b.metadata.annotations?.[REVISION] ?? 0) - Number(a.metadata.annotations?.[REVISION] ?? 0),
      )[0];
      if (current === undefined) {
        writeStatus(cluster, RESOURCE.deployments, deployment, {
          observedGeneration: deployment.metadata.generation ?? 1,
          conditions: [pausedCondition(deployment, this.#now())],
        });
        return false;
      }
    }
    const old = owned.filter((rs) => rs !== current);
    const strategy = (spec.strategy ?? {}) as JsonObject;
    const recreate = strategy.type === 'Recreate';
    const rolling = (strategy.rollingUpdate ?? {}) as JsonObject;
    const maxSurge = recreate ? 0 : scaled(rolling.maxSurge, replicas, '25%', true);
    const maxUnavailable = recreate ? replicas : scaled(rolling.maxUnavailable, replicas, '25%', false);
    const revision = current?.metadata.annotations?.[REVISION] ?? String(Math.max(0, ...revisions) + 1);

    if (current !== undefined && Number(revision) < Math.max(0, ...revisions)) {
      // Back to an older template: its ReplicaSet becomes the newest revision.
      const next = String(Math.max(...revisions) + 1);
      current = cluster.update(
        RESOURCE.replicasets,
        {
          ...current,
          metadata: {
            ...current.metadata,
            annotations: { ...current.metadata.annotations, [REVISION]: next },
          },
        },
        { owned: true, manager: 'kube-controller-manager' },
      );
    }
    if (current === undefined) {
      const templateMeta = (template.metadata ?? {}) as JsonObject;
      const labels = { ...(templateMeta.labels as Record<string, string>), [HASH_LABEL]: hash };
      const selector = clone((spec.selector ?? {}) as JsonObject);
      selector.matchLabels = { ...(selector.matchLabels as JsonObject | undefined), [HASH_LABEL]: hash };
      current = cluster.create(
        RESOURCE.replicasets,
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: {
            name: `${deployment.metadata.name}-${hash}`,
            namespace,
            labels,
            annotations: {
              [DESIRED]: String(replicas),
              [MAX]: String(replicas + maxSurge),
              [REVISION]: revision,
            },
            ownerReferences: [ownerOf(deployment)],
          },
          spec: {
            replicas: 0,
            minReadySeconds: spec.minReadySeconds ?? 0,
            selector,
            template: { ...clone(template), metadata: { ...clone(templateMeta), labels } },
          },
        },
        { owned: true, manager: 'kube-controller-manager' },
      );
    }

    const podsOf = (rs: KubeObject) =>
      cluster
        .list(RESOURCE.pods, namespace)
        .filter((pod) => ownedBy(pod, rs.metadata.uid) && pod.metadata.deletionTimestamp === undefined);
    const available = (rs: KubeObject) => podsOf(rs).filter((pod) => this.#available(pod, rs)).length;
    const oldReplicas = old.reduce((sum, rs) => sum + replicasOf(rs), 0);
    // Old pods still going (Recreate waits for them).
    const oldPods = old.reduce((sum, rs) => sum + podsOf(rs).length, 0);

    if (paused) {
      current = this.#scale(
        cluster,
        deployment,
        current,
        Math.max(0, replicas - oldReplicas),
        replicas + maxSurge,
      );
    } else if (recreate) {
      for (const rs of old) this.#scale(cluster, deployment, rs, 0, replicas);
      const going = cluster
        .list(RESOURCE.pods, namespace)
        .some((pod) => old.some((rs) => ownedBy(pod, rs.metadata.uid)));
      if (oldPods === 0 && !going) current = this.#scale(cluster, deployment, current, replicas, replicas);
    } else {
      // Scale the new ReplicaSet up within maxSurge…
      const room = replicas + maxSurge - oldReplicas - replicasOf(current);
      if (replicasOf(current) > replicas) {
        current = this.#scale(cluster, deployment, current, replicas, replicas + maxSurge);
      } else if (room > 0) {
        const target = Math.min(replicas, replicasOf(current) + room);
        current = this.#scale(cluster, deployment, current, target, replicas + maxSurge);
      }
      // …and the old ones down within maxUnavailable.
      const minAvailable = replicas - maxUnavailable;
      let spare = available(current) + old.reduce((sum, rs) => sum + available(rs), 0) - minAvailable;
      for (const rs of old.sort((a, b) => available(a) - available(b))) {
        const unhealthy = replicasOf(rs) - available(rs);
        const cut = Math.min(replicasOf(rs), Math.max(0, unhealthy + Math.max(0, spare)));
        if (cut <= 0) continue;
        spare -= Math.max(0, cut - unhealthy);
        this.#scale(cluster, deployment, rs, replicasOf(rs) - cut, replicas + maxSurge);
      }
    }

    // Old ReplicaSets scaled to 0 beyond revisionHistoryLimit go.
    const limit = Number(spec.revisionHistoryLimit ?? 10);
    const idle = cluster
      .list(RESOURCE.replicasets, namespace)
      .filter((rs) => ownedBy(rs, deployment.metadata.uid) && rs !== current && replicasOf(rs) === 0)
      .filter((rs) => podsOf(rs).length === 0)
      .sort(
        (a, b) =>
          Number(a.metadata.annotations?.[REVISION] ?? 0) - Number(b.metadata.annotations?.[REVISION] ?? 0),
      );
    for (const rs of idle.slice(0, Math.max(0, idle.length - limit)))
      cluster.delete(RESOURCE.replicasets, namespace, rs.metadata.name ?? '');

    // Counted from the pods themselves: the ReplicaSets' own status is written after this.
    const all = cluster
      .list(RESOURCE.replicasets, namespace)
      .filter((rs) => ownedBy(rs, deployment.metadata.uid));
    const count = (each: (rs: KubeObject) => number) => all.reduce((sum, rs) => sum + each(rs), 0);
    const total = count((rs) => podsOf(rs).length);
    const ready = count((rs) => podsOf(rs).filter(isReady).length);
    const availableCount = count(available);
    const updated = stale ? 0 : podsOf(current).length;
    const done = updated === replicas && total === replicas && availableCount === replicas;
    const previous = (deployment.status ?? {}) as JsonObject;
    const time = rfc3339(this.#now());
    const keep = (type: string, status: string, reason: string, message: string): JsonObject => {
      const before = ((previous.conditions ?? []) as JsonObject[]).find((c) => c.type === type);
      const same = before?.status === status && before.reason === reason;
      return {
        type,
        status,
        lastUpdateTime: same && before.message === message ? (before.lastUpdateTime ?? time) : time,
        lastTransitionTime: before?.status === status ? (before.lastTransitionTime ?? time) : time,
        reason,
        message,
      };
    };
    const minAvailable = replicas - maxUnavailable;
    const status: JsonObject = {
      observedGeneration: deployment.metadata.generation ?? 1,
      ...(total > 0 ? { replicas: total } : {}),
      ...(updated > 0 ? { updatedReplicas: updated } : {}),
      ...(ready > 0 ? { readyReplicas: ready } : {}),
      ...(availableCount > 0 ? { availableReplicas: availableCount } : {}),
      ...(total - availableCount > 0 ? { unavailableReplicas: total - availableCount } : {}),
      conditions: [
        availableCount >= minAvailable
          ? keep('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.')
          : keep(
              'Available',
              'False',
              'MinimumReplicasUnavailable',
              'Deployment does not have minimum availability.',
            ),
        paused
          ? pausedCondition(deployment, this.#now())
          : done
            ? keep(
                'Progressing',
                'True',
                'NewReplicaSetAvailable',
                `ReplicaSet "${current.metadata.name}" has successfully progressed.`,
              )
            : keep(
                'Progressing',
                'True',
                'ReplicaSetUpdated',
                `ReplicaSet "${current.metadata.name}" is progressing.`,
              ),
      ],
    };
    const annotations = {
      ...deployment.metadata.annotations,
      [REVISION]: current.metadata.annotations?.[REVISION] ?? revision,
    };
    const latest = cluster.get(RESOURCE.deployments, namespace, deployment.metadata.name ?? '');
    if (latest !== undefined && !deepEqual(latest.metadata.annotations, annotations)) {
      cluster.update(
        RESOURCE.deployments,
        { ...latest, metadata: { ...latest.metadata, annotations } },
        { owned: true, manager: 'kube-controller-manager' },
      );
    }
    writeStatus(cluster, RESOURCE.deployments, deployment, status);
    return !paused && (!done || oldReplicas > 0);
  }

  #available(pod: KubeObject, rs: KubeObject): boolean {
    return isAvailable(pod, Number((rs.spec as JsonObject).minReadySeconds ?? 0), this.#now());
  }

  #syncReplicaSet(cluster: ObjectStore, rs: KubeObject): boolean {
    const namespace = rs.metadata.namespace ?? '';
    const spec = rs.spec as JsonObject;
    const replicas = replicasOf(rs);
    const pods = cluster.list(RESOURCE.pods, namespace).filter((pod) => ownedBy(pod, rs.metadata.uid));
    const live = pods.filter((pod) => pod.metadata.deletionTimestamp === undefined);
    if (live.length < replicas) {
      const template = (spec.template ?? {}) as JsonObject;
      const templateMeta = (template.metadata ?? {}) as JsonObject;
      for (let i = live.length; i < replicas; i++) {
        const pod = cluster.create(
          RESOURCE.pods,
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: {
              generateName: `${rs.metadata.name}-`,
              namespace,
              labels: clone((templateMeta.labels ?? {}) as JsonObject) as Record<string, string>,
              ...(templateMeta.annotations === undefined
                ? {}
                : { annotations: clone(templateMeta.annotations as JsonObject) as Record<string, string> }),
              ownerReferences: [ownerOf(rs)],
            },
            spec: clone((template.spec ?? {}) as JsonObject),
          },
          { owned: true, manager: 'kube-controller-manager' },
        );
        live.push(pod);
        this.#event(
          cluster,
          rs,
          'SuccessfulCreate',
          `Created pod: ${pod.metadata.name}`,
          'replicaset-controller',
        );
      }
    } else if (live.length > replicas) {
      // Not ready ones first, then the newest.
      const doomed = [...live]
        .sort(
          (a, b) =>
            Number(isReady(a)) - Number(isReady(b)) ||
            String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp)),
        )
        .slice(0, live.length - replicas);
      for (const pod of doomed) {
        cluster.delete(RESOURCE.pods, namespace, pod.metadata.name ?? '', { graceful: this.#graceful });
        this.#event(
          cluster,
          rs,
          'SuccessfulDelete',
          `Deleted pod: ${pod.metadata.name}`,
          'replicaset-controller',
        );
      }
      live.splice(0, live.length, ...live.filter((pod) => !doomed.includes(pod)));
    }
    const ready = live.filter(isReady).length;
    const availableCount = live.filter((pod) => this.#available(pod, rs)).length;
    const status: JsonObject = {
      replicas: live.length,
      ...(live.length > 0 ? { fullyLabeledReplicas: live.length } : {}),
      ...(ready > 0 ? { readyReplicas: ready } : {}),
      ...(availableCount > 0 ? { availableReplicas: availableCount } : {}),
      observedGeneration: rs.metadata.generation ?? 1,
    };
    const minReadySeconds = Number(spec.minReadySeconds ?? 0);
    if (minReadySeconds > 0 && availableCount < ready) {
      this.#timers.set(cluster, `rs/${rs.metadata.uid}`, minReadySeconds * 1000, () =>
        this.#enqueue(cluster),
      );
    }
    writeStatus(cluster, RESOURCE.replicasets, rs, status);
    return availableCount < replicas || live.length !== replicas || pods.length !== live.length;
  }
}
