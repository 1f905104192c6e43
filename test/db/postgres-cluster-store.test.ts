/**
 * The cluster store on PostgreSQL (clusters.store.postgres.ts). Reads: those of one event-loop turn
 * go in one statement, a row whose version matches the record this process holds is not sent
 * again, and none of that may weaken read-your-writes across processes: a change acknowledged by
 * one process is seen by the next read of another, whatever that one held. Writes: the changes of
 * one cluster asked while one is in flight are written together by one statement, each refused
 * alone, each answered after the commit. Two service instances on one database stand for two API
 * processes (two pools, two stores).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkSignal } from '../../src/clusters/cluster-work.ts';
import type { ClusterRecord } from '../../src/clusters/clusters.model.ts';
import { PostgresClusterStore } from '../../src/clusters/clusters.store.postgres.ts';
import type { ClusterChange } from '../../src/clusters/clusters.store.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { openServices, type Services } from '../../src/services.ts';
import { CHANGE_STEPS } from '../support/cluster-changes.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';

describe('the cluster store on PostgreSQL', { skip: !DIALECTS.includes('postgres') }, () => {
  let database: TestDatabase;
  let dataDir: string;
  let a: Services;
  let b: Services;
  let projectId: string;

  before(async () => {
    database = await createTestDatabase('postgres');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-pg-reads-'));
    const config: Config = loadConfig({ dataDir, databaseUrl: database.url, logLevel: 'silent' }, {});
    const logger = createLogger('silent');
    a = await openServices(config, logger);
    b = await openServices(config, logger);
    const accountId = await a.authStore.createAccount();
    projectId = (await a.projects.create({ accountId, name: 'reads' })).id;
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const createCluster = async (name: string) =>
    (await a.clusters.create(projectId, { name, region: a.config.regions[0] })).id;

  /** Counts the statements `services` sends through its hot-path pool while `work` runs. */
  async function countStatements<T>(services: Services, work: () => Promise<T>): Promise<[T, string[]]> {
    assert.equal(services.database.engine, 'postgres');
    const sql = services.database.postgresSql;
    const original = sql.query;
    const names: string[] = [];
    sql.query = (name, text, values) => {
      names.push(name);
      return original(name, text, values);
    };
    try {
      return [await work(), names];
    } finally {
      sql.query = original;
    }
  }

  test('the reads of one turn are one statement, each answered with its own cluster', async () => {
    const ids = [await createCluster('one'), await createCluster('two'), await createCluster('three')];
    const [records, statements] = await countStatements(b, () =>
      Promise.all([...ids, ids[0]!, 'no-such-cluster'].map((id) => b.clusterStore.get(id))),
    );
    assert.deepEqual(statements, ['mks_cluster_read_many']);
    assert.deepEqual(
      records.map((record) => record?.name),
      ['one', 'two', 'three', 'one', undefined],
    );
    assert.equal(records[3], records[0], 'two reads of one cluster in one turn share the answer');
  });

  test('a row unchanged since it was read is not parsed again; its record is frozen all the way down', async () => {
    const id = await createCluster('held');
    const first = await b.clusterStore.get(id);
    const second = await b.clusterStore.get(id);
    assert.ok(first !== undefined);
    assert.equal(second, first, 'the held record is reused while the row version is unchanged');
    assert.ok(Object.isFrozen(first.customization), 'a shared record cannot be changed in place');
    assert.throws(() => {
      (first.nodePools as unknown[]).push({});
    }, TypeError);
  });

  test('a change acknowledged by one process is read at once by another that held the row', async () => {
    const id = await createCluster('read-your-writes');
    for (let round = 0; round < 6; round++) {
      // Both processes hold the current record before each change.
      const [heldByA, heldByB] = await Promise.all([a.clusterStore.get(id), b.clusterStore.get(id)]);
      assert.equal(heldByA?.generation, heldByB?.generation);
      const writer = round % 2 === 0 ? a : b;
      const reader = writer === a ? b : a;
      const syncPeriod = `PT${40 + round}S`;
      await writer.clusters.updateCustomization(projectId, id, { kubeProxy: { iptables: { syncPeriod } } });
      const read = await reader.clusterStore.get(id);
      assert.equal(read?.generation, heldByA!.generation + 1, `round ${round}: the new generation`);
      assert.equal(read?.customization.kubeProxy?.iptables?.syncPeriod, syncPeriod);
    }
  });

  test('a read failing fails every read of its turn, and the next turn reads again', async () => {
    const id = await createCluster('failing');
    const sql = b.database.engine === 'postgres' ? b.database.postgresSql : assert.fail('postgres');
    const original = sql.query;
    sql.query = () => Promise.reject(new Error('statement failed'));
    const failed = await Promise.allSettled([b.clusterStore.get(id), b.clusterStore.get(id)]);
    sql.query = original;
    assert.deepEqual(
      failed.map((result) => result.status),
      ['rejected', 'rejected'],
    );
    assert.equal((await b.clusterStore.get(id))?.name, 'failing');
  });

  /** A change that renames the cluster as a new generation with its history row. */
  const rename =
    (name: string) =>
    (current: ClusterRecord): ClusterChange => ({
      next: { ...current, name, generation: current.generation + 1, updatedAt: new Date().toISOString() },
      history: 'customize',
    });

  async function historyNames(services: Services, id: string): Promise<[number, string][]> {
    const rows = await services.database.db
      .selectFrom('cluster_history')
      .select(['generation', 'action'])
      .where('cluster_id', '=', id)
      .orderBy('id')
      .execute();
    return rows.map((row) => [Number(row.generation), row.action]);
  }

  test('changes asked while one is written go together in one statement, each refused alone', async () => {
    const id = await createCluster('grouped');
    const refusal = new Error('refused by its own validation');
    const [outcomes, statements] = await countStatements(b, () =>
      Promise.allSettled(
        ['first', 'second', 'refused', 'third', 'fourth'].map((name) =>
          b.clusterStore.update(
            id,
            name === 'refused'
              ? () => {
                  throw refusal;
                }
              : rename(name),
          ),
        ),
      ),
    );
    assert.deepEqual(
      outcomes.map((outcome) =>
        outcome.status === 'fulfilled' ? [outcome.value?.name, outcome.value?.generation] : outcome.reason,
      ),
      [['first', 2], ['second', 3], refusal, ['third', 4], ['fourth', 5]],
    );
    // The first change is written at once, the others (asked meanwhile) by one more statement.
    assert.equal(statements.filter((name) => name.startsWith('mks_cluster_change')).length, 2);
    assert.deepEqual(await historyNames(a, id), [
      [1, 'create'],
      [2, 'customize'],
      [3, 'customize'],
      [4, 'customize'],
      [5, 'customize'],
    ]);
    const stored = await a.clusterStore.get(id);
    assert.deepEqual([stored?.name, stored?.generation], ['fourth', 5]);
    const work = await a.database.db
      .selectFrom('reconcile_work')
      .select('generation')
      .where('cluster_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.equal(Number(work.generation), 5, 'the reconcile work names the last generation');
  });

  test('a change the database refuses fails alone; the others of its group commit', async () => {
    const id = await createCluster('database-refusal');
    // PostgreSQL refuses a NUL character in text: the statement holding it fails as a whole (the
    // version is written to the change's history row, whether or not a later change follows).
    const badVersion = (current: ClusterRecord): ClusterChange => {
      const changed = rename('bad')(current);
      return { ...changed, next: { ...changed.next, version: `${current.version}\u0000` } };
    };
    const outcomes = await Promise.allSettled(
      [rename('first'), rename('second'), badVersion, rename('third')].map((change) =>
        b.clusterStore.update(id, change),
      ),
    );
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(
      outcomes.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value?.generation : undefined)),
      [2, 3, undefined, 4],
    );
    assert.deepEqual(await historyNames(a, id), [
      [1, 'create'],
      [2, 'customize'],
      [3, 'customize'],
      [4, 'customize'],
    ]);
    const stored = await a.clusterStore.get(id);
    assert.deepEqual([stored?.name, stored?.generation], ['third', 4]);
  });

  test('groups of two processes on one cluster keep one sequence of generations', async () => {
    const id = await createCluster('two-writers');
    const names = Array.from({ length: 40 }, (_, index) => `name-${index}`);
    const answers = await Promise.all(
      names.map((name, index) => (index % 2 === 0 ? a : b).clusterStore.update(id, rename(name))),
    );
    const generations = answers.map((record) => record?.generation);
    assert.deepEqual(
      [...generations].sort((x, y) => x! - y!),
      names.map((_, index) => index + 2),
      'every change has its own generation',
    );
    const history = await historyNames(a, id);
    assert.deepEqual(
      history.map(([generation]) => generation),
      [1, ...names.map((_, index) => index + 2)],
      'history rows in generation order',
    );
    // Each answer is the record its change wrote: the one stored at its generation is its name.
    const last = answers.find((record) => record?.generation === names.length + 1);
    assert.equal((await a.clusterStore.get(id))?.name, last?.name);
  });

  test('a change writes the columns it replaced, and every kind reads back as the record in memory', async () => {
    const id = await createCluster('columns');
    /** The row as the database has it, through a store that holds no record yet. */
    const fromDatabase = () => {
      assert.equal(a.database.engine, 'postgres');
      return new PostgresClusterStore(a.database, new WorkSignal()).get(id);
    };
    // One at a time (each its own statement), then all at once (one group: its columns are those
    // the group replaced from its base).
    for (const step of CHANGE_STEPS) {
      const next = await b.clusterStore.update(id, (current) => ({ next: step(current) }));
      assert.ok(next !== undefined);
      assert.deepEqual(await fromDatabase(), next);
    }
    const grouped = await Promise.all(
      [...CHANGE_STEPS, (current: ClusterRecord) => ({ ...current, name: 'grouped' })].map((step) =>
        b.clusterStore.update(id, (current) => ({ next: step(current) })),
      ),
    );
    assert.deepEqual(await fromDatabase(), grouped.at(-1));
    assert.equal(grouped.at(-1)?.name, 'grouped');
    assert.deepEqual(grouped.at(-1)?.ipRestrictions, ['10.0.0.0/8']);
  });
});
