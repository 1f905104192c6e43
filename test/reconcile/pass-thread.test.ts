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
import { type PassListener, type PassRunner, ReconcileLoop } from '../../src/reconcile/loop.ts';
import { fromThreadError, PassThread, toThreadError } from '../../src/reconcile/pass-thread.ts';
import { servePassCall } from '../../src/reconcile/pass-thread-rpc.ts';
import { reconcileStore } from '../../src/reconcile/reconcile-store.ts';
import { clusterKube, kubeProxyConfigConf } from '../support/cluster-state.ts';
import { PASS_SETTINGS } from '../support/pass-settings.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** What /proc says each thread of this process is called (none without /proc). */
function threadNames(): string[] {
  if (!fs.existsSync('/proc/self/task')) return [];
  return fs.readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      return [fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim()];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

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

    async function runWorker(
      kubeTokenKey: Buffer,
      until: () => Promise<boolean>,
      {
        resyncMs = RESYNC_MS,
        onPass,
        sent,
        timeoutMs = 20_000,
      }: { resyncMs?: number; onPass?: PassListener; sent?: string[]; timeoutMs?: number } = {},
    ): Promise<void> {
      const { runtime, services } = server;
      const thread = new PassThread(
        {
          kubePublicUrl: server.config.kubePublicUrl,
          caPem: fs.readFileSync(runtime.kubeCaFile, 'utf8'),
          kubeTokenKey,
          settings: PASS_SETTINGS,
          logLevel: 'silent',
        },
        pino({ level: 'silent' }),
      );
      // Every pass sent to the thread, by cluster.
      const passes: PassRunner = {
        run: (ctx, clusterId, lease) => {
          sent?.push(clusterId);
          return thread.run(ctx, clusterId, lease);
        },
        close: () => thread.close(),
      };
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
        { concurrency: 4, pollMs: 50, resyncMs, leaseMs: 5_000 },
        pino({ level: 'silent' }),
        passes,
      );
      if (onPass !== undefined) worker.onPass(onPass);
      worker.start();
      try {
        await waitFor(until, { timeoutMs, what: 'the worker to settle the cluster' });
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
      // The threads of this process as Linux names them, seen while the pass runs.
      const names = new Set<string>();
      await runWorker(server.services.kubeTokenKey, async () => {
        for (const name of threadNames()) names.add(name);
        return (await status(id))?.status === 'READY';
      });
      const cluster = await status(id);
      assert.equal(cluster?.observedGeneration, cluster?.generation);
      assert.equal(cluster?.statusMessage, null);
      if (fs.existsSync('/proc/self/task')) {
        assert.ok(names.has('mks-reconciler'), `the reconciler thread is named: ${[...names].join(', ')}`);
        assert.ok(names.has('mks-checkpoint'), `the checkpointer thread is named: ${[...names].join(', ')}`);
      }
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

    test("a settled cluster's resync sends no pass to the thread; an edit through its Kubernetes API sends one, which restores it", async () => {
      const { id } = await create('settled');
      const sent: string[] = [];
      const sentFor = () => sent.filter((clusterId) => clusterId === id).length;
      /** At each pass that ended done: how many passes had been sent to the thread by then. */
      const done: number[] = [];
      const onPass: PassListener = (outcome) => {
        if (outcome === 'done') done.push(sent.length);
      };
      /** Three passes in a row ended done with none sent to the thread (the earlier tests' clusters settle too). */
      const quiet = () => done.length >= 4 && done.at(-1) === done.at(-4);
      let k: Awaited<ReturnType<typeof clusterKube>> | undefined;
      await runWorker(
        server.services.kubeTokenKey,
        async () => {
          if ((await status(id))?.status !== 'READY' || !quiet()) return false;
          if (k === undefined) {
            k = await clusterKube(server.client, `/cloud/project/${server.projectId}/kube`, id);
            const desired = await kubeProxyConfigConf(k);
            assert.ok(sentFor() > 0, 'the cluster was installed by passes in the thread');
            const before = sentFor();
            const configMap = await k.core.readNamespacedConfigMap({
              name: 'kube-proxy',
              namespace: 'kube-system',
            });
            configMap.data = { ...configMap.data, 'config.conf': `${desired}# edited\n` };
            await k.core.replaceNamespacedConfigMap({
              name: 'kube-proxy',
              namespace: 'kube-system',
              body: configMap,
            });
            // Restored by a pass sent to the thread, then quiet again.
            await waitFor(async () => ((await kubeProxyConfigConf(k!)) === desired ? true : undefined), {
              timeoutMs: 15_000,
              what: 'the ConfigMap to be restored',
            });
            assert.ok(sentFor() > before, 'the edit sent a pass over the cluster to the thread');
            done.length = 0;
            return false;
          }
          return true;
        },
        // Installed, settled, edited, restored, settled again.
        { resyncMs: 100, onPass, sent, timeoutMs: 40_000 },
      );
      k?.close();
    });
  });
});
