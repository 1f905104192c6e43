/**
 * Emulated clusters' ownership on PostgreSQL (scale-out): a lease per cluster in `emulator_owners`
 * (owner, internal URL, expiry on the database's clock), claimed on first use, renewed while the
 * process lives, fenced in every commit, adopted by a live process once expired.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import { type Kysely, type QueryExecutorProvider, sql } from 'kysely';
import type { Database } from '../../db/database.ts';
import type { Schema } from '../../db/schema.ts';
import type { Ownership, OwnershipHooks, Route } from './ownership.ts';

/** Epoch milliseconds on the database's clock: every process compares expiries on one clock. */
const NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
const ADOPT_BATCH = 100;

export interface LeaseOwnershipOptions {
  /** This process's Kubernetes API address as other mks processes reach it. */
  readonly url: string;
  /** How long a lease outlives its last renewal. */
  readonly leaseMs: number;
  readonly onError: (error: unknown, what: string) => void;
}

/** Scale-out on PostgreSQL: leases in `emulator_owners`. */
export class LeaseOwnership implements Ownership {
  readonly id = `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
  readonly shared = true;
  readonly #db: Kysely<Schema>;
  readonly #options: LeaseOwnershipOptions;
  readonly #held = new Set<string>();
  /** Other owners, as last read, until `until` (Date.now()). */
  readonly #remote = new Map<string, { url: string; until: number }>();
  #hooks: OwnershipHooks | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #lastRenewal = Date.now();

  constructor(database: Database, options: LeaseOwnershipOptions) {
    this.#db = database.db;
    this.#options = options;
  }

  async route(clusterId: string, options: { fresh?: boolean } = {}): Promise<Route> {
    if (this.#held.has(clusterId)) return { local: true };
    const cached = this.#remote.get(clusterId);
    if (options.fresh !== true && cached !== undefined && cached.until > Date.now())
      return { local: false, url: cached.url };
    const claimed = await sql<{ owner: string }>`
      insert into emulator_owners (cluster_id, owner, url, expires_at)
      values (${clusterId}, ${this.id}, ${this.#options.url}, ${NOW_MS} + ${this.#options.leaseMs})
      on conflict (cluster_id) do update
        set owner = excluded.owner, url = excluded.url, expires_at = excluded.expires_at
        where emulator_owners.owner = excluded.owner or emulator_owners.expires_at < ${NOW_MS}
      returning owner`.execute(this.#db);
    if (claimed.rows.length === 1) {
      this.#held.add(clusterId);
      this.#remote.delete(clusterId);
      return { local: true };
    }
    const owner = await sql<{ url: string; remaining: number | string }>`
      select url, expires_at - ${NOW_MS} as remaining from emulator_owners
      where cluster_id = ${clusterId}`.execute(this.#db);
    const row = owner.rows[0];
    // Released between the two statements: claim again.
    if (row === undefined) return this.route(clusterId, { fresh: true });
    const remaining = Math.max(0, Math.min(Number(row.remaining), this.#options.leaseMs));
    this.#remote.set(clusterId, { url: row.url, until: Date.now() + remaining });
    return { local: false, url: row.url };
  }

  async release(clusterId: string): Promise<void> {
    this.#held.delete(clusterId);
    this.#remote.delete(clusterId);
    await this.#db
      .deleteFrom('emulator_owners')
      .where('cluster_id', '=', clusterId)
      .where('owner', '=', this.id)
      .execute();
  }

  async fence(trx: QueryExecutorProvider, clusterIds: readonly string[]): Promise<Set<string>> {
    if (clusterIds.length === 0) return new Set();
    const rows = await sql<{ cluster_id: string }>`
      select cluster_id from emulator_owners
      where owner = ${this.id} and cluster_id in (${sql.join(clusterIds)})
      for share`.execute(trx);
    const owned = new Set(rows.rows.map((row) => row.cluster_id));
    const lost = clusterIds.filter((id) => !owned.has(id));
    if (lost.length > 0) this.#lose(lost);
    return owned;
  }

  start(hooks: OwnershipHooks): void {
    this.#hooks = hooks;
    this.#lastRenewal = Date.now();
    const period = Math.max(100, Math.floor(this.#options.leaseMs / 3));
    this.#timer = setInterval(() => {
      if (this.#tick !== undefined) return;
      this.#tick = this.#renewAndAdopt().finally(() => {
        this.#tick = undefined;
      });
    }, period);
    this.#timer.unref();
    // Clusters left with work in flight by a process that is gone are adopted at once.
    this.#tick = this.#adopt()
      .catch((error: unknown) => this.#options.onError(error, 'adopt'))
      .finally(() => {
        this.#tick = undefined;
      });
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    // Hand the clusters over now rather than after the lease expires.
    const held = [...this.#held];
    this.#held.clear();
    if (held.length > 0) {
      await this.#db
        .deleteFrom('emulator_owners')
        .where('owner', '=', this.id)
        .execute()
        .catch((error: unknown) => this.#options.onError(error, 'release'));
    }
  }

  async #renewAndAdopt(): Promise<void> {
    // Only clusters held before the renewal started can be missing from its answer for real: one
    // claimed meanwhile may have committed after the renewal's snapshot.
    const before = [...this.#held];
    try {
      const renewed = await sql<{ cluster_id: string }>`
        update emulator_owners set expires_at = ${NOW_MS} + ${this.#options.leaseMs}
        where owner = ${this.id} returning cluster_id`.execute(this.#db);
      this.#lastRenewal = Date.now();
      const still = new Set(renewed.rows.map((row) => row.cluster_id));
      const lost = before.filter((id) => !still.has(id));
      if (lost.length > 0) this.#lose(lost);
    } catch (error) {
      this.#options.onError(error, 'renew');
      // Unable to renew for a whole lease: another process may own our clusters by now.
      if (Date.now() - this.#lastRenewal >= this.#options.leaseMs) this.#lose([...this.#held]);
      return;
    }
    await this.#adopt().catch((error: unknown) => this.#options.onError(error, 'adopt'));
  }

  async #adopt(): Promise<void> {
    const orphans = await sql<{ id: string }>`
      select c.id from emulator_clusters c
      left join emulator_owners o on o.cluster_id = c.id
      where c.busy = 1 and (o.cluster_id is null or o.expires_at < ${NOW_MS})
      limit ${ADOPT_BATCH}`.execute(this.#db);
    const adopted: string[] = [];
    for (const { id } of orphans.rows) {
      if ((await this.route(id, { fresh: true })).local) adopted.push(id);
    }
    if (adopted.length > 0) this.#hooks?.adopt(adopted);
  }

  #lose(clusterIds: readonly string[]): void {
    for (const id of clusterIds) this.#held.delete(id);
    this.#hooks?.lost(clusterIds);
  }
}
