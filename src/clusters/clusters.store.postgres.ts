/**
 * The cluster store on PostgreSQL. Several processes write the same rows, so reads always ask the
 * database (the reads of one event-loop turn in one prepared statement, which sends back only the
 * version of a row whose record this process already holds), and a change is one statement (one
 * round trip, one implicit transaction) guarded by optimistic concurrency on the row version (see
 * #update).
 */

import type { Selectable } from 'kysely';
import { BoundedMap } from '../bounded-map.ts';
import type { PostgresDatabase } from '../db/database.ts';
import { TurnBatch } from '../db/postgres-batch.ts';
import type { PostgresQuery, PostgresSql } from '../db/postgres-sql.ts';
import type { ClusterTable } from '../db/schema.ts';
import { enqueueFromSql, type WorkSignal } from './cluster-work.ts';
import type { ClusterRecord } from './clusters.model.ts';
import {
  auditColumns,
  clusterHistory,
  freezeRecord,
  fromRow,
  insertCluster,
  listClusterIds,
  mutableColumns,
} from './clusters.rows.ts';
import type { Actor, ClusterChange, ClusterStore, HistoryRow } from './clusters.store.ts';

/** Optimistic attempts of a change before it takes the row lock instead. */
const OPTIMISTIC_ATTEMPTS = 3;
/** Bound of the row-version memory (it is only a hint: losing an entry costs one full read). */
const MAX_KNOWN = 10_000;

/** A cluster row with its version. */
interface Versioned {
  readonly cluster: ClusterRecord;
  /** PostgreSQL's `xmin` of the row: every committed update of the row changes it. */
  readonly rowVersion: string;
}

export class PostgresClusterStore implements ClusterStore {
  readonly #database: PostgresDatabase;
  readonly #signal: WorkSignal;
  /**
   * The version of each cluster this process last wrote or read, the base of its next change (if
   * another process wrote since, that change's statement returns the current row instead), and the
   * record a read reuses when the row still has that version. Records held are frozen all the way
   * down (`freezeRecord`): callers share them.
   */
  readonly #known = new BoundedMap<string, Versioned>(MAX_KNOWN);
  /** The reads of one event-loop turn, in one statement. */
  readonly #reads = new TurnBatch<string, Versioned>((ids) => this.#readMany(ids));
  /** The tail of each cluster's in-process change queue. */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(database: PostgresDatabase, signal: WorkSignal) {
    this.#database = database;
    this.#signal = signal;
  }

