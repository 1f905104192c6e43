/**
 * The reconcile loop: claims due clusters from the work queue, runs reconcile passes with bounded
 * concurrency, and releases each claim with the next time to look. It never spins hot: with
 * nothing due it sleeps until woken (in-process work signal, a requeue timer) or the poll period.
 * Shutdown is graceful (stop claiming, let passes finish), then forced after a deadline.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import { BoundedMap } from '../bounded-map.ts';
import type { WorkSignal } from '../clusters/cluster-work.ts';
import type { Database } from '../db/database.ts';
import { KubeError } from './kube/kube-client.ts';
import { Lease, LeaseLostError, leaseGuarded } from './lease.ts';
import {
  type Outcome,
  type ReconcileContext,
  reconcileCluster,
  type Settled,
  settledAt,
  shapeOf,
} from './reconcile-cluster.ts';
import { type Claim, openWorkQueue, type WorkQueue } from './work-queue.ts';

export interface ReconcileLoopOptions {
  /** Passes run at once by this loop. */
  readonly concurrency: number;
  /** How often to look for work that other processes enqueued. */
  readonly pollMs: number;
  /** How often a settled cluster is looked at again (health and drift). */
  readonly resyncMs: number;
  readonly leaseMs: number;
}

/** Clusters whose settled state the loop remembers at most (then it starts over). */
const SETTLED_MAX = 100_000;

/** Retry policy for transient failures, as data: exponential, capped, with full jitter. */
export const RETRY = Object.freeze({ baseMs: 200, maxMs: 30_000 });

