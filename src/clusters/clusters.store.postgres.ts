/**
 * The cluster store on PostgreSQL. Several processes write the same rows, so reads always ask the
 * database (the reads of one event-loop turn in one prepared statement, which sends back only the
 * version of a row whose record this process already holds), and a change is one statement (one
 * round trip, one implicit transaction) guarded by optimistic concurrency on the row version (see
 * #update).
 */

import type { Selectable } from 'kysely';
import pg from 'pg';
import { BoundedMap } from '../bounded-map.ts';
import { isDatabaseUnavailable, type PostgresDatabase } from '../db/database.ts';
import { TurnBatch } from '../db/postgres-batch.ts';
import type { PostgresQuery } from '../db/postgres-sql.ts';
import type { ClusterTable } from '../db/schema.ts';
import { enqueueFromSql, type WorkSignal } from './cluster-work.ts';
import type { ClusterRecord } from './clusters.model.ts';
import {
  changedColumns,
  clusterHistory,
  freezeRecord,
  fromRow,
  historyRow,
  insertCluster,
  listClusterIds,
  type MutableColumns,
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

/** Most changes of one cluster one statement writes. */
const MAX_GROUP = 64;

/** A change asked of the store, and how to answer it. */
interface WaitingChange {
  readonly change: (current: ClusterRecord) => ClusterChange;
  resolve(record: ClusterRecord | undefined): void;
  reject(error: unknown): void;
}

/** A change computed from the record before it. */
interface ComputedChange {
  readonly waiting: WaitingChange;
  readonly changed: ClusterChange;
}

/** A group of changes computed in order: those to write, those refused, those left for later. */
interface Composed {
  readonly written: ComputedChange[];
  readonly refused: { readonly waiting: WaitingChange; readonly error: unknown }[];
  readonly left: WaitingChange[];
}

/**
 * Computes the changes of `group` in order from `base`, each from the record the one before made.
 * A change that throws is refused and the next one computed from the same record. A change that
 * records an outcome ends the group, and starts it if it is not the first written (see
 * #writeGroup).
 */
function compose(base: ClusterRecord, group: readonly WaitingChange[]): Composed {
  const written: ComputedChange[] = [];
  const refused: Composed['refused'] = [];
  let current = base;
  for (const [index, waiting] of group.entries()) {
    let changed: ClusterChange;
    try {
      changed = waiting.change(current);
    } catch (error) {
      refused.push({ waiting, error });
      continue;
    }
    if (changed.outcome !== undefined && written.length > 0)
      return { written, refused, left: group.slice(index) };
    written.push({ waiting, changed });
    current = changed.next;
    if (changed.outcome !== undefined) return { written, refused, left: group.slice(index + 1) };
  }
  return { written, refused, left: [] };
}

/** Answers a composed group once written (or with nothing to write); returns the changes left. */
function settle({ written, refused, left }: Composed): WaitingChange[] {
  for (const { waiting, changed } of written) waiting.resolve(changed.next);
  for (const { waiting, error } of refused) waiting.reject(error);
  return left;
}

/** The cluster does not exist (or no longer): every change of the group answers undefined. */
function settleMissing(group: readonly WaitingChange[]): WaitingChange[] {
  for (const waiting of group) waiting.resolve(undefined);
  return [];
}

/**
 * Whether PostgreSQL itself refused a statement (an error response, which carries a SQLSTATE and
 * leaves nothing of the statement committed), as opposed to a connection lost with the statement's
 * fate unknown.
 */
function refusedByDatabase(error: unknown): boolean {
  return error instanceof pg.DatabaseError && !isDatabaseUnavailable(error);
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
  /** The changes of each cluster waiting to be written by this process, in the order asked. */
  readonly #queues = new Map<string, WaitingChange[]>();

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
    return new Promise((resolve, reject) => {
      const waiting = { change, resolve, reject };
      const queue = this.#queues.get(id);
      if (queue !== undefined) {
        queue.push(waiting);
        return;
      }
      this.#queues.set(id, [waiting]);
      void this.#drain(id);
    });
  }

  history(id: string): Promise<HistoryRow[]> {
    return clusterHistory(this.#database.db, id);
  }

  /**
   * Writes the changes asked of cluster `id` until none is left. Changes of one cluster made by
   * this process are written in order (they would only race each other, and in order each one's
   * base is the version the previous one wrote); those asked while a write is in flight go
   * together in the next statement (#writeGroup).
   */
  async #drain(id: string): Promise<void> {
    const queue = this.#queues.get(id)!;
    while (queue.length > 0) {
      const group = queue.splice(0, MAX_GROUP);
      queue.unshift(...(await this.#writeGroup(id, group)));
    }
    this.#queues.delete(id);
  }

  /**
   * Writes a group of changes of one cluster in one statement, and settles each; returns the
   * changes left for the next group.
   *
   * The changes are computed in order, each from the record the one before made, starting from
   * the version this process last wrote or read (read first if none); a change that throws is
   * refused alone and the next one is computed from the same record. One statement then writes
   * the last record, the history row of every change that has one and the reconcile work, only if
   * the row still has the base version (`xmin`, which every committed update of the row changes,
   * whoever makes it), or nothing. When another process changed the row meanwhile, the same
   * statement returns the current row instead, and the group is computed again from it. After
   * OPTIMISTIC_ATTEMPTS lost races the group takes the row lock (SELECT … FOR UPDATE), so a hot
   * row shared by many processes still makes progress. Every change is answered after the
   * statement that holds it committed, or refused with its own error.
   *
   * A change recording an outcome goes alone (its outcome is written on a history row committed
   * before). When the database refuses a group's statement (an error PostgreSQL reported, so
   * nothing of it was committed), its changes are written again one by one, so that one change
   * the database refuses fails alone.
   */
  async #writeGroup(id: string, group: WaitingChange[]): Promise<WaitingChange[]> {
    const sql = this.#database.postgresSql;
    try {
      let base = this.#known.get(id);
      for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
        base ??= await this.#reads.load(id);
        if (base === undefined) return settleMissing(group);
        const composed = compose(base.cluster, group);
        if (composed.written.length === 0) return settle(composed);
        const outcome = await this.#write(sql, id, base, composed.written);
        if ('rowVersion' in outcome) return this.#settleWritten(composed);
        base = outcome.current;
        if (base === undefined) return settleMissing(group);
      }
      // Forgotten if the commit fails: the version this transaction wrote may not exist.
      const composed = await this.#forgetOnError(id, () =>
        sql.transaction(async (trx) => {
          const current = await this.#readLocked(trx, id);
          if (current === undefined) return undefined;
          const composed = compose(current.cluster, group);
          if (composed.written.length === 0) return composed;
          const outcome = await this.#write(trx, id, current, composed.written);
          // The row is locked by this transaction: nobody else can have changed it.
          if (!('rowVersion' in outcome)) throw new Error(`Cluster ${id} changed under its row lock`);
          return composed;
        }),
      );
      return composed === undefined ? settleMissing(group) : this.#settleWritten(composed);
    } catch (error) {
      if (group.length > 1 && refusedByDatabase(error)) {
        const left: WaitingChange[] = [];
        for (const waiting of group) left.push(...(await this.#writeGroup(id, [waiting])));
        return left;
      }
      for (const waiting of group) waiting.reject(error);
      return [];
    }
  }

  /** Answers the changes of a group whose statement committed, and wakes the workers if needed. */
  #settleWritten(composed: Composed): WaitingChange[] {
    if (composed.written.some(({ changed }) => changed.history !== undefined)) this.#signal.notify();
    return settle(composed);
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
    // A row no longer there (mks keeps deleted clusters' rows: one removed by hand).
    for (const [id, before] of held) {
      if (before !== undefined && !found.has(id) && this.#known.get(id) === before) this.#known.delete(id);
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
   * Writes the changes `written` (computed in order from `base`) if the row still has the version
   * of `base`: the row's new version then; otherwise the current row (undefined if there is none),
   * and nothing was written.
   */
  async #write(
    sql: PostgresQuery,
    id: string,
    base: Versioned,
    written: readonly ComputedChange[],
  ): Promise<{ rowVersion: string } | { current: Versioned | undefined }> {
    const { next, outcome } = written.at(-1)!.changed;
    // Only the columns whose fields the group replaced (records held are frozen all the way down,
    // so a field still holding the base's value is unchanged); at least one, for a valid UPDATE.
    const row = changedColumns(base.cluster, next);
    let columns = MUTABLE_COLUMNS.filter((column) => column in row);
    if (columns.length === 0) {
      row.generation = next.generation;
      columns = ['generation'];
    }
    const values: unknown[] = [id, base.rowVersion, ...columns.map((column) => row[column])];
    const histories = written.flatMap(({ changed }) =>
      changed.history === undefined
        ? []
        : [
            historyRow(
              changed.next,
              { ...changed, history: changed.history },
              changed.next.customization === next.customization ? row.customization : undefined,
            ),
          ],
    );
    if (histories.length > 0) {
      values.push(
        Date.now(),
        ...HISTORY_COLUMNS.map(([column]) => histories.map((history) => history[column])),
      );
    }
    if (outcome !== undefined) values.push(outcome.status, outcome.message, outcome.at, outcome.generation);
    const statement = changeStatement(columns, histories.length > 0, outcome !== undefined);
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
      let previous = base.cluster;
      for (const { changed } of written) previous = freezeRecord(changed.next, previous);
      this.#remember({ cluster: next, rowVersion: result.row_version });
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
}

/** The columns a PostgreSQL change may write, in the order of its parameters $3, $4, … */
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
] as const satisfies ReadonlyArray<keyof MutableColumns>;

const READ_MANY_SQL =
  'select k."id", c."xmin"::text as "row_version", ' +
  'case when c."xmin"::text = k."known" then null else row_to_json(c) end as "row" ' +
  'from unnest($1::text[], $2::text[]) as k("id", "known") join "clusters" c on c."id" = k."id"';
const READ_LOCKED_SQL =
  'select "xmin"::text as "row_version", row_to_json("clusters") as "row" from "clusters" where "id" = $1 for update';

/**
 * One statement, so one implicit transaction: the update of `columns` ($3, $4, …) if the row
 * version is still $2, and
 * with it (data-modifying CTEs, applied only if the update was) the history rows of the changes it
 * holds, bound as one array per column, and the reconcile work. It returns the new row version,
 * or, when the update did not apply, the current row.
 */
function changeSql(columns: readonly MutableColumn[], withHistory: boolean, withOutcome: boolean): string {
  const assignments = columns.map((column, index) => `"${column}" = $${index + 3}`).join(', ');
  let next = columns.length + 3;
  const parts = [
    `with "changed" as (update "clusters" set ${assignments} where "id" = $1 and "xmin" = $2::xid ` +
      'returning "xmin"::text as "row_version", "id", "generation")',
  ];
  if (withHistory) {
    const notBefore = `$${next++}::bigint`;
    const arrays = HISTORY_COLUMNS.map(([, type]) => `$${next++}::${type}[]`).join(', ');
    const columns = HISTORY_COLUMNS.map(([column]) => `"${column}"`).join(', ');
    // In the changes' order, so history ids follow generations.
    parts.push(
      `"history" as (insert into "cluster_history" ("cluster_id", ${columns}) ` +
        `select $1, ${columns} from unnest(${arrays}) with ordinality as "h"(${columns}, "position") ` +
        'where exists (select from "changed") order by "position")',
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

/** The columns of a history row the change statement binds (one array each), in historyRow's names. */
const HISTORY_COLUMNS = [
  ['generation', 'integer'],
  ['action', 'text'],
  ['kube_proxy_mode', 'text'],
  ['version', 'text'],
  ['customization', 'text'],
  ['created_at', 'text'],
  ['application_id', 'integer'],
  ['credential_id', 'integer'],
  ['source_ip', 'text'],
  ['query_id', 'text'],
  ['source_generation', 'integer'],
  ['note', 'text'],
] as const satisfies ReadonlyArray<
  readonly [Exclude<keyof ReturnType<typeof historyRow>, 'cluster_id'>, string]
>;

type MutableColumn = (typeof MUTABLE_COLUMNS)[number];

/** Distinct change statements kept (a few shapes of change are the working set). */
const MAX_STATEMENTS = 256;
const changeStatements = new BoundedMap<string, { readonly name: string; readonly text: string }>(
  MAX_STATEMENTS,
);
let statementsMade = 0;

/**
 * The change statement of the columns written, whether it appends history rows, whether it
 * records an outcome; named, so each connection prepares it once.
 */
function changeStatement(
  columns: readonly MutableColumn[],
  history: boolean,
  outcome: boolean,
): { readonly name: string; readonly text: string } {
  const key = `${columns.join(',')}/${history}/${outcome}`;
  let statement = changeStatements.get(key);
  if (statement === undefined) {
    statement = {
      name: `mks_cluster_change_${++statementsMade}`,
      text: changeSql(columns, history, outcome),
    };
    changeStatements.set(key, statement);
  }
  return statement;
}
