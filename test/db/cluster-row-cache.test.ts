/**
 * The SQLite cluster store keeps recently used cluster rows in memory, within a bound: rows past
 * it are evicted and read again from the database, reads and changes stay right either way.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkSignal } from '../../src/clusters/cluster-work.ts';
import { SqliteClusterStore } from '../../src/clusters/clusters.store.sqlite.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { openServices, type Services } from '../../src/services.ts';

describe('SQLite cluster rows in memory are bounded', () => {
  let dataDir: string;
  let services: Services;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-row-cache-'));
    services = await openServices(loadConfig({ dataDir, logLevel: 'silent' }, {}), createLogger('silent'));
  });
  after(async () => {
    await services.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('past the bound the least recently used row goes; every row still reads and changes right', async () => {
    const database = services.database;
    assert.equal(database.engine, 'sqlite');
    const store = new SqliteClusterStore(database, new WorkSignal(), 2);
    const accountId = await services.authStore.createAccount();
    const projectId = (await services.projects.create({ accountId, name: 'bounded' })).id;
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c', 'd']) {
      const created = await services.clusters.create(projectId, { name, region: services.config.regions[0] });
      ids.push(created.id);
    }
    for (const [index, id] of ids.entries()) {
      const renamed = await store.update(id, (current) => ({
        next: { ...current, name: `renamed-${index}` },
      }));
      assert.equal(renamed?.name, `renamed-${index}`);
      assert.ok(store.cachedRows <= 2, `at most 2 rows in memory, ${store.cachedRows} held`);
    }
    // The first rows were evicted: read again from the database, with their change.
    for (const [index, id] of ids.entries()) {
      assert.equal((await store.get(id))?.name, `renamed-${index}`);
      const again = await store.update(id, (current) => ({ next: { ...current, name: `${current.name}!` } }));
      assert.equal(again?.name, `renamed-${index}!`);
    }
    assert.equal(store.cachedRows, 2);
  });

  test('reading a row again makes it the most recently used, the hot row included', async () => {
    const database = services.database;
    assert.equal(database.engine, 'sqlite');
    const store = new SqliteClusterStore(database, new WorkSignal(), 2);
    const accountId = await services.authStore.createAccount();
    const projectId = (await services.projects.create({ accountId, name: 'recency' })).id;
    const [a, b, c] = await Promise.all(
      ['ra', 'rb', 'rc'].map(async (name) => {
        return (await services.clusters.create(projectId, { name, region: services.config.regions[0] })).id;
      }),
    );
    // Renamed behind the store's back: a read answers the old name while the row is held.
    const renameInDatabase = (id: string, name: string) =>
      database.db.updateTable('clusters').set({ name }).where('id', '=', id).execute();
    await store.get(a!);
    await store.get(b!);
    await store.get(a!);
    await store.get(a!); // a is already the most recent: still held, b is the oldest
    await store.get(c!); // evicts b, not a
    await renameInDatabase(a!, 'ra-db');
    await renameInDatabase(b!, 'rb-db');
    assert.equal((await store.get(a!))?.name, 'ra', 'a stayed in memory');
    assert.equal((await store.get(b!))?.name, 'rb-db', 'b was evicted and read again');
    // b read again is the newest, a the next: c (the oldest now) went.
    await renameInDatabase(c!, 'rc-db');
    assert.equal((await store.get(c!))?.name, 'rc-db', 'c was evicted and read again');
  });
  test('in a group of changes, one whose statement fails rejects alone: the others commit, its row and history stay as they were', async () => {
    const database = services.database;
    assert.equal(database.engine, 'sqlite');
    const store = new SqliteClusterStore(database, new WorkSignal());
    const accountId = await services.authStore.createAccount();
    const projectId = (await services.projects.create({ accountId, name: 'grouped' })).id;
    const ids: string[] = [];
    for (const name of ['ga', 'gb', 'gc']) {
      ids.push((await services.clusters.create(projectId, { name, region: services.config.regions[0] })).id);
    }
    const [a, b, c] = ids as [string, string, string];
    for (const id of ids) await store.get(id); // held in memory, as on the hot path
    const historyOf = async (id: string) => (await store.history(id)).length;
    const historyBefore = await Promise.all(ids.map(historyOf));
    const generationBefore = await Promise.all(ids.map(async (id) => (await store.get(id))!.generation));
    const rename = (id: string, name: string) =>
      store.update(id, (current) => ({
        next: { ...current, name, generation: current.generation + 1 },
        history: 'customize',
      }));
    // Issued in one turn: one group. b's update breaks a NOT NULL column after nothing else of it.
    const results = await Promise.allSettled([
      rename(a, 'ga-2'),
      rename(b, null as unknown as string),
      rename(c, 'gc-2'),
      rename(a, 'ga-3'),
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.match(String((results[1] as PromiseRejectedResult).reason), /NOT NULL constraint failed/);
    const fromDatabase = (id: string) =>
      database.db
        .selectFrom('clusters')
        .select(['name', 'generation'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
    for (const [id, name, changes, index] of [
      [a, 'ga-3', 2, 0],
      [b, 'gb', 0, 1],
      [c, 'gc-2', 1, 2],
    ] as const) {
      const held = await store.get(id);
      const stored = await fromDatabase(id);
      assert.equal(held?.name, name, `${id} in memory`);
      assert.equal(held?.generation, generationBefore[index]! + changes, `${id}: one generation per change`);
      const work = await database.db
        .selectFrom('reconcile_work')
        .select('generation')
        .where('cluster_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(Number(work.generation), held?.generation, `${id}: enqueued at its last generation`);
      assert.equal(stored.name, name, `${id} in the database`);
      assert.equal(
        Number(stored.generation),
        held?.generation,
        `${id}: same generation in memory and stored`,
      );
      assert.equal(
        await historyOf(id),
        historyBefore[index]! + changes,
        `${id}: one history row per change kept`,
      );
    }
  });
});
