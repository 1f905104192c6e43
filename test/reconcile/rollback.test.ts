/**
 * The health-gated rollout, on every engine, with real kubectl: a node whose kernel lacks an IPVS
 * scheduler's module (the emulator's node fault, set with `kubectl annotate node`) crash-loops
 * kube-proxy on a customization mks accepts. The rollout stops there and the nodes changed go
 * back to the last config healthy everywhere; the cluster reports ERROR naming the node, the
 * reason and the rollback, the desired customization stays what the user sent, drift repair
 * leaves the rolled-back state alone, metrics count it, and a later change rolls out normally.
 * With MKS_AUTO_ROLLBACK=false the rollout only stops. A pass that stops between recording the
 * rollback and carrying it out leaves it to the next pass, which completes it (level-triggered).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import { type ClusterKube, KubeClients } from '../../src/reconcile/kube/kube-client.ts';
import { ReconcileLoop } from '../../src/reconcile/loop.ts';
import { servedConnection } from '../../src/reconcile/provider.ts';
import { type ReconcileStore, reconcileStore } from '../../src/reconcile/reconcile-store.ts';
import { clusterKube, kubeProxyConfigConf, kubeSystemEvents } from '../support/cluster-state.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { isRunning } from '../support/kube.ts';
import { hasKubectl } from '../support/kubectl.ts';
import { PASS_SETTINGS } from '../support/pass-settings.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const TIMEOUT = { timeoutMs: 20_000, intervalMs: 50 };
const HASH = 'mks.ovh/config-hash';
const FAULT = 'emulator.mks.internal/missing-kernel-modules';

interface Entry {
  generation: number;
  action: string;
  rolledBackTo: number | null;
  note: string | null;
  outcome: { status: string; message: string | null } | null;
}
type Cluster = { id: string; status: string; statusMessage: string | null };

const hashOf = (pod: V1Pod) => pod.metadata?.annotations?.[HASH];

/** A READY ipvs cluster (scheduler rr) with one node lacking `ip_vs_sh`, and what it runs. */
async function faultyCluster(server: TestServer) {
  const kube = `/cloud/project/${server.projectId}/kube`;
  const { id } = await server.client.call<{ id: string }>('POST', kube, {
    region: 'GRA7',
    kubeProxyMode: 'ipvs',
  });
  await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs);
  const k = await clusterKube(server.client, kube, id);
  const pods = await k.kubeProxyPods();
  assert.equal(pods.length, 3);
  const healthyHash = hashOf(pods[0]!)!;
  const healthyConf = await kubeProxyConfigConf(k);
  const node = pods[1]!.spec!.nodeName!;
  await k.kubectl('annotate', 'node', node, `${FAULT}=ip_vs_sh`);
  return { kube, id, k, node, healthyHash, healthyConf };
}

/**
 * Changes the cluster to the scheduler its faulty node lacks, then waits until the change is
 * rolled back: ERROR, the healthy ConfigMap, three running kube-proxy pods on its hash.
 */
async function failAndRollBack(
  server: TestServer,
  cluster: Awaited<ReturnType<typeof faultyCluster>>,
  what: string,
): Promise<void> {
  const { kube, id, k, healthyHash, healthyConf } = cluster;
  await server.client.call('PUT', `${kube}/${id}/customization`, {
    kubeProxy: { ipvs: { scheduler: 'sh' } },
  });
  await untilClusterStatus(server.client, kube, id, 'ERROR', TIMEOUT.timeoutMs);
  await waitFor(
    async () => {
      const pods = await k.kubeProxyPods();
      return (await kubeProxyConfigConf(k)) === healthyConf &&
        pods.length === 3 &&
        pods.every((pod) => hashOf(pod) === healthyHash && isRunning(pod))
        ? true
        : undefined;
    },
    { ...TIMEOUT, what },
  );
}

/** A reconcile loop of the test's own over `store` and `kube` (the server's worker is off). */
function ownLoop(server: TestServer, store: ReconcileStore, kube: KubeClients): ReconcileLoop {
  const { runtime, services } = server;
  const caPem = fs.readFileSync(runtime.kubeCaFile, 'utf8');
  return new ReconcileLoop(
    services.database,
    services.workSignal,
    {
      store,
      provider: runtime.emulator,
      connection: servedConnection(server.config.kubePublicUrl, services.clusterToken, caPem),
      kube,
      ...PASS_SETTINGS,
    },
    { concurrency: 4, pollMs: 50, resyncMs: 300, leaseMs: 5_000 },
    pino({ level: 'silent' }),
  );
}

async function metric(server: TestServer, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => pattern.test(candidate));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