  async insert(cluster: ClusterRecord, actor?: Actor): Promise<void> {
    await insertCluster(this.#database.db, cluster, actor);
    this.#signal.notify();
  }

  /** Always from the database, as of a read sent after the call: other processes write too. */
  async get(id: string): Promise<ClusterRecord | undefined> {
    return (await this.#reads.load(id))?.cluster;
  }

  listIds(projectId: string): Promise<string[]> {
    return listClusterIds(this.#database.db, projectId);
  }

  update(id: string, change: (current: ClusterRecord) => ClusterChange): Promise<ClusterRecord | undefined> {
    return this.#oneAtATime(id, () => this.#update(this.#database.postgresSql, id, change));
  }

  history(id: string): Promise<HistoryRow[]> {
    return clusterHistory(this.#database.db, id);
  }

  /**
   * The change is computed from the version this process last wrote (read
   * first if none), then written by one statement that applies only if the row still has that
   * version (`xmin`, which every committed update of the row changes, whoever makes it): the
   * cluster row, its history row and the reconcile work, or nothing. When another process changed
   * the row meanwhile, the same statement returns the current row instead, and the change is
   * computed again from it. After OPTIMISTIC_ATTEMPTS lost races the change takes the row lock
   * (SELECT … FOR UPDATE), so a hot row shared by many processes still makes progress.
   *
   * Changes of one cluster made by this process run one at a time (#oneAtATime): they would only
   * race each other, and in order each one's base is the version the previous one wrote.
   */
  async #update(
    sql: PostgresSql,
    id: string,
    change: (current: ClusterRecord) => ClusterChange,
  ): Promise<ClusterRecord | undefined> {
    let base = this.#known.get(id);
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      base ??= await this.#reads.load(id);
      if (base === undefined) return undefined;
      const changed = change(base.cluster);
      const outcome = await this.#write(sql, id, base, changed);
      if ('rowVersion' in outcome) {
        if (changed.history !== undefined) this.#signal.notify();
        return changed.next;
      }
      base = outcome.current;
      if (base === undefined) return undefined;
    }
    // Forgotten if the commit fails: the version this transaction wrote may not exist.
    const written = await this.#forgetOnError(id, () =>
      sql.transaction(async (trx) => {
        const current = await this.#readLocked(trx, id);
        if (current === undefined) return undefined;
        const changed = change(current.cluster);
        const outcome = await this.#write(trx, id, current, changed);
        // The row is locked by this transaction: nobody else can have changed it.
        if (!('rowVersion' in outcome)) throw new Error(`Cluster ${id} changed under its row lock`);
        return changed;
      }),
    );
    if (written?.history !== undefined) this.#signal.notify();
    return written?.next;
  }

  /**
   * The rows of `ids` and their versions, as of now, in one statement. A row whose version is the
   * one of the record held for it comes back without its columns, and that record is reused (a row
   * version names one committed content of the row): no row or JSON parsing.
   */
  async #readMany(ids: string[]): Promise<Map<string, Versioned>> {
    const held = new Map(ids.map((id) => [id, this.#known.get(id)]));
    const rows = await this.#database.postgresSql.query<{
      id: string;
      row_version: string;
      row: Selectable<ClusterTable> | null;
    }>('mks_cluster_read_many', READ_MANY_SQL, [
      ids,
      [...held.values()].map((known) => known?.rowVersion ?? null),
    ]);
    const found = new Map<string, Versioned>();
    for (const { id, row_version: rowVersion, row } of rows) {
      const before = held.get(id);
      if (row === null) {
        if (before === undefined) throw new Error(`Cluster ${id} read without its columns`);
        found.set(id, before);
        continue;
      }
      const versioned = { cluster: freezeRecord(fromRow(row)), rowVersion };
      found.set(id, versioned);
      // Unless a change of this process remembered another version meanwhile.
      if (this.#known.get(id) === before) this.#remember(versioned);
    }
    return found;
  }

  /** The row and its version, locked by the transaction `sql` until it ends. */
  async #readLocked(sql: PostgresQuery, id: string): Promise<Versioned | undefined> {
    const rows = await sql.query<{ row_version: string; row: Selectable<ClusterTable> }>(
      'mks_cluster_read_locked',
      READ_LOCKED_SQL,
      [id],
    );
    const row = rows[0];
    return row === undefined
      ? undefined
      : { cluster: freezeRecord(fromRow(row.row)), rowVersion: row.row_version };
  }

  /**
   * Writes `next` if the row still has the version of `base`: its new version then; otherwise the
   * current row (undefined if there is none), and nothing was written.
   */
  async #write(
    sql: PostgresQuery,
    id: string,
    base: Versioned,
    change: ClusterChange,
  ): Promise<{ rowVersion: string } | { current: Versioned | undefined }> {
    const { next, history, outcome } = change;
    const row = mutableColumns(next);
    const values: unknown[] = [id, base.rowVersion, ...MUTABLE_COLUMNS.map((column) => row[column])];
    if (history !== undefined) {
      const audit = auditColumns(change);
      values.push(history, Date.now(), ...AUDIT_COLUMNS.map(([column]) => audit[column]));
    }
    if (outcome !== undefined) values.push(outcome.status, outcome.message, outcome.at, outcome.generation);
    const statement = changeStatement(history !== undefined, outcome !== undefined);
    const rows = await this.#forgetOnError(id, () =>
      sql.query<{ row_version: string; current: Selectable<ClusterTable> | null }>(
        statement.name,
        statement.text,
        values,
      ),
    );
    const result = rows[0];
    if (result === undefined) {
      this.#known.delete(id);
      return { current: undefined };
    }
    if (result.current === null) {
      this.#remember({ cluster: freezeRecord(next, base.cluster), rowVersion: result.row_version });
      return { rowVersion: result.row_version };
    }
    const current = { cluster: freezeRecord(fromRow(result.current)), rowVersion: result.row_version };
    this.#remember(current);
    return { current };
  }

  #remember(versioned: Versioned): void {
    this.#known.set(versioned.cluster.id, versioned);
  }

  /** A failed statement may or may not have committed: the known version is no longer trusted. */
  async #forgetOnError<T>(id: string, statement: () => Promise<T>): Promise<T> {
    try {
      return await statement();
    } catch (error) {
      this.#known.delete(id);
      throw error;
    }
  }

  /** Runs `work` after every earlier call for the same cluster has settled. */
  #oneAtATime<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id);
    const run = previous === undefined ? work() : previous.then(work);
    const tail = run.then(
      () => {},
      () => {},
    );
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return run;
  }
}

