/**
 * Migration 0008 on a database made before node pools: a cluster's nodes become one `default`
 * pool holding Nodes of the names the emulator gave them, already applied (READY), so an upgraded
 * installation neither replaces nor loses a node. SQLite only: the migration is the same Kysely
 * code on both engines (one select, one update per cluster).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { fromRow } from '../../src/clusters/clusters.rows.ts';
import { nodePoolView } from '../../src/clusters/nodepools.model.ts';
import { livePools } from '../../src/clusters/nodepools.ts';
import * as initial from '../../src/db/migrations/0001-initial.ts';
import * as nodePools from '../../src/db/migrations/0008-nodepools.ts';
import * as ipRestrictions from '../../src/db/migrations/0009-ip-restrictions.ts';
import * as openIdConnect from '../../src/db/migrations/0010-open-id-connect.ts';
import type { Schema } from '../../src/db/schema.ts';
import { nodeName } from '../../src/emulator/cluster/kubeadm-objects.ts';

test("a cluster from before node pools gets a default pool with its nodes' names, READY", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-migration-'));
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(path.join(dir, 'db')) }),
  });
  try {
    await initial.up(db as Kysely<unknown>, 'sqlite');
    await db.insertInto('accounts').values({ id: 'a1', email: null, created_at: 'T' }).execute();
    await db
      .insertInto('projects')
      .values({ id: 'p1', account_id: 'a1', name: 'p', description: '', created_at: 'T' })
      .execute();
    const id = '3f9c2d1e-0000-4000-8000-000000000001';
    await (db as unknown as Kysely<Record<string, Record<string, unknown>>>)
      .insertInto('clusters')
      .values({
        id,
        project_id: 'p1',
        name: 'old',
        region: 'GRA7',
        version: '1.33.6',
        update_policy: 'ALWAYS_UPDATE',
        kube_proxy_mode: 'iptables',
        customization: '{}',
        node_count: 2,
        plan: 'free',
        private_network_id: null,
        nodes_subnet_id: null,
        load_balancers_subnet_id: null,
        private_network_configuration: null,
        status: 'READY',
        status_message: null,
        generation: 4,
        observed_generation: 4,
        token_epoch: 1,
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
        deleted_at: null,
      })
      .execute();
    for (const migration of [nodePools, ipRestrictions, openIdConnect])
      await migration.up(db as Kysely<unknown>, 'sqlite');

    const cluster = fromRow(
      await db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirstOrThrow(),
    );
    const pools = livePools(cluster.nodePools, cluster);
    assert.equal(pools.length, 1);
    const [pool] = pools;
    assert.deepEqual(
      pool!.nodes.map((node) => node.name),
      [nodeName(id, 0), nodeName(id, 1)],
    );
    const view = nodePoolView(pool!, cluster);
    assert.deepEqual(
      [view.name, view.flavor, view.status, view.desiredNodes, view.currentNodes, view.availableNodes],
      ['default', 'b3-8', 'READY', 2, 2, 2],
    );
    assert.deepEqual(cluster.ipRestrictions, []);
    assert.equal(cluster.openIdConnect, null);
  } finally {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
