/**
 * The one-shot timers of a cluster's controllers (a container start, a crash-loop restart, the
 * end of a DaemonSet's minReadySeconds), keyed per cluster so a cluster that is erased, destroyed
 * or moved to another process drops its own.
 */
import type { Logger } from 'pino';
import type { ObjectStore } from '../apiserver/object-store.ts';

export class ClusterTimers {
  readonly #logger: Logger;
  /** clusterId → key → timer. */
  readonly #timers = new Map<string, Map<string, NodeJS.Timeout>>();
  #running = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  start(): void {
    this.#running = true;
  }

  stop(): void {
    this.#running = false;
    for (const byKey of this.#timers.values()) for (const timer of byKey.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  forget(clusterId: string): void {
    for (const timer of this.#timers.get(clusterId)?.values() ?? []) clearTimeout(timer);
    this.#timers.delete(clusterId);
  }

  /** Whether the cluster has a timer set. */
  any(clusterId: string): boolean {
    return this.#timers.has(clusterId);
  }

  has(cluster: ObjectStore, key: string): boolean {
    return this.#timers.get(cluster.meta.id)?.has(key) === true;
  }

  /** Runs `run` after `ms` unless a timer with this key is already set for the cluster. */
  set(cluster: ObjectStore, key: string, ms: number, run: () => void): void {
    let byKey = this.#timers.get(cluster.meta.id);
    if (byKey === undefined) {
      byKey = new Map();
      this.#timers.set(cluster.meta.id, byKey);
    }
    if (byKey.has(key)) return;
    const timer = setTimeout(() => {
      byKey.delete(key);
      if (byKey.size === 0 && this.#timers.get(cluster.meta.id) === byKey)
        this.#timers.delete(cluster.meta.id);
      if (!this.#running || cluster.destroyed) return;
      try {
        run();
      } catch (error) {
        this.#logger.error({ err: error, clusterId: cluster.meta.id }, 'Emulated kubelet failed');
      }
    }, ms);
    byKey.set(key, timer);
  }
}