/** The columns a PostgreSQL change writes, in the order of its parameters $3, $4, … */
const MUTABLE_COLUMNS = [
  'name',
  'region',
  'version',
  'update_policy',
  'kube_proxy_mode',
  'customization',
  'node_count',
  'node_pools',
  'ip_restrictions',
  'open_id_connect',
  'plan',
  'private_network_id',
  'nodes_subnet_id',
  'load_balancers_subnet_id',
  'private_network_configuration',
  'status',
  'status_message',
  'generation',
  'observed_generation',
  'restart_generation',
  'token_epoch',
  'updated_at',
  'deleted_at',
] as const satisfies ReadonlyArray<keyof ReturnType<typeof mutableColumns>>;

const READ_MANY_SQL =
  'select k."id", c."xmin"::text as "row_version", ' +
  'case when c."xmin"::text = k."known" then null else row_to_json(c) end as "row" ' +
  'from unnest($1::text[], $2::text[]) as k("id", "known") join "clusters" c on c."id" = k."id"';
const READ_LOCKED_SQL =
  'select "xmin"::text as "row_version", row_to_json("clusters") as "row" from "clusters" where "id" = $1 for update';

/**
 * One statement, so one implicit transaction: the row update if the row version is still $2, and
 * with it (data-modifying CTEs reading the updated row) the history row and the reconcile work.
 * It returns the new row version, or, when the update did not apply, the current row.
 */
function changeSql(withHistory: boolean, withOutcome: boolean): string {
  const assignments = MUTABLE_COLUMNS.map((column, index) => `"${column}" = $${index + 3}`).join(', ');
  let next = MUTABLE_COLUMNS.length + 3;
  const parts = [
    `with "changed" as (update "clusters" set ${assignments} where "id" = $1 and "xmin" = $2::xid ` +
      'returning "xmin"::text as "row_version", "id", "generation", "kube_proxy_mode", "version", "customization", "updated_at")',
  ];
  if (withHistory) {
    const action = `$${next++}::text`;
    const notBefore = `$${next++}::bigint`;
    // The audit columns, bound in auditColumns' order (clusters.rows.ts).
    const audit = AUDIT_COLUMNS.map(([, type]) => `$${next++}::${type}`).join(', ');
    parts.push(
      `"history" as (insert into "cluster_history" ("cluster_id", "generation", "action", "kube_proxy_mode", "version", "customization", "created_at", ${AUDIT_COLUMNS.map(([column]) => `"${column}"`).join(', ')}) ` +
        `select "id", "generation", ${action}, "kube_proxy_mode", "version", "customization", "updated_at", ${audit} from "changed")`,
      `"work" as (${enqueueFromSql('"changed"', notBefore)})`,
    );
  }
  if (withOutcome) {
    const [status, message, at, generation] = [0, 1, 2, 3].map((offset) => `$${next + offset}`);
    // On the generation's history row, unless it already says so (a resync finding the cluster
    // as it was writes nothing), and only if the cluster row itself was written.
    parts.push(
      `"outcome" as (update "cluster_history" set "outcome" = ${status}::text, "outcome_message" = ${message}::text, "outcome_at" = ${at}::text ` +
        `where "cluster_id" = $1 and "generation" = ${generation}::integer and "action" not in ('delete', 'drift', 'rollback') and exists (select from "changed") ` +
        `and ("outcome" is distinct from ${status}::text or "outcome_message" is distinct from ${message}::text))`,
    );
  }
  return (
    `${parts.join(', ')} select "row_version", null::json as "current" from "changed" union all ` +
    'select "xmin"::text, row_to_json("clusters") from "clusters" where "id" = $1 and not exists (select from "changed")'
  );
}

const AUDIT_COLUMNS = [
  ['application_id', 'integer'],
  ['credential_id', 'integer'],
  ['source_ip', 'text'],
  ['query_id', 'text'],
  ['source_generation', 'integer'],
  ['note', 'text'],
] as const satisfies ReadonlyArray<readonly [keyof ReturnType<typeof auditColumns>, string]>;

/** The change statement: whether it appends a history row, whether it records an outcome. */
function changeStatement(
  history: boolean,
  outcome: boolean,
): { readonly name: string; readonly text: string } {
  return CHANGE_STATEMENTS[(history ? 2 : 0) + (outcome ? 1 : 0)]!;
}
const CHANGE_STATEMENTS = [false, true].flatMap((history) =>
  [false, true].map((outcome) => ({
    name: `mks_cluster_change${history ? '_history' : ''}${outcome ? '_outcome' : ''}`,
    text: changeSql(history, outcome),
  })),
);