export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY.maxMs, RETRY.baseMs * 2 ** Math.min(attempts, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Where passes run: on this thread (the default), or in the reconciler thread (pass-thread.ts). */
/** How a pass ended: its outcome, a failure to retry, or the loss of its lease. */
export type PassOutcome = Outcome['kind'] | 'error' | 'lease-lost';
export type PassListener = (outcome: PassOutcome, seconds: number) => void;

export interface PassRunner {
  /** Runs one pass over `clusterId` with `ctx` (already lease-guarded); `lease` tells when it is lost. */
  run(ctx: ReconcileContext, clusterId: string, lease: Lease): Promise<Outcome>;
  /** Called once the loop has stopped and its passes have ended (or outlived the grace period). */
  close(): Promise<void>;
}

const ON_THIS_THREAD: PassRunner = {
  run: (ctx, clusterId) => reconcileCluster(ctx, clusterId),
  close: async () => {},
};

export class ReconcileLoop {
  readonly #ctx: ReconcileContext;
  readonly #passes: PassRunner;
  readonly #queue: WorkQueue;
  readonly #signal: WorkSignal;
  readonly #options: ReconcileLoopOptions;
  readonly #log: Logger;
  readonly #passesInFlight = new Set<Promise<void>>();
  /** Clusters with a pass in flight. */
  readonly #clustersInFlight = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopping = false;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #passListeners: PassListener[] = [];
  /**
   * Per cluster: where its last pass found it settled (Outcome `done`'s `settled`). Bounded; a
   * cluster not here gets a full pass.
   */
  readonly #settled = new BoundedMap<string, Settled>(SETTLED_MAX);

  constructor(
    database: Database,
    signal: WorkSignal,
    ctx: Omit<ReconcileContext, 'log'>,
    options: ReconcileLoopOptions,
    log: Logger,
    passes: PassRunner = ON_THIS_THREAD,
  ) {
    const owner = `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
    this.#queue = openWorkQueue(database, { owner, leaseMs: options.leaseMs, signal });
    this.#signal = signal;
    this.#log = log.child({ leaseOwner: owner });
    this.#ctx = { ...ctx, log: this.#log };
    this.#options = options;
    this.#passes = passes;
  }

  /** Started and not stopping: what `/readyz` reports. */
  get running(): boolean {
    return this.#running !== undefined && !this.#stopping;
  }

  /** Calls `listener` after every pass with its outcome and duration (for /metrics). */
  onPass(listener: PassListener): void {
    this.#passListeners.push(listener);
  }

  start(): void {
    if (this.#running !== undefined) return;
    this.#signal.on(this.#onWork);
    this.#running = this.#run();
    this.#log.info({ concurrency: this.#options.concurrency }, 'Reconcile loop started');
  }

  /** Stops claiming, waits for passes in flight (up to `graceMs`), then returns. */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#signal.off(this.#onWork);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#wake?.();
    await this.#running;
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.#passesInFlight]), deadline]);
    await this.#passes.close();
    this.#log.info('Reconcile loop stopped');
  }

  readonly #onWork = () => this.#wake?.();

  async #run(): Promise<void> {
    while (!this.#stopping) {
      const free = this.#options.concurrency - this.#passesInFlight.size;
      let claims: Claim[] = [];
      if (free > 0) {
        try {
          claims = await this.#queue.claim(free);
        } catch (error) {
          this.#log.warn({ err: error }, 'Could not claim work');
        }
      }
      for (const claim of claims) this.#spawn(claim);
      if (claims.length === 0 || claims.length === free) await this.#sleep(this.#options.pollMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  #after(ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#wake?.();
    }, ms);
    timer.unref();
    this.#timers.add(timer);
  }

  #spawn(claim: Claim): void {
    // A pass starved past its lease may see its own cluster claimed again by this loop: the
    // claim renewed the lease, the pass in flight carries on, no second pass runs beside it.
    if (this.#clustersInFlight.has(claim.clusterId)) return;
    this.#clustersInFlight.add(claim.clusterId);
    const pass = this.#pass(claim).finally(() => {
      this.#passesInFlight.delete(pass);
      this.#clustersInFlight.delete(claim.clusterId);
      this.#wake?.();
    });
    this.#passesInFlight.add(pass);
  }

  async #pass(claim: Claim): Promise<void> {
    const checked = performance.now();
    if (await this.#stillSettled(claim)) {
      for (const listener of this.#passListeners) listener('done', (performance.now() - checked) / 1000);
      try {
        await this.#queue.release(claim, this.#options.resyncMs);
      } catch (error) {
        this.#log.warn({ err: error, clusterId: claim.clusterId }, 'Could not release the claim');
      }
      return;
    }
    // What this pass finds replaces what the last one found.
    this.#settled.delete(claim.clusterId);
    const reconcileId = crypto.randomBytes(4).toString('hex');
    const log = this.#log.child({ reconcileId, clusterId: claim.clusterId });
    // Long rollouts keep their lease alive. A pass that loses it (it was starved past the lease,
    // and another worker may own the cluster now) stops at its next call: no Kubernetes write,
    // no status.
    const lease = new Lease();
    const ctx = {
      ...this.#ctx,
      log,
      store: leaseGuarded(this.#ctx.store, lease),
      provider: leaseGuarded(this.#ctx.provider, lease),
      kube: leaseGuarded(this.#ctx.kube, lease),
    };
    const renewal = setInterval(() => {
      this.#queue.renew(claim.clusterId).then(
        (held) => {
          if (held || lease.lost) return;
          lease.lose();
          ctx.log.warn('Lost the lease; another worker owns this cluster now: stopping this pass');
        },
        (error: unknown) => ctx.log.warn({ err: error }, 'Could not renew the lease'),
      );
    }, this.#options.leaseMs / 3);
    const started = performance.now();
    let reported = false;
    // Once per pass: a release failing after the outcome is not another outcome.
    const report = (outcome: PassOutcome) => {
      if (reported) return;
      reported = true;
      const seconds = (performance.now() - started) / 1000;
      for (const listener of this.#passListeners) listener(outcome, seconds);
    };
    try {
      const outcome = await this.#outcome(ctx, claim, lease);
      if (outcome.kind === 'done' && outcome.settled !== undefined) {
        this.#settled.set(claim.clusterId, outcome.settled);
      }
      report(outcome.kind);
      // Must not throw past here: a lost release only delays the next pass until the lease expires.
      switch (outcome.kind) {
        case 'gone':
          await this.#queue.forget(claim.clusterId);
          break;
        case 'requeue':
          await this.#queue.release(claim, outcome.afterMs);
          this.#after(outcome.afterMs);
          break;
        default:
          await this.#queue.release(claim, this.#options.resyncMs);
      }
    } catch (error) {
      if (error instanceof LeaseLostError) {
        report('lease-lost');
        return; // the new holder of the lease carries on
      }
      report('error');
      const attempts = claim.attempts + 1;
      const delay = backoffMs(attempts);
      ctx.log.warn({ err: error, attempts, retryInMs: delay }, 'Reconcile failed');
      try {
        await this.#queue.release(claim, delay, attempts);
        this.#after(delay);
      } catch (releaseError) {
        ctx.log.error(
          { err: releaseError },
          'Could not release the claim; it frees itself when the lease expires',
        );
      }
    } finally {
      clearInterval(renewal);
    }
  }

  /**
   * Whether the cluster's pass would find what its last pass found: a settled cluster (READY,
   * applied and healthy, nothing written) at the same generation, whose provider answers the same
   * state stamp (no write through its Kubernetes API since, drift included, and nothing to ensure).
   * Decided here, before a pass is sent anywhere: a settled fleet's resync costs a store read and
   * an ensure answered from memory per cluster, no round trip to the reconciler thread. Anything
   * else (a change, a write, an error here) runs the full pass, which looks again. A change
   * enqueues its generation: a claim of another one needs no read to tell.
   */
  async #stillSettled({ clusterId, generation }: Claim): Promise<boolean> {
    const known = this.#settled.get(clusterId);
    if (known === undefined || known.generation !== generation) return false;
    try {
      const cluster = await this.#ctx.store.get(clusterId);
      if (cluster === undefined || cluster.generation !== known.generation) return false;
      if (settledAt(cluster, known.stamp) === undefined) return false;
      const stamp = await this.#ctx.provider.ensureCluster(shapeOf(cluster));
      if (stamp !== known.stamp) return false;
    } catch {
      return false; // the full pass meets the same failure, and handles it
    }
    return true;
  }

  /**
   * The pass's outcome. A terminal Kubernetes error (401/403, an object refused) is one too, not
   * a failure to retry: retrying cannot help, so the cluster goes to ERROR with the reason and is
   * looked at again after the resync period (or at once, on its next change), like any failed pass.
   */
  async #outcome(ctx: ReconcileContext, claim: Claim, lease: Lease): Promise<Outcome> {
    try {
      return await this.#passes.run(ctx, claim.clusterId, lease);
    } catch (error) {
      if (!(error instanceof KubeError && error.kind === 'terminal')) throw error;
      ctx.log.warn({ err: error, terminal: true }, 'Reconcile failed');
      // Through the pass's lease-guarded store: a pass that lost its lease writes no status.
      await ctx.store.markError(claim.clusterId, error.message);
      return { kind: 'failed', message: error.message };
    }
  }
}
