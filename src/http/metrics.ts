/**
 * `/metrics` in Prometheus' text format (prom-client), one registry per runtime: API requests by
 * route and status with their latency, reconcile passes by outcome with their duration, lease
 * losses, and, read from the database when scraped, clusters by status, drift repairs, and the
 * reconcile queue's depth and oldest due item.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/database.ts';
import type { PassOutcome } from '../reconcile/loop.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #latency: Histogram<'method' | 'route'>;
  readonly #passes: Counter<'outcome'>;
  readonly #passSeconds: Histogram<'outcome'>;
  readonly #leaseLosses: Counter;

  constructor(database: Database) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'mks_http_requests_total',
      help: 'API requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#latency = new Histogram({
      name: 'mks_http_request_duration_seconds',
      help: 'API request latency by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
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
    new Counter({
      name: 'mks_drift_repairs_total',
      help: "Drift repairs recorded (kube-proxy's objects edited in a cluster and restored)",
      registers,
      async collect() {
        const row = await db
          .selectFrom('cluster_history')
          .select(sql<number>`count(*)`.as('count'))
          .where('action', '=', 'drift')
          .executeTakeFirst();
        // Read from the history, which only grows: set as an absolute count.
        this.reset();
        this.inc(Number(row?.count ?? 0));
      },
    });
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

  /** Counts every API request (the route pattern, not the URL: ids do not make new series). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.#requests.inc({ method: request.method, route, status: String(reply.statusCode) });
      this.#latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    });
    app.get('/metrics', { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) =>
      reply.type(this.registry.contentType).send(await this.registry.metrics()),
    );
  }

  /** The emulated clusters in memory now, and their loads and evictions so far (`Emulator.residency`). */
  observeEmulator(residency: () => { loaded: number; loads: number; evictions: number }): void {
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
