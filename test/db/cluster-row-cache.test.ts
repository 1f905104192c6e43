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
});
