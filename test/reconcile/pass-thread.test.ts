/**
 * The reconciler thread (src/reconcile/pass-thread.ts) as the worker loop sees it: what a pass in
 * the thread throws reaches the loop as the error it was, so a terminal Kubernetes answer still
 * puts the cluster in ERROR with its reason, and the thread's store calls are the main thread's.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { KubeClients, KubeError } from '../../src/reconcile/kube/kube-client.ts';
import { LeaseLostError } from '../../src/reconcile/lease.ts';
import { ReconcileLoop } from '../../src/reconcile/loop.ts';
import { fromThreadError, PassThread, toThreadError } from '../../src/reconcile/pass-thread.ts';
import { servePassCall } from '../../src/reconcile/pass-thread-rpc.ts';
import { reconcileStore } from '../../src/reconcile/reconcile-store.ts';
import { PASS_SETTINGS } from '../support/pass-settings.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** Long enough that a look scheduled after it is told apart from a retry (backoff ≤ 30 s). */
const RESYNC_MS = 60_000;

describe('reconciler thread', () => {
  test('errors keep their kind across threads', () => {
    const terminal = fromThreadError(
      toThreadError(new KubeError('terminal', 'read DaemonSet: HTTP 401: Unauthorized', 401, undefined)),
    );
    assert.ok(terminal instanceof KubeError);
    assert.equal(terminal.kind, 'terminal');
    assert.equal(terminal.status, 401);
    assert.equal(terminal.message, 'read DaemonSet: HTTP 401: Unauthorized');
    assert.ok(fromThreadError(toThreadError(new LeaseLostError())) instanceof LeaseLostError);
    const plain = fromThreadError(toThreadError(new TypeError('boom')));
    assert.ok(!(plain instanceof KubeError));
    assert.equal(plain.name, 'TypeError');
    assert.equal(plain.message, 'boom');
  });

  test('the main thread serves only the operations the contracts list', async () => {
    const calls: string[] = [];
    const targets = {
      store: {
        get: async (id: string) => {
          calls.push(`get ${id}`);
          return undefined;
        },
        markDeleted: async () => {},
        writeStatus: async () => {},
        markError: async () => {},
        recordDrift: async () => {},
        rollbackTarget: async () => undefined,
        recordRollback: async () => false,
        resizePool: async () => {},
      },
      provider: {
        ensureCluster: async () => undefined,
        setApiServerFlags: async () => {},
        restartApiServer: async () => {},
        eraseCluster: async () => {},
        destroyCluster: async () => {},
      },
    };
    assert.equal(await servePassCall(targets, { target: 'store', method: 'get', args: ['c1'] }), undefined);
    assert.deepEqual(calls, ['get c1']);
    for (const call of [
      { target: 'store', method: 'update', args: [] },
      { target: 'store', method: 'constructor', args: [] },
      { target: 'provider', method: 'connection', args: [] },
      { target: 'database', method: 'get', args: [] },
    ]) {
      await assert.rejects(servePassCall(targets, call), /unknown call/, `${call.target}.${call.method}`);
    }
    assert.deepEqual(calls, ['get c1'], 'nothing else ran');
  });

  describe('against a running mks (sqlite)', () => {
    let server: TestServer;
    before(async () => {
      // The runtime's own worker is off: the test runs one of its own.
      server = await startTestServer('sqlite', { MKS_WORKER: 'false' });
    });
    after(async () => {
      await server.close();
    });

    async function runWorker(kubeTokenKey: Buffer, until: () => Promise<boolean>): Promise<void> {
      const { runtime, services } = server;
      const passes = new PassThread(
        {
          kubePublicUrl: server.config.kubePublicUrl,
          caPem: fs.readFileSync(runtime.kubeCaFile, 'utf8'),
          kubeTokenKey,
          settings: PASS_SETTINGS,
          logLevel: 'silent',
        },
        pino({ level: 'silent' }),
      );
      // Unused by a worker whose passes run in the thread (it has Kubernetes clients of its own).
      const kube = new KubeClients();
      const worker = new ReconcileLoop(
        services.database,
        services.workSignal,
        {
          store: reconcileStore(services.clusterStore),
          provider: runtime.emulator,
          connection: () => {
            throw new Error('the main thread makes no Kubernetes call when passes run in the thread');
          },
          kube,
          ...PASS_SETTINGS,
        },
        { concurrency: 4, pollMs: 50, resyncMs: RESYNC_MS, leaseMs: 5_000 },
        pino({ level: 'silent' }),
        passes,
      );
      worker.start();
      try {
        await waitFor(until, { timeoutMs: 20_000, what: 'the worker to settle the cluster' });
      } finally {
        await worker.stop();
        kube.close();
      }
    }

    const create = (name: string) =>
      server.client.call<{ id: string }>('POST', `/cloud/project/${server.projectId}/kube`, {
        region: 'GRA7',
        name,
      });
    const status = async (id: string) => server.services.clusterStore.get(id);

    test('a pass in the thread installs a cluster: READY, written through the main thread', async () => {
      const { id } = await create('threaded');
      await runWorker(server.services.kubeTokenKey, async () => (await status(id))?.status === 'READY');
      const cluster = await status(id);
      assert.equal(cluster?.observedGeneration, cluster?.generation);
      assert.equal(cluster?.statusMessage, null);
    });

    test('a terminal Kubernetes answer in the thread puts the cluster in ERROR with its reason', async () => {
      const { id } = await create('refused');
      // Tokens derived from another key: the cluster's Kubernetes API answers 401 (terminal).
      await runWorker(crypto.randomBytes(32), async () => (await status(id))?.status === 'ERROR');
      const cluster = await status(id);
      assert.match(cluster?.statusMessage ?? '', /401/);
    });

    test('a terminal Kubernetes answer stops the retries: the cluster is looked at again after the resync period', async () => {
      const { id } = await create('refused-once');
      const started = Date.now();
      await runWorker(crypto.randomBytes(32), async () => (await status(id))?.status === 'ERROR');
      // The worker has stopped, its pass released: no backoff was scheduled, only the resync.
      const work = await server.services.database.db
        .selectFrom('reconcile_work')
        .select(['attempts', 'not_before', 'lease_owner'])
        .where('cluster_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(work.lease_owner, null);
      assert.equal(work.attempts, 0);
      assert.ok(
        Number(work.not_before) >= started + RESYNC_MS,
        `next look at ${Number(work.not_before) - started} ms, not a retry`,
      );
    });
  });
});
