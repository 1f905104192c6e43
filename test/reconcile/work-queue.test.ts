/** The reconcile work queue on every engine: exclusive claims, lease expiry, no lost changes. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { enqueueInTransaction, WorkSignal } from '../../src/clusters/cluster-work.ts';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { openWorkQueue, type WorkQueueOptions } from '../../src/reconcile/work-queue.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';

for (const dialect of DIALECTS) {
  describe(`reconcile work queue (${dialect})`, () => {
    let testDatabase: TestDatabase;
    let database: Database;

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      database = await openDatabase(testDatabase.config);
    });
    after(async () => {
      await database.close();
      await testDatabase.drop();
    });

    const signal = new WorkSignal();
    const queue = (options: Omit<WorkQueueOptions, 'signal'>) =>
      openWorkQueue(database, { ...options, signal });
    const enqueue = (id: string, generation: number) =>
      database.db.transaction().execute((trx) => enqueueInTransaction(trx, id, generation));

    test('a due cluster is claimed by exactly one of two workers', async () => {
      await enqueue('c-exclusive', 1);
      const a = queue({ owner: 'a', leaseMs: 60_000 });
      const b = queue({ owner: 'b', leaseMs: 60_000 });
      const [claimsA, claimsB] = await Promise.all([a.claim(10), b.claim(10)]);
      const owners = [...claimsA, ...claimsB].filter((claim) => claim.clusterId === 'c-exclusive');
      assert.equal(owners.length, 1);
      await (claimsA.length > 0 ? a : b).forget('c-exclusive');
    });

    test("an expired lease lets another worker take the cluster over, and the first worker's release is ignored", async () => {
      await enqueue('c-expiry', 1);
      const dead = queue({ owner: 'dead', leaseMs: 1_000 });
      const [claim] = (await dead.claim(10)).filter((c) => c.clusterId === 'c-expiry');
      assert.ok(claim);
      const alive = queue({ owner: 'alive', leaseMs: 60_000 });
      assert.equal(
        (await alive.claim(10)).some((c) => c.clusterId === 'c-expiry'),
        false,
        'leased: not claimable yet',
      );
      await database.db
        .updateTable('reconcile_work')
        .set({ lease_expires_at: Date.now() - 1 })
        .where('cluster_id', '=', 'c-expiry')
        .execute();
      const [taken] = (await alive.claim(10)).filter((c) => c.clusterId === 'c-expiry');
      assert.ok(taken, 'taken over once the lease expired');
      assert.equal(await dead.renew('c-expiry'), false, 'the first worker learns it lost the lease');
      await dead.release(claim, 60_000);
      const row = await database.db
        .selectFrom('reconcile_work')
        .selectAll()
        .where('cluster_id', '=', 'c-expiry')
        .executeTakeFirstOrThrow();
      assert.equal(row.lease_owner, 'alive');
      await alive.forget('c-expiry');
    });

    test('a change enqueued during a pass makes the cluster due again at once when the pass ends', async () => {
      await enqueue('c-newer', 1);
      const worker = queue({ owner: 'w', leaseMs: 60_000 });
      const [claim] = (await worker.claim(10)).filter((c) => c.clusterId === 'c-newer');
      assert.ok(claim);
      await enqueue('c-newer', 2);
      await worker.release(claim, 60_000);
      const [again] = (await worker.claim(10)).filter((c) => c.clusterId === 'c-newer');
      assert.equal(again?.generation, 2);
      await worker.release(again!, 60_000);
      assert.equal(
        (await worker.claim(10)).some((c) => c.clusterId === 'c-newer'),
        false,
        'settled: next look after the delay',
      );
    });
  });
}
