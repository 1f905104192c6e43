/**
 * Drift repair, on every engine, with real kubectl: kube-proxy's ConfigMap or DaemonSet edited in
 * the cluster is noticed within a resync, restored once (not fought over), recorded as a `drift`
 * history entry and as a Kubernetes Event that `kubectl get events -n kube-system` lists; rollouts
 * are recorded as Events too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  clusterKube,
  settledPasses as countSettledPasses,
  kubeProxyConfigConf,
  kubeSystemEvents,
} from '../support/cluster-state.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import type { KubeAccess } from '../support/kube.ts';
import { hasKubectl } from '../support/kubectl.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const TIMEOUT = { timeoutMs: 15_000, intervalMs: 50 };

interface Entry {
  action: string;
  note: string | null;
}

for (const dialect of DIALECTS) {
  describe(`drift repair (${dialect})`, { skip: !hasKubectl() && 'kubectl is missing' }, () => {
    let server: TestServer;
    let kube: string;
    let clusterId: string;
    let k: KubeAccess;

    before(async () => {
      server = await startTestServer(dialect, {
        MKS_POD_START_MS: '100',
        MKS_RESYNC_MS: '300',
        MKS_PROGRESS_MS: '50',
      });
      kube = `/cloud/project/${server.projectId}/kube`;
      clusterId = (
        await server.client.call<{ id: string }>('POST', kube, {
          region: 'GRA7',
          customization: { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } },
        })
      ).id;
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      k = await clusterKube(server.client, kube, clusterId);
    });
    after(async () => {
      k?.close();
      await server.close();
    });

    const drifts = async () =>
      (await server.client.call<Entry[]>('GET', `${kube}/${clusterId}/customization/history`)).filter(
        (entry) => entry.action === 'drift',
      );
    const driftEvents = async () =>
      (await kubeSystemEvents(k)).filter((event) => event.reason === 'DriftRepaired');
    /** Passes that found the cluster settled: each checked it for drift, or found it unchanged since one that did. */
    const settledPasses = () => countSettledPasses(server);

    test('the rollout of each generation is recorded as Events that kubectl lists', async () => {
      const rollout = (await kubeSystemEvents(k)).filter((event) => event.reason.startsWith('Rollout'));
      assert.deepEqual(
        rollout.map((event) => [event.type, event.reason]),
        [
          ['Normal', 'RolloutStarted'],
          ['Normal', 'RolloutCompleted'],
        ],
      );
      assert.match(
        rollout[0]!.message,
        /^mks restarts kube-proxy node by node for generation 1 \(config [0-9a-f]{16}\)$/,
      );
      assert.match(rollout[1]!.message, /^every kube-proxy pod runs generation 1 /);
    });

    test('a ConfigMap edited with kubectl is restored within a resync, once, with a history entry and an Event', async () => {
      const desired = await kubeProxyConfigConf(k);
      const edited = desired.replace('syncPeriod: 45s', 'syncPeriod: 10s');
      assert.notEqual(edited, desired);
      await k.patchConfigConf(edited, 'merge');
      await waitFor(async () => ((await kubeProxyConfigConf(k)) === desired ? true : undefined), {
        ...TIMEOUT,
        what: 'the ConfigMap to be restored',
      });
      const [entry] = await waitFor(async () => ((await drifts()).length === 1 ? drifts() : undefined), {
        ...TIMEOUT,
        what: 'a drift history entry',
      });
      assert.match(
        entry!.note ?? '',
        /^ConfigMap kube-system\/kube-proxy \(config\.conf\) changed in the cluster, not through mks; restored/,
      );
      const events = await driftEvents();
      assert.equal(events.length, 1);
      assert.equal(events[0]!.involvedObject.kind, 'ConfigMap');
      assert.equal(events[0]!.message, entry!.note);
      const listed = await k.kubectl('get', 'events', '-n', 'kube-system');
      assert.match(listed, /DriftRepaired/);
      assert.match(await (await fetch(`${server.baseUrl}/metrics`)).text(), /^mks_drift_repairs_total 1$/m);

      // Repaired once: later passes find the desired state and leave it (no entry, no Event more).
      const passes = await settledPasses();
      await waitFor(async () => ((await settledPasses()) >= passes + 3 ? true : undefined), {
        ...TIMEOUT,
        what: 'three more settled passes',
      });
      assert.equal((await drifts()).length, 1);
      assert.equal((await driftEvents()).length, 1);
      assert.equal(await kubeProxyConfigConf(k), desired);
    });

    test("the DaemonSet's config-hash annotation edited with kubectl is restored and kube-proxy ends on the desired config", async () => {
      const daemonSet = await k.json<{
        spec: { template: { metadata: { annotations: Record<string, string> } } };
      }>('get', 'ds', 'kube-proxy', '-n', 'kube-system', '-o', 'json');
      const hash = daemonSet.spec.template.metadata.annotations['mks.ovh/config-hash']!;
      await k.kubectl(
        'patch',
        'ds',
        'kube-proxy',
        '-n',
        'kube-system',
        '--type',
        'strategic',
        '-p',
        JSON.stringify({
          spec: { template: { metadata: { annotations: { 'mks.ovh/config-hash': 'edited' } } } },
        }),
      );
      const [latest] = await waitFor(async () => ((await drifts()).length === 2 ? drifts() : undefined), {
        ...TIMEOUT,
        what: 'a second drift history entry',
      });
      assert.match(
        latest!.note ?? '',
        /^DaemonSet kube-system\/kube-proxy \(pod template's mks\.ovh\/config-hash\)/,
      );
      await waitFor(
        async () => {
          const pods = await k.kubeProxyPods();
          return pods.length === 3 &&
            pods.every((pod) => pod.metadata?.annotations?.['mks.ovh/config-hash'] === hash) &&
            pods.every((pod) =>
              pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
            )
            ? true
            : undefined;
        },
        { ...TIMEOUT, what: 'every kube-proxy pod back on the desired config' },
      );
      const events = await driftEvents();
      assert.deepEqual(events.map((event) => event.involvedObject.kind).sort(), ['ConfigMap', 'DaemonSet']);
      assert.equal(
        (await server.client.call<{ status: string }>('GET', `${kube}/${clusterId}`)).status,
        'READY',
      );
    });
  });
}
