/**
 * `/metrics` in Prometheus' text format (prom-client), one registry per runtime: API requests by
 * route and status with their latency, reconcile passes by outcome with their duration, lease
 * losses, rollouts by outcome with their duration, and, read from the database when scraped,
 * clusters by status, drift repairs, rollbacks, and the reconcile queue's depth and oldest due item.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database.ts';
import type { PassOutcome } from '../reconcile/loop.ts';
import type { RolloutEnd } from '../reconcile/reconcile-store.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly #requests = new RequestTallies();
  /** API requests answered so far (what the memory compaction reads as activity, src/memory/). */
  #answered = 0;
  readonly #passes: Counter<'outcome'>;
  readonly #passSeconds: Histogram<'outcome'>;
  readonly #leaseLosses: Counter;
  readonly #rolloutSeconds: Histogram<'outcome'>;

  constructor(database: Database) {
    const registers = [this.registry];
    this.registry.registerMetric(this.#requests.counter() as unknown as Counter);
    this.registry.registerMetric(this.#requests.histogram() as unknown as Histogram);
    this.#passes = new Counter({
      name: 'mks_reconcile_passes_total',
      help: 'Reconcile passes by outcome (done, requeue, gone, failed, error, lease-lost)',
      labelNames: ['outcome'],
      registers,
    });
    this.#passSeconds = new Histogram({
      name: 'mks_reconcile_pass_duration_seconds',
      help: 'Reconcile pass duration by outcome',
      labelNames: ['outcome'],
      buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#leaseLosses = new Counter({
      name: 'mks_reconcile_lease_losses_total',
      help: 'Reconcile passes stopped because another worker took their lease',
      registers,
    });
    this.#rolloutSeconds = new Histogram({
      name: 'mks_rollout_duration_seconds',
      help: "From a change to its generation's outcome (READY, ERROR, rolled-back), by outcome",
      labelNames: ['outcome'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    const db = database.db;
    new Gauge({
      name: 'mks_clusters',
      help: 'Live clusters by status',
      labelNames: ['status'],
      registers,
      async collect() {
        const rows = await db
          .selectFrom('clusters')
          .select(['status', sql<number>`count(*)`.as('count')])
          .where('deleted_at', 'is', null)
          .groupBy('status')
          .execute();
        this.reset();
        for (const row of rows) this.set({ status: row.status }, Number(row.count));
      },
    });
    const historyCounter = (name: string, help: string, action: 'drift' | 'rollback') =>
      new Counter({
        name,
        help,
        registers,
        async collect() {
          const row = await db
            .selectFrom('cluster_history')
            .select(sql<number>`count(*)`.as('count'))
            .where('action', '=', action)
            .executeTakeFirst();
          // Read from the history, which only grows: set as an absolute count.
          this.reset();
          this.inc(Number(row?.count ?? 0));
        },
      });
    historyCounter(
      'mks_drift_repairs_total',
      "Drift repairs recorded (kube-proxy's objects edited in a cluster and restored)",
      'drift',
    );
    historyCounter(
      'mks_rollbacks_total',
      'Rollouts rolled back (kube-proxy failed on a node; the nodes changed went back to the last healthy config)',
      'rollback',
    );
    new Gauge({
      name: 'mks_reconcile_queue_depth',
      help: 'Clusters due for a reconcile pass and not being reconciled',
      registers,
      async collect() {
        this.set((await dueWork(db)).count);
      },
    });
    new Gauge({
      name: 'mks_reconcile_queue_oldest_seconds',
      help: 'How long the oldest cluster due for a pass has waited (0 when none waits)',
      registers,
      async collect() {
        const { oldest } = await dueWork(db);
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
      },
    });
  }

  /**
   * Counts a finished API request (the route pattern, not the URL: ids do not make new series).
   * Called by the API's log controller when fastify reports the answer complete (app.ts), where an
   * `onResponse` hook would add a hook phase to every request (docs/performance.md).
   */
  readonly countRequest = (request: FastifyRequest, reply: FastifyReply): void => {
    this.#answered += 1;
    this.#requests.count(
      request.method,
      // Set by the route's admission hook; `routeOptions` (a new object per read) only for
      // requests refused before it ran.
      request.routeUrl ?? request.routeOptions.url ?? 'unmatched',
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
  };

  /** API requests answered since the process started. */
  readonly answered = (): number => this.#answered;

  /** Serves `/metrics` on the API. */
  instrument(app: FastifyInstance): void {
    app.get('/metrics', { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) =>
      reply.type(this.registry.contentType).send(await this.registry.metrics()),
    );
  }

  /** A generation's rollout ended (the reconciler's store port, reconcile-store.ts). */
  readonly observeRollout: RolloutEnd = (outcome, seconds) => {
    this.#rolloutSeconds.observe({ outcome }, seconds);
  };

  /**
   * The emulated clusters in memory now, their loads and evictions so far, and the loads of the
   * Events their loads left in the store (`Emulator.residency`).
   */
  observeEmulator(
    residency: () => { loaded: number; loads: number; evictions: number; eventLoads: number },
  ): void {
    const registers = [this.registry];
    new Gauge({
      name: 'mks_emulator_clusters_loaded',
      help: 'Emulated clusters in memory (idle ones leave it and load again on demand)',
      registers,
      collect() {
        this.set(residency().loaded);
      },
    });
    new Counter({
      name: 'mks_emulator_cluster_loads_total',
      help: 'Emulated clusters loaded from the store (first use, or again after leaving memory)',
      registers,
      collect() {
        this.reset();
        this.inc(residency().loads);
      },
    });
    new Counter({
      name: 'mks_emulator_cluster_evictions_total',
      help: 'Idle emulated clusters that left memory',
      registers,
      collect() {
        this.reset();
        this.inc(residency().evictions);
      },
    });
    new Counter({
      name: 'mks_emulator_event_loads_total',
      help: "Loads of the Events an emulated cluster's load left in the store, for a call that reads Events",
      registers,
      collect() {
        this.reset();
        this.inc(residency().eventLoads);
      },
    });
  }

  /** A reconcile pass ended (ReconcileLoop.onPass). */
  readonly observePass = (outcome: PassOutcome, seconds: number): void => {
    this.#passes.inc({ outcome });
    this.#passSeconds.observe({ outcome }, seconds);
    if (outcome === 'lease-lost') this.#leaseLosses.inc();
  };
}