for (const dialect of DIALECTS) {
  describe(`health-gated rollout (${dialect})`, { skip: !hasKubectl() && 'kubectl is missing' }, () => {
    let server: TestServer;
    let cluster: Awaited<ReturnType<typeof faultyCluster>>;

    before(async () => {
      server = await startTestServer(dialect, {
        MKS_POD_START_MS: '100',
        MKS_RESYNC_MS: '300',
        MKS_PROGRESS_MS: '50',
      });
      cluster = await faultyCluster(server);
    });
    after(async () => {
      cluster?.k.close();
      await server.close();
    });

    const history = () =>
      server.client.call<Entry[]>('GET', `${cluster.kube}/${cluster.id}/customization/history`);
    const get = () => server.client.call<Cluster>('GET', `${cluster.kube}/${cluster.id}`);

    test('a config that crash-loops on a node is rolled back, and the cluster keeps serving on the old one', async () => {
      const { kube, id, k, node, healthyHash, healthyConf } = cluster;
      assert.equal(await metric(server, /^mks_rollbacks_total /), 0);
      const sent = { kubeProxy: { ipvs: { scheduler: 'sh' } } };
      await server.client.call('PUT', `${kube}/${id}/customization`, sent);

      const failed = await untilClusterStatus(server.client, kube, id, 'ERROR', TIMEOUT.timeoutMs);
      const message = String(failed.statusMessage);
      assert.ok(message.includes(`kube-proxy on node ${node} `), message);
      assert.match(message, /CrashLoopBackOff: Error running ProxyServer: can't use the IPVS proxier: /);
      assert.match(message, /scheduler="sh": no such file or directory/);
      assert.match(
        message,
        /rolled back: kube-proxy's nodes went back to generation 1 \(config [0-9a-f]{16}\)/,
      );

      // Every node back on the config healthy everywhere, read through the Kubernetes API.
      await waitFor(
        async () => {
          const pods = await k.kubeProxyPods();
          return pods.length === 3 && pods.every((pod) => hashOf(pod) === healthyHash && isRunning(pod))
            ? true
            : undefined;
        },
        { ...TIMEOUT, what: 'every kube-proxy pod back on the healthy config and running' },
      );
      assert.equal(await kubeProxyConfigConf(k), healthyConf);
      const daemonSet = await k.apps.readNamespacedDaemonSet({
        name: 'kube-proxy',
        namespace: 'kube-system',
      });
      assert.equal(daemonSet.spec?.template?.metadata?.annotations?.[HASH], healthyHash);

      // What the user sent stays desired (Terraform sees no drift).
      const customization = await server.client.call<{ kubeProxy: { ipvs: { scheduler?: string } } }>(
        'GET',
        `${kube}/${id}/customization`,
      );
      assert.equal(customization.kubeProxy.ipvs.scheduler, 'sh');

      const [rollback, change] = await history();
      assert.equal(rollback?.action, 'rollback');
      assert.equal(rollback?.generation, 2);
      assert.equal(rollback?.rolledBackTo, 1);
      assert.equal(rollback?.note, message);
      assert.equal(rollback?.outcome, null);
      assert.equal(change?.action, 'customize');
      assert.deepEqual(change?.outcome && [change.outcome.status, change.outcome.message], [
        'ERROR',
        message,
      ]);

      const rollout = await server.client.call<{ phase: string; nodes: Array<{ generation: number }> }>(
        'GET',
        `${kube}/${id}/rollout`,
      );
      assert.equal(rollout.phase, 'rolled-back');
      assert.deepEqual(
        rollout.nodes.map((n) => n.generation),
        [1, 1, 1],
      );
      const rolledBack = (await kubeSystemEvents(k)).filter((event) => event.reason === 'RolledBack');
      assert.deepEqual(
        rolledBack.map((event) => [event.type, event.message]),
        [['Warning', message]],
      );
      assert.equal(await metric(server, /^mks_rollbacks_total /), 1);
      assert.equal(await metric(server, /^mks_rollout_duration_seconds_count\{outcome="rolled-back"\} /), 1);
    });

    test('drift repair leaves the rolled-back state alone: nothing is re-applied or recorded, the cluster stays ERROR', async () => {
      const { k, healthyHash, healthyConf } = cluster;
      const settled = () => metric(server, /^mks_reconcile_passes_total\{outcome="done"\} /);
      const passes = await settled();
      await waitFor(async () => ((await settled()) >= passes + 3 ? true : undefined), {
        ...TIMEOUT,
        what: 'three more settled passes',
      });
      const entries = await history();
      assert.deepEqual(
        entries.map((entry) => entry.action),
        ['rollback', 'customize', 'create'],
      );
      assert.equal((await get()).status, 'ERROR');
      assert.equal(await kubeProxyConfigConf(k), healthyConf);
      assert.ok((await k.kubeProxyPods()).every((pod) => hashOf(pod) === healthyHash));
      assert.equal(await metric(server, /^mks_rollbacks_total /), 1);

      // An edit in the cluster is measured against the rolled-back config, and put back once.
      await k.patchConfigConf(`${healthyConf}# edited\n`, 'merge');
      const [drift] = await waitFor(
        async () => {
          const latest = await history();
          return latest[0]?.action === 'drift' ? latest : undefined;
        },
        { ...TIMEOUT, what: 'a drift entry' },
      );
      assert.match(drift?.note ?? '', /^ConfigMap kube-system\/kube-proxy \(config\.conf\) changed/);
      assert.equal(await kubeProxyConfigConf(k), healthyConf);
      assert.equal((await get()).status, 'ERROR');
    });

    test('a later change rolls out normally: a healthy config makes the cluster READY', async () => {
      const { kube, id, k } = cluster;
      await server.client.call('PUT', `${kube}/${id}/customization`, {
        kubeProxy: { ipvs: { scheduler: 'lc' } },
      });
      const ready = await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs);
      assert.equal(ready.statusMessage, null);
      assert.match(await kubeProxyConfigConf(k), /scheduler: lc/);
      const pods = await k.kubeProxyPods();
      const hashes = new Set(pods.map(hashOf));
      assert.equal(hashes.size, 1);
      assert.ok(pods.every(isRunning));
      assert.equal(await metric(server, /^mks_rollbacks_total /), 1);
      assert.equal(await metric(server, /^mks_rollout_duration_seconds_count\{outcome="READY"\} /), 2);
    });

    test('a second failure rolls back to the newest healthy generation, and a revert makes the cluster READY', async () => {
      const { kube, id, k } = cluster;
      const healthyConf = await kubeProxyConfigConf(k);
      await server.client.call('PUT', `${kube}/${id}/customization`, {
        kubeProxy: { ipvs: { scheduler: 'sh' } },
      });
      const failed = await untilClusterStatus(server.client, kube, id, 'ERROR', TIMEOUT.timeoutMs);
      assert.match(String(failed.statusMessage), /went back to generation 3 /);
      const [rollback] = await history();
      assert.deepEqual([rollback?.action, rollback?.generation, rollback?.rolledBackTo], ['rollback', 4, 3]);
      await waitFor(async () => ((await kubeProxyConfigConf(k)) === healthyConf ? true : undefined), {
        ...TIMEOUT,
        what: 'the ConfigMap back on generation 3',
      });

      await server.client.call('POST', `${kube}/${id}/customization/revert`, { generation: 1 });
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs);
      assert.equal((await history())[0]?.action, 'revert');
      assert.equal(await metric(server, /^mks_rollbacks_total /), 2);
    });
  });

  describe(`rollout with MKS_AUTO_ROLLBACK=false (${dialect})`, {
    skip: !hasKubectl() && 'kubectl is missing',
  }, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(dialect, {
        MKS_POD_START_MS: '100',
        MKS_RESYNC_MS: '300',
        MKS_PROGRESS_MS: '50',
        MKS_AUTO_ROLLBACK: 'false',
      });
    });
    after(async () => {
      await server.close();
    });

    test('the rollout stops at the failing node and the cluster reports ERROR, with no rollback', async () => {
      const { kube, id, k, node, healthyHash } = await faultyCluster(server);
      try {
        await server.client.call('PUT', `${kube}/${id}/customization`, {
          kubeProxy: { ipvs: { scheduler: 'sh' } },
        });
        const failed = await untilClusterStatus(server.client, kube, id, 'ERROR', TIMEOUT.timeoutMs);
        assert.ok(
          String(failed.statusMessage).includes(`kube-proxy on node ${node} `),
          String(failed.statusMessage),
        );
        assert.doesNotMatch(String(failed.statusMessage), /rolled back/);
        assert.match(await kubeProxyConfigConf(k), /scheduler: sh/);
        const pods = await k.kubeProxyPods();
        const onFaulty = pods.find((pod) => pod.spec?.nodeName === node)!;
        assert.notEqual(hashOf(onFaulty), healthyHash);
        assert.equal(onFaulty.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'CrashLoopBackOff');
        const entries = await server.client.call<Entry[]>('GET', `${kube}/${id}/customization/history`);
        assert.ok(entries.every((entry) => entry.action !== 'rollback'));
        assert.equal(await metric(server, /^mks_rollbacks_total /), 0);
        assert.equal(await metric(server, /^mks_rollout_duration_seconds_count\{outcome="ERROR"\} /), 1);
      } finally {
        k.close();
      }
    });
  });

  describe(`passes of a rolled-back cluster, interrupted or raced (${dialect})`, {
    skip: !hasKubectl() && 'kubectl is missing',
  }, () => {
    let server: TestServer;
    before(async () => {
      // The runtime's own worker is off: each test runs one of its own (a pass that stops
      // mid-rollback, a store that lands a change mid-pass).
      server = await startTestServer(dialect, { MKS_POD_START_MS: '100', MKS_WORKER: 'false' });
    });
    after(async () => {
      await server.close();
    });

    test('the next pass completes it: the nodes go back, one rollback recorded, the cluster stays ERROR', async () => {
      const { services } = server;
      // Once the rollback is recorded, the pass's next Kubernetes write fails, as if it crashed there.
      let crashNext = false;
      const base = reconcileStore(services.clusterStore);
      const store: ReconcileStore = {
        ...base,
        recordRollback: async (...args) => {
          const recorded = await base.recordRollback(...args);
          crashNext = recorded;
          return recorded;
        },
      };
      class CrashingClients extends KubeClients {
        override for(...args: Parameters<KubeClients['for']>): ClusterKube {
          const kube = super.for(...args);
          return new Proxy(kube, {
            get(target, name, receiver) {
              const value = Reflect.get(target, name, receiver);
              if (name !== 'applyConfigMap' || typeof value !== 'function') return value;
              return async (...call: unknown[]) => {
                if (crashNext) {
                  crashNext = false;
                  throw new Error('the pass stopped here');
                }
                return value.apply(target, call);
              };
            },
          });
        }
      }
      const kube = new CrashingClients();
      const worker = ownLoop(server, store, kube);
      worker.start();
      const faulty = await faultyCluster(server);
      const { kube: kubePath, id, k } = faulty;
      try {
        await failAndRollBack(server, faulty, 'the interrupted rollback to be completed by a later pass');
        assert.equal(crashNext, false, 'the pass did stop after recording the rollback');
        const entries = await server.client.call<Entry[]>('GET', `${kubePath}/${id}/customization/history`);
        assert.deepEqual(
          entries.map((entry) => entry.action),
          ['drift', 'rollback', 'customize', 'create'],
        );
        assert.match(
          entries[0]?.note ?? '',
          /^ConfigMap kube-system\/kube-proxy \(config\.conf\) and DaemonSet/,
        );
        assert.equal(entries[1]?.rolledBackTo, 1);
        const cluster = await server.client.call<Cluster>('GET', `${kubePath}/${id}`);
        assert.equal(cluster.status, 'ERROR');
        assert.match(String(cluster.statusMessage), /rolled back/);
      } finally {
        k.close();
        await worker.stop();
        kube.close();
      }
    });

    test("the pass measures drift against its own generation's rollback: the failed config is not put back", async () => {
      // Once armed, the next rollback-target read (a pass checking the rolled-back cluster for
      // drift) first lands a revert through the API: the pass holds the older generation's record.
      // (The earlier test's cluster, rolled back too, is checked by the same loop: not armed for.)
      let changeDuringCheck: { clusterId: string; change: () => Promise<void> } | undefined;
      const base = reconcileStore(server.services.clusterStore);
      const store: ReconcileStore = {
        ...base,
        rollbackTarget: async (clusterId, generation) => {
          const armed = changeDuringCheck;
          if (armed?.clusterId === clusterId) {
            changeDuringCheck = undefined;
            await armed.change();
          }
          return base.rollbackTarget(clusterId, generation);
        },
      };
      const kube = new KubeClients();
      const worker = ownLoop(server, store, kube);
      worker.start();
      const faulty = await faultyCluster(server);
      const { kube: kubePath, id, k, healthyConf } = faulty;
      try {
        await failAndRollBack(server, faulty, 'the rollback to be done');
        let reverted = false;
        changeDuringCheck = {
          clusterId: id,
          change: async () => {
            await server.client.call('POST', `${kubePath}/${id}/customization/revert`, { generation: 1 });
            reverted = true;
          },
        };
        await waitFor(async () => reverted || undefined, {
          ...TIMEOUT,
          what: 'a pass to check the rolled-back cluster',
        });
        await untilClusterStatus(server.client, kubePath, id, 'READY', TIMEOUT.timeoutMs);
        const entries = await server.client.call<Entry[]>('GET', `${kubePath}/${id}/customization/history`);
        assert.deepEqual(
          entries.map((entry) => entry.action),
          ['revert', 'rollback', 'customize', 'create'],
          'no drift: the ConfigMap matched the rolled-back config the pass was checking',
        );
        assert.equal(await kubeProxyConfigConf(k), healthyConf);
      } finally {
        k.close();
        await worker.stop();
        kube.close();
      }
    });
  });
}
