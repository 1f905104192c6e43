/**
 * A worker whose pass outlives its lease (it was starved, and another worker took the cluster
 * over) stops that pass: it writes no status, makes no Kubernetes call and leaves the new
 * holder's lease alone. Whether the pass runs on the main thread or in the reconciler thread.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { KubeClients } from '../../src/reconcile/kube/kube-client.ts';
import { type PassRunner, ReconcileLoop } from '../../src/reconcile/loop.ts';
import { PassThread } from '../../src/reconcile/pass-thread.ts';
import { type ClusterProvider, servedConnection } from '../../src/reconcile/provider.ts';
import { reconcileStore } from '../../src/reconcile/reconcile-store.ts';
import { DIALECTS } from '../support/dialects.ts';
import { PASS_SETTINGS } from '../support/pass-settings.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const RUNNERS = ['main thread', 'reconciler thread'] as const;

for (const dialect of DIALECTS) {
  describe(`worker lease (${dialect})`, () => {
    let server: TestServer;

    before(async () => {
      // The runtime's own worker is off: the test runs one of its own.
      server = await startTestServer(dialect, { MKS_WORKER: 'false' });
    });
    after(async () => {
      await server.close();
    });

    for (const runner of RUNNERS)
      test(`a pass that lost its lease stops (${runner}): no Kubernetes call, no status, the new holder keeps the lease`, async () => {
        const { runtime, services } = server;
        const created = await server.client.call<{ id: string; status: string }>(
          'POST',
          `/cloud/project/${server.projectId}/kube`,
          { region: 'GRA7', name: `starved-${runner.split(' ')[0]}` },
        );
        assert.equal(created.status, 'INSTALLING');

        // The provider holds the pass inside ensureCluster until the test lets it go.
        let entered!: () => void;
        const inside = new Promise<void>((resolve) => {
          entered = resolve;
        });
        let letGo!: () => void;
        const released = new Promise<void>((resolve) => {
          letGo = resolve;
        });
        const emulator = runtime.emulator;
        const caPem = fs.readFileSync(runtime.kubeCaFile, 'utf8');
        const provider: ClusterProvider = {
          ensureCluster: async (cluster) => {
            entered();
            await released;
            return emulator.ensureCluster(cluster);
          },
          setApiServerFlags: (id, flags) => emulator.setApiServerFlags(id, flags),
          restartApiServer: (id, restart) => emulator.restartApiServer(id, restart),
          eraseCluster: (id) => emulator.eraseCluster(id),
          destroyCluster: (id) => emulator.destroyCluster(id),
        };
        const lines: string[] = [];
        const logger = pino(
          { level: 'info' },
          new Writable({
            write(chunk: Buffer, _encoding, done) {
              lines.push(chunk.toString());
              done();
            },
          }),
        );
        const passes: PassRunner | undefined =
          runner === 'main thread'
            ? undefined
            : new PassThread(
                {
                  kubePublicUrl: server.config.kubePublicUrl,
                  caPem,
                  kubeTokenKey: services.kubeTokenKey,
                  settings: PASS_SETTINGS,
                  logLevel: 'info',
                },
                logger,
              );
        // Calls of the cluster's Kubernetes API once the held pass is let go.
        let kubeCalls = 0;
        let counting = false;
        const count = () => {
          if (counting) kubeCalls++;
        };
        runtime.kubeApp.server.on('request', count);
        const kube = new KubeClients();
        const worker = new ReconcileLoop(
          services.database,
          services.workSignal,
          {
            store: reconcileStore(services.clusterStore),
            provider,
            connection: servedConnection(server.config.kubePublicUrl, services.clusterToken, caPem),
            kube,
            ...PASS_SETTINGS,
          },
          { concurrency: 4, pollMs: 50, resyncMs: 60_000, leaseMs: 1_000 },
          logger,
          passes,
        );
        worker.start();
        try {
          await inside;
          // Another worker takes the cluster over, as if this one had been starved past its lease.
          await services.database.db
            .updateTable('reconcile_work')
            .set({ lease_owner: 'another-worker', lease_expires_at: Date.now() + 60_000 })
            .where('cluster_id', '=', created.id)
            .execute();
          await waitFor(() => lines.some((line) => line.includes('Lost the lease')), {
            timeoutMs: 5_000,
            what: 'the renewal to notice the lost lease',
          });
          counting = true;
          letGo();
        } finally {
          letGo();
          await worker.stop();
          kube.close();
          runtime.kubeApp.server.off('request', count);
        }
        assert.equal(kubeCalls, 0, 'the pass let go made no Kubernetes API call');
        const cluster = await services.clusterStore.get(created.id);
        assert.equal(cluster?.status, 'INSTALLING', 'the stopped pass wrote no status');
        const row = await services.database.db
          .selectFrom('reconcile_work')
          .select(['lease_owner'])
          .where('cluster_id', '=', created.id)
          .executeTakeFirstOrThrow();
        assert.equal(row.lease_owner, 'another-worker');
        assert.ok(!lines.some((line) => line.includes('Reconcile failed')), 'no retry was scheduled');
        const lost = lines.findIndex((line) => line.includes('Lost the lease'));
        const afterwards = lines.slice(lost + 1).map((line) => (JSON.parse(line) as { msg: string }).msg);
        assert.deepEqual(
          afterwards.filter((msg) => /Applied|Restarting|ready/.test(msg)),
          [],
          'the pass changed nothing once it lost the lease',
        );
      });
  });
}
