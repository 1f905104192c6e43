/**
 * A SQLite cluster change writes only the columns whose fields it replaced. The records held in
 * memory are frozen all the way down, so a value changed in place cannot be skipped silently: it
 * throws. Whatever a change touched, the row in the database reads back as the record in memory.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkSignal } from '../../src/clusters/cluster-work.ts';
import type { ClusterRecord } from '../../src/clusters/clusters.model.ts';
import { changedColumns, mutableColumns } from '../../src/clusters/clusters.rows.ts';
import { SqliteClusterStore } from '../../src/clusters/clusters.store.sqlite.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { openServices, type Services } from '../../src/services.ts';
import { CHANGE_STEPS } from '../support/cluster-changes.ts';

describe('SQLite cluster changes write the columns they touched', () => {
  let dataDir: string;
  let services: Services;
  let clusterId: string;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-changed-columns-'));
    services = await openServices(loadConfig({ dataDir, logLevel: 'silent' }, {}), createLogger('silent'));
    const accountId = await services.authStore.createAccount();
    const projectId = (await services.projects.create({ accountId, name: 'columns' })).id;
    clusterId = (await services.clusters.create(projectId, { name: 'a', region: services.config.regions[0] }))
      .id;
  });
  after(async () => {
    await services.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** The row as the database has it, through a store that holds nothing in memory yet. */
  const fromDatabase = (id: string) => {
    assert.equal(services.database.engine, 'sqlite');
    return new SqliteClusterStore(services.database, new WorkSignal()).get(id);
  };

  test('only the replaced fields become columns; an unchanged record writes none', () => {
    const current = {
      name: 'a',
      customization: { kubeProxy: {} },
      nodePools: [],
    } as unknown as ClusterRecord;
    const all = mutableColumns({
      ...current,
      ipRestrictions: [],
      openIdConnect: null,
      privateNetworkConfiguration: null,
    } as ClusterRecord);
    assert.ok(Object.keys(all).length > 20, 'every mutable column');
    assert.deepEqual(changedColumns(current, { ...current }), {});
    assert.deepEqual(changedColumns(current, { ...current, name: 'b' }), { name: 'b' });
    const customization = { kubeProxy: { iptables: { syncPeriod: 'PT30S' } } };
    assert.deepEqual(changedColumns(current, { ...current, customization } as unknown as ClusterRecord), {
      customization: JSON.stringify(customization),
    });
    // The node count is derived from the pools: written with them.
    assert.deepEqual(Object.keys(changedColumns(current, { ...current, nodePools: [] })).sort(), [
      'node_count',
      'node_pools',
    ]);
  });

  test('each mutable field, changed alone, writes its own column and no other', async () => {
    const current = await services.clusterStore.get(clusterId);
    assert.ok(current !== undefined);
    const snake = (field: string) => field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    const immutable = new Set(['id', 'projectId', 'createdAt']);
    const fields = Object.keys(current).filter((field) => !immutable.has(field));
    assert.equal(fields.length, Object.keys(mutableColumns(current)).length - 1, 'node_count is derived');
    for (const field of fields) {
      const value = (current as unknown as Record<string, unknown>)[field];
      // A new value of the field's kind: a new object (same content) for objects, else another one.
      const changed = Array.isArray(value)
        ? [...value]
        : typeof value === 'number'
          ? value + 1
          : typeof value === 'string'
            ? `${value}-x`
            : value === null
              ? 'x'
              : { ...value };
      const row = changedColumns(current, { ...current, [field]: changed } as ClusterRecord);
      const expected = field === 'nodePools' ? ['node_count', 'node_pools'] : [snake(field)];
      assert.deepEqual(Object.keys(row).sort(), expected, field);
    }
  });

  test('every kind of change reads back from the database as the record in memory', async () => {
    const store = services.clusterStore;
    for (const step of CHANGE_STEPS) {
      const next = await store.update(clusterId, (current) => ({ next: step(current) }));
      assert.ok(next !== undefined);
      assert.deepEqual(await fromDatabase(clusterId), next);
    }
    const held = await store.get(clusterId);
    assert.equal(held?.name, 'renamed');
    assert.deepEqual(held?.ipRestrictions, ['10.0.0.0/8']);
  });

  test('a value held in memory cannot be changed in place (it would not be written)', async () => {
    const store = services.clusterStore;
    const held = await store.get(clusterId);
    assert.ok(held !== undefined);
    assert.throws(() => {
      (held.customization.kubeProxy as { iptables: { syncPeriod: string } }).iptables.syncPeriod = 'PT99S';
    }, TypeError);
    assert.throws(() => {
      (held.ipRestrictions as string[]).push('192.0.2.0/24');
    }, TypeError);
    assert.deepEqual(await fromDatabase(clusterId), held);
  });
});
