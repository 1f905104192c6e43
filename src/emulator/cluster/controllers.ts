/**
 * The loop that runs a cluster's moving parts: what every namespace gets (namespace-controller.ts),
 * the scheduler (scheduler.ts), the DaemonSet controller (daemonset-controller.ts), the Deployment
 * and ReplicaSet controllers (deployment-controller.ts) and the kubelet (kubelet.ts). Driven by
 * changes (a cluster is queued when one of its namespaces, pods, nodes, DaemonSets, Deployments,
 * ReplicaSets or kube-system ConfigMaps changes, or a namespace's default objects) and by per-pod
 * timers; nothing polls.
 */
import type { Logger } from 'pino';
import type { ChangeEvent, ObjectStore } from '../apiserver/object-store.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { DaemonSetController } from './daemonset-controller.ts';
import { WorkloadControllers } from './deployment-controller.ts';
import { Kubelet } from './kubelet.ts';
import { concernsNamespaces, syncNamespaces } from './namespace-controller.ts';
import { schedulePods } from './scheduler.ts';
import { ClusterTimers } from './timers.ts';

export interface ControllerOptions {
  readonly logger: Logger;
  readonly podStartMs: number;
  readonly now: () => Date;
  /** The cluster's CA, published in every namespace (`kube-root-ca.crt`). */
  readonly caPem: string;
}

export class Controllers {
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #caPem: string;
  readonly #timers: ClusterTimers;
  readonly #daemonSets: DaemonSetController;
  readonly #workloads: WorkloadControllers;
  readonly #kubelet: Kubelet;
  readonly #queue = new Set<ObjectStore>();
  #scheduled = false;
  #running = false;
  /** The cluster being synced: its changes meanwhile are the controllers' own. */
  #syncing: ObjectStore | undefined;
  /**
   * Clusters whose namespaces have what every namespace gets since their last sync, and no change
   * of a namespace or of those objects came after it: their next syncs skip the namespace
   * controller (it looked each namespace's three objects up in every sync of a rollout).
   */
  readonly #namespacesSynced = new WeakSet<ObjectStore>();

  constructor(options: ControllerOptions) {
    this.#logger = options.logger;
    this.#now = options.now;
    this.#caPem = options.caPem;
    this.#timers = new ClusterTimers(options.logger);
    // Containers stop as fast as they start: the one timing knob (0 for benchmarks: at once).
    const podStopMs = options.podStartMs;
    this.#daemonSets = new DaemonSetController({
      now: options.now,
      timers: this.#timers,
      enqueue: (cluster) => this.enqueue(cluster),
      graceful: podStopMs > 0,
    });
    this.#workloads = new WorkloadControllers({
      now: options.now,
      graceful: podStopMs > 0,
      timers: this.#timers,
      enqueue: (cluster) => this.enqueue(cluster),
    });
    this.#kubelet = new Kubelet({ ...options, podStopMs, timers: this.#timers });
  }

  start(): void {
    this.#running = true;
    this.#timers.start();
    if (this.#queue.size > 0) this.#schedule();
  }

  stop(): void {
    this.#running = false;
    this.#timers.stop();
  }

  forget(clusterId: string): void {
    this.#timers.forget(clusterId);
    for (const cluster of this.#queue) if (cluster.meta.id === clusterId) this.#queue.delete(cluster);
  }

  /** Called for every change in a cluster. */
  onChange(cluster: ObjectStore, event: ChangeEvent): void {
    // A sync runs the controllers to a fixpoint: syncing again for its own writes would change nothing.
    if (cluster === this.#syncing) return;
    const resource = event.resource;
    if (concernsNamespaces(event)) {
      this.#namespacesSynced.delete(cluster);
      this.enqueue(cluster);
    } else if (
      resource === RESOURCE.pods ||
      resource === RESOURCE.nodes ||
      resource === RESOURCE.daemonsets ||
      resource === RESOURCE.deployments ||
      resource === RESOURCE.replicasets ||
      (resource === RESOURCE.configmaps && event.object.metadata.namespace === 'kube-system')
    ) {
      this.enqueue(cluster);
    }
  }

  /**
   * Whether the cluster's namespaces have had what every namespace gets since its last sync,
   * with no change of them after it (recorded when the cluster leaves memory).
   */
  namespacesSynced(cluster: ObjectStore): boolean {
    return this.#namespacesSynced.has(cluster);
  }

  /**
   * A cluster loaded again as it left memory, settled, when its namespaces were synced then
   * (emulator.ts `#load`): its next sync skips the namespace controller, as it would have before
   * it left (its namespaces' objects then stay text until something else reads them).
   */
  loadedSynced(cluster: ObjectStore): void {
    this.#namespacesSynced.add(cluster);
  }

  /** Whether the controllers have nothing queued or timed for the cluster. */
  idle(cluster: ObjectStore): boolean {
    return !this.#queue.has(cluster) && !this.#timers.any(cluster.meta.id);
  }

  enqueue(cluster: ObjectStore): void {
    this.#queue.add(cluster);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || !this.#running) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#running) return;
      // Syncing may queue the same cluster again (its own writes): that runs in the next turn.
      const batch = [...this.#queue];
      this.#queue.clear();
      for (const cluster of batch) {
        if (cluster.destroyed) continue;
        try {
          this.sync(cluster);
        } catch (error) {
          this.#logger.error({ err: error, clusterId: cluster.meta.id }, 'Emulated controllers failed');
        }
      }
    });
  }

  /**
   * Runs every controller once over a cluster (also used synchronously at install). A sync leaves
   * nothing for an immediate second one to do, so the changes it makes queue no further sync.
   */
  sync(cluster: ObjectStore): void {
    const outer = this.#syncing;
    this.#syncing = cluster;
    try {
      if (!this.#namespacesSynced.has(cluster)) {
        syncNamespaces(cluster, this.#caPem);
        this.#namespacesSynced.add(cluster);
      }
      let busy = this.#daemonSets.sync(cluster);
      busy = this.#workloads.sync(cluster) || busy;
      busy = schedulePods(cluster, this.#now()) || busy;
      busy = this.#kubelet.sync(cluster) || busy;
      cluster.setBusy(busy);
    } finally {
      this.#syncing = outer;
    }
  }

  /** Starts every pending pod now (a cluster is installed with its pods already running). */
  startPendingNow(cluster: ObjectStore): void {
    this.#kubelet.startPendingNow(cluster);
  }
}