/** Due work not leased: its count and the oldest due time (epoch ms). */
async function dueWork(db: Database['db']): Promise<{ count: number; oldest: number | null }> {
  const now = Date.now();
  const row = await db
    .selectFrom('reconcile_work')
    .select([sql<number>`count(*)`.as('count'), sql<number | null>`min(not_before)`.as('oldest')])
    .where('not_before', '<=', now)
    .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
    .executeTakeFirst();
  return {
    count: Number(row?.count ?? 0),
    oldest: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
  };
}

const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** One method and route pattern: its answers by status and its latency histogram. */
interface RouteTally {
  readonly labels: { readonly method: string; readonly route: string };
  readonly statuses: Map<number, number>;
  /** Observations per bucket (REQUEST_BUCKETS, then +Inf), not cumulative. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/**
 * The API request metrics, counted in plain per-route records and rendered when scraped: with
 * prom-client's own Counter and Histogram every request hashed its labels twice, a measurable
 * share of a signed GET (docs/performance.md). The series and their text are prom-client's:
 * `mks_http_requests_total{method,route,status}` and the histogram
 * `mks_http_request_duration_seconds{method,route}`. Routes are patterns, so the records are
 * bounded by the routes.
 */
class RequestTallies {
  readonly #byRoute = new Map<string, Map<string, RouteTally>>();

  count(method: string, route: string, status: number, seconds: number): void {
    let methods = this.#byRoute.get(route);
    if (methods === undefined) {
      methods = new Map();
      this.#byRoute.set(route, methods);
    }
    let tally = methods.get(method);
    if (tally === undefined) {
      tally = {
        labels: { method, route },
        statuses: new Map(),
        buckets: new Array<number>(REQUEST_BUCKETS.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      methods.set(method, tally);
    }
    tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < REQUEST_BUCKETS.length && seconds > REQUEST_BUCKETS[bucket]!) bucket++;
    tally.buckets[bucket]! += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  *#tallies(): Generator<RouteTally> {
    for (const methods of this.#byRoute.values()) yield* methods.values();
  }

  /** prom-client's metric interface (what a Registry reads), for the request counter. */
  counter() {
    const name = 'mks_http_requests_total';
    const help = 'API requests by method, route pattern and status';
    return {
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      reset: () => this.#byRoute.clear(),
      get: async () => {
        const values = [];
        for (const tally of this.#tallies()) {
          for (const [status, value] of tally.statuses) {
            values.push({ labels: { ...tally.labels, status: String(status) }, value });
          }
        }
        return { name, help, type: 'counter', aggregator: 'sum', values };
      },
    };
  }

  /** prom-client's metric interface, for the latency histogram. */
  histogram() {
    const name = 'mks_http_request_duration_seconds';
    const help = 'API request latency by method and route pattern';
    return {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      reset: () => this.#byRoute.clear(),
      get: async () => {
        const values = [];
        for (const tally of this.#tallies()) {
          let cumulative = 0;
          for (const [index, bound] of [...REQUEST_BUCKETS, '+Inf' as const].entries()) {
            cumulative += tally.buckets[index]!;
            values.push({
              labels: { le: bound, ...tally.labels },
              value: cumulative,
              metricName: `${name}_bucket`,
            });
          }
          values.push({ labels: tally.labels, value: tally.sum, metricName: `${name}_sum` });
          values.push({ labels: tally.labels, value: tally.count, metricName: `${name}_count` });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
  }
}
