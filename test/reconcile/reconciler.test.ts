/**
 * The reconciler end to end, in process, on every engine: the API records intent, the worker
 * applies it to an emulated cluster, and real kubectl (with the kubeconfig the API hands out)
 * sees the result. Covers create, customization rollouts (node by node, idempotent, API-server
 * flags only), reset, delete and a config kube-proxy refuses.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { configHash } from '../../src/customization/kube-proxy-config.ts';
import { clusterKube } from '../support/cluster-state.ts';
import { type ClusterView, untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { GUIDE_KUBE_PROXY } from '../support/fixtures.ts';
import { isRunning, KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const BASE_CONFIG = {
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  bindAddress: '0.0.0.0',
  clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
  clusterCIDR: '10.2.0.0/16',
};

/** Pods start in 300 ms (rollouts of 3 nodes are observable); settled clusters are re-checked every 300 ms. */
const ENV = {
  MKS_POD_START_MS: '300',
  MKS_RESYNC_MS: '300',
  MKS_PROGRESS_MS: '50',
};
const TIMEOUT = { timeoutMs: 15_000, intervalMs: 50 };

type Cluster = Record<string, unknown> & { id: string; status: string; statusMessage: string | null };

interface ConfigMapJson {
  metadata: { annotations?: Record<string, string> };
  data: Record<string, string>;
}

for (const dialect of DIALECTS) {
  describe(`reconciler with emulated clusters (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    const opened: KubeAccess[] = [];

    before(async () => {
      server = await startTestServer(dialect, ENV);
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(async () => {
      for (const access of opened) access.close();
      await server.close();
    });

    const get = (id: string) => server.client.call<Cluster>('GET', `${kube}/${id}`);

    async function untilStatus(id: string, status: string): Promise<Cluster> {
      return waitFor(
        async () => {
          const cluster = await get(id);
          if (cluster.status === 'ERROR' && status !== 'ERROR')
            throw new Error(`cluster went ERROR: ${cluster.statusMessage}`);
          return cluster.status === status ? cluster : undefined;
        },
        { ...TIMEOUT, what: `cluster ${id} to be ${status}` },
      );
    }

    async function access(id: string): Promise<KubeAccess> {
      const { content } = await server.client.call<{ content: string }>('POST', `${kube}/${id}/kubeconfig`);
      const result = new KubeAccess(content);
      opened.push(result);
      return result;
    }

    async function createReady(body: Record<string, unknown>): Promise<{ cluster: Cluster; k: KubeAccess }> {
      const created = await server.client.call<Cluster>('POST', kube, { region: 'GRA7', ...body });
      assert.equal(created.status, 'INSTALLING');
      const cluster = await untilStatus(created.id, 'READY');
      return { cluster, k: await access(created.id) };
    }

    async function configMap(k: KubeAccess): Promise<ConfigMapJson> {
      return k.json<ConfigMapJson>('get', 'cm', 'kube-proxy', '-n', 'kube-system');
    }

    /** The kube-proxy pods, as kubectl lists them. */
    const kubeProxyPodList = (k: KubeAccess) =>
      k.json<{ items: V1Pod[] }>('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy');

    /** name → uid of the kube-proxy pods, as kubectl lists them. */
    async function podIdentities(k: KubeAccess): Promise<Map<string, string>> {
      const list = await kubeProxyPodList(k);
      return new Map(list.items.map((pod) => [pod.metadata!.name!, pod.metadata!.uid!]));
    }

    /** Every kube-proxy pod runs, and loaded exactly the ConfigMap's current config.conf. */
    async function assertPodsRunConfig(k: KubeAccess, nodes: number): Promise<string> {
      const hash = configHash((await configMap(k)).data['config.conf']!);
      const list = await kubeProxyPodList(k);
      assert.equal(list.items.length, nodes);
      for (const pod of list.items) {
        assert.ok(isRunning(pod), `${pod.metadata?.name} runs`);
        assert.equal(
          pod.metadata?.annotations?.['mks.ovh/loaded-config-hash'],
          hash,
          `${pod.metadata?.name}`,
        );
      }
      return hash;
    }

    async function historyOf(id: string): Promise<Array<[string, number]>> {
      const rows = await server.services.clusterStore.history(id);
      return rows.map((row) => [row.action, row.generation]);
    }

    test("create with the guide's ipvs customization: INSTALLING → READY, kubectl sees the rendered ConfigMap, 3 nodes, one kube-proxy per node", async () => {
      const { cluster, k } = await createReady({
        name: 'guide',
        kubeProxyMode: 'ipvs',
        customization: { kubeProxy: GUIDE_KUBE_PROXY },
      });
      assert.equal(cluster.statusMessage, null);

      const yaml = await k.kubectl('get', 'cm', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml');
      const cm = parse(yaml) as ConfigMapJson;
      assert.deepEqual(parse(cm.data['config.conf']!), {
        ...BASE_CONFIG,
        mode: 'ipvs',
        iptables: { minSyncPeriod: '1s', syncPeriod: '30s' },
        ipvs: {
          minSyncPeriod: '0s',
          scheduler: 'rr',
          syncPeriod: '30s',
          tcpFinTimeout: '0s',
          tcpTimeout: '0s',
          udpTimeout: '0s',
        },
      });
      const inner = parse(cm.data['kubeconfig.conf']!) as { kind: string; clusters: unknown[] };
      assert.equal(inner.kind, 'Config');
      assert.equal(inner.clusters.length, 1);

      const nodes = (await k.kubectl('get', 'nodes', '--no-headers')).trim().split('\n');
      assert.equal(nodes.length, 3, nodes.join('\n'));
      assert.ok(
        nodes.every((line) => /\sReady\s/.test(line)),
        nodes.join('\n'),
      );
      const nodeNames = nodes.map((line) => line.split(/\s+/)[0]!).sort();

      const wide = await k.kubectl('get', 'ds,pods', '-n', 'kube-system', '-o', 'wide');
      const dsLine = wide.split('\n').find((line) => line.startsWith('daemonset.apps/kube-proxy'));
      assert.match(dsLine ?? '', /^daemonset\.apps\/kube-proxy\s+3\s+3\s+3\s+3\s+3\s/, wide);
      const podsTable = wide.split('\n\n').find((block) => block.includes('pod/kube-proxy-'))!;
      const [header, ...rows] = podsTable.trim().split('\n');
      const nodeColumn = header!.indexOf(' NODE ') + 1;
      const kubeProxyRows = rows.filter((row) => row.startsWith('pod/kube-proxy-'));
      assert.equal(kubeProxyRows.length, 3, wide);
      assert.ok(
        kubeProxyRows.every((row) => /\s1\/1\s+Running\s/.test(row)),
        wide,
      );
      const podNodes = kubeProxyRows.map((row) => row.slice(nodeColumn).split(/\s+/)[0]!).sort();
      assert.deepEqual(podNodes, nodeNames, 'one kube-proxy pod on each node');

      const rollout = await k.rolloutStatus(20);
      assert.equal(rollout.code, 0, rollout.stderr);
      assert.match(rollout.stdout, /successfully rolled out/);
      await assertPodsRunConfig(k, 3);

      // The Kubernetes API wants the kubeconfig's token.
      assert.equal((await k.status('/api/v1/namespaces', null)).status, 401);
      assert.equal((await k.status('/api/v1/namespaces', 'not-the-token')).status, 401);
      assert.equal((await k.status('/api/v1/namespaces')).status, 200);
      const anonymous = await k.run(['get', 'nodes', '--token', 'not-the-token']);
      assert.notEqual(anonymous.code, 0);
      assert.match(anonymous.stderr, /Unauthorized|must be logged in/);
    });

    test('a create with nodepool.desiredNodes 2 has 2 nodes and 2 kube-proxy pods', async () => {
      const { k } = await createReady({ nodepool: { desiredNodes: 2, flavorName: 'b3-8' } });
      const nodes = (await k.kubectl('get', 'nodes', '--no-headers')).trim().split('\n');
      assert.equal(nodes.length, 2, nodes.join('\n'));
      await assertPodsRunConfig(k, 2);
    });

    test('PUT customization rolls kube-proxy out node by node; the same PUT again and an apiServer-only PUT restart nothing', async () => {
      const { cluster, k } = await createReady({ name: 'rollout' });
      const before = await podIdentities(k);
      const change = { kubeProxy: { iptables: { minSyncPeriod: 'PT2S', syncPeriod: 'PT45S' } } };

      // Watch the rollout from the first moment: kubectl's own watch, and fast samples of the pods.
      let settled = false;
      const samples: Array<Array<{ uid: string; hash: string | undefined; running: boolean }>> = [];
      const sampling = (async () => {
        while (!settled) {
          const pods = await k.kubeProxyPods();
          samples.push(
            pods.map((pod) => ({
              uid: pod.metadata!.uid!,
              hash: pod.metadata?.annotations?.['mks.ovh/config-hash'],
              running: isRunning(pod),
            })),
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const response = await server.client.call<{ message: string }>(
        'PUT',
        `${kube}/${cluster.id}/customization`,
        change,
      );
      assert.match(response.message, /generation 2/);
      const rolloutStatus = k.rolloutStatus(20);
      assert.equal((await get(cluster.id)).status, 'REDEPLOYING');
      await untilStatus(cluster.id, 'READY');
      settled = true;
      await sampling;
      const watched = await rolloutStatus;
      assert.equal(watched.code, 0, watched.stderr);
      assert.match(watched.stdout, /successfully rolled out/);

      const cm = await configMap(k);
      assert.deepEqual(parse(cm.data['config.conf']!), {
        ...BASE_CONFIG,
        mode: 'iptables',
        iptables: { minSyncPeriod: '2s', syncPeriod: '45s' },
      });
      const hash = await assertPodsRunConfig(k, 3);
      const ds = await k.json<{
        metadata: { generation: number };
        spec: { template: { metadata: { annotations: Record<string, string> } } };
      }>('get', 'ds', 'kube-proxy', '-n', 'kube-system');
      assert.equal(ds.spec.template.metadata.annotations['mks.ovh/config-hash'], hash);

      // Node by node: never more than one pod down, and at some point some but not all pods were new.
      const after = await podIdentities(k);
      for (const uid of after.values())
        assert.ok(![...before.values()].includes(uid), 'every pod was replaced');
      assert.ok(
        samples.every((pods) => pods.filter((pod) => pod.running).length >= 2),
        'at most one kube-proxy pod is unavailable at a time (maxUnavailable 1)',
      );
      assert.ok(
        samples.some((pods) => {
          const fresh = pods.filter((pod) => pod.hash === hash && pod.running).length;
          return fresh > 0 && fresh < 3;
        }),
        `a sample shows a partial rollout (${samples.length} samples)`,
      );
      assert.deepEqual(await historyOf(cluster.id), [
        ['create', 1],
        ['customize', 2],
      ]);

      // The same PUT again: a new generation, but the same config: no pod restarts.
      const generationBefore = ds.metadata.generation;
      await server.client.call('PUT', `${kube}/${cluster.id}/customization`, change);
      assert.equal((await get(cluster.id)).status, 'REDEPLOYING');
      await untilStatus(cluster.id, 'READY');
      assert.deepEqual(await podIdentities(k), after);
      const dsAgain = await k.json<{ metadata: { generation: number } }>(
        'get',
        'ds',
        'kube-proxy',
        '-n',
        'kube-system',
      );
      assert.equal(dsAgain.metadata.generation, generationBefore, 'the pod template was not touched');

      // Only apiServer changes: the control plane's flags follow, kube-proxy keeps running.
      await server.client.call('PUT', `${kube}/${cluster.id}/customization`, {
        apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
      });
      await untilStatus(cluster.id, 'READY');
      assert.deepEqual(await podIdentities(k), after);
      const apiServer = await k.json<{ items: V1Pod[] }>(
        'get',
        'pods',
        '-n',
        'kube-system',
        '-l',
        'component=kube-apiserver',
      );
      assert.equal(apiServer.items.length, 1);
      const command = apiServer.items[0]!.spec!.containers[0]!.command!;
      assert.ok(command.includes('--enable-admission-plugins=NodeRestriction'), command.join(' '));
      assert.ok(command.includes('--disable-admission-plugins=AlwaysPullImages'), command.join(' '));
      assert.equal(command.filter((flag) => flag.startsWith('--enable-admission-plugins')).length, 1);
      assert.deepEqual(await historyOf(cluster.id), [
        ['create', 1],
        ['customize', 2],
        ['customize', 3],
        ['customize', 4],
      ]);
    });

    test('reset with kubeProxyMode iptables: RESETTING → READY, user objects erased, mode iptables', async () => {
      const { cluster, k } = await createReady({
        kubeProxyMode: 'ipvs',
        customization: { kubeProxy: GUIDE_KUBE_PROXY },
        nodepool: { desiredNodes: 2 },
      });
      // `kubectl create namespace|configmap` send protobuf, which the emulator does not decode, so the
      // objects go as a JSON manifest; the emulator serves no OpenAPI document, so client-side
      // validation is off.
      const manifest = path.join(k.dir, 'demo.yaml');
      fs.writeFileSync(
        manifest,
        [
          'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo',
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\ndata:\n  color: blue',
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: default\ndata:\n  a: b',
        ].join('\n---\n'),
      );
      await k.kubectl('create', '--validate=false', '-f', manifest);
      assert.match(
        await k.kubectl('get', 'cm', 'settings', '-n', 'demo', '-o', 'name'),
        /configmap\/settings/,
      );

      await server.client.call('POST', `${kube}/${cluster.id}/reset`, { kubeProxyMode: 'iptables' });
      const resetting = await get(cluster.id);
      assert.equal(resetting.status, 'RESETTING');
      const ready = await untilStatus(cluster.id, 'READY');
      assert.equal(ready.kubeProxyMode, 'iptables');

      const namespaces = await k.kubectl('get', 'namespaces', '-o', 'name');
      assert.doesNotMatch(namespaces, /namespace\/demo/);
      const gone = await k.run(['get', 'cm', 'settings', '-n', 'demo']);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /NotFound|not found/);
      assert.doesNotMatch(await k.kubectl('get', 'cm', '-n', 'default', '-o', 'name'), /configmap\/mine/);

      const cm = await configMap(k);
      assert.deepEqual(parse(cm.data['config.conf']!), { ...BASE_CONFIG, mode: 'iptables' });
      assert.ok(cm.data['kubeconfig.conf']?.includes('kind: Config'));
      await assertPodsRunConfig(k, 2);
      assert.deepEqual(await historyOf(cluster.id), [
        ['create', 1],
        ['reset', 2],
      ]);
    });

    test('a reset reinstalls a kube-proxy DaemonSet the user deleted, and records the generation it erased', async () => {
      const { cluster, k } = await createReady({ nodepool: { desiredNodes: 2 } });
      await k.kubectl('delete', 'daemonset', 'kube-proxy', '-n', 'kube-system');
      assert.equal(
        (await k.status('/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy')).status,
        404,
      );

      await server.client.call('POST', `${kube}/${cluster.id}/reset`, {});
      await untilStatus(cluster.id, 'READY');
      assert.equal(
        (await k.status('/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy')).status,
        200,
      );
      const cm = await configMap(k);
      assert.equal(cm.metadata.annotations?.['mks.ovh/reset-generation'], '2');
      assert.deepEqual(parse(cm.data['config.conf']!), { ...BASE_CONFIG, mode: 'ipvs' });
      await assertPodsRunConfig(k, 2);
    });

    test('delete: DELETING, then GET answers 404 and the Kubernetes API refuses the token (401)', async () => {
      const { cluster, k } = await createReady({ name: 'doomed' });
      assert.equal((await k.status('/api/v1/namespaces/kube-system/configmaps/kube-proxy')).status, 200);
      await server.client.call('DELETE', `${kube}/${cluster.id}`);
      const first = await server.client.raw<Cluster>('GET', `${kube}/${cluster.id}`);
      // The worker may already have finished; if not, the cluster says it is going.
      if (first.status === 200) assert.equal(first.body.status, 'DELETING');
      await waitFor(async () => (await server.client.raw('GET', `${kube}/${cluster.id}`)).status === 404, {
        ...TIMEOUT,
        what: 'GET to answer 404',
      });
      const stored = await server.services.clusterStore.get(cluster.id);
      assert.equal(stored?.status, 'DELETED');
      assert.notEqual(stored?.deletedAt, null);
      assert.ok(!(await server.client.call<string[]>('GET', kube)).includes(cluster.id));

      // Issue 12: once its deletion is accepted, a cluster's token opens nothing (was 404).
      const raw = await k.status('/api/v1/namespaces/kube-system/configmaps/kube-proxy');
      assert.equal(raw.status, 401, raw.body);
      const viaKubectl = await k.run(['get', 'cm', 'kube-proxy', '-n', 'kube-system']);
      assert.notEqual(viaKubectl.code, 0);
      assert.match(viaKubectl.stderr, /Unauthorized|must be logged in/);
    });

    test('a config kube-proxy refuses crash-loops the restarted pod and the cluster reports ERROR naming the node', async () => {
      // This case edits kube-proxy's ConfigMap in the cluster on purpose; drift repair (on for the
      // rest of the suite, tested in drift.test.ts) would put it back, so it runs on an
      // installation of its own with MKS_REPAIR_DRIFT=false. (A config mks itself rolls out and
      // kube-proxy refuses on a node is rollback.test.ts's.)
      const own = await startTestServer(dialect, { ...ENV, MKS_REPAIR_DRIFT: 'false' });
      const ownKube = `/cloud/project/${own.projectId}/kube`;
      const { id } = await own.client.call<Cluster>('POST', ownKube, { region: 'GRA7', name: 'broken' });
      const cluster = await untilClusterStatus(own.client, ownKube, id, 'READY', TIMEOUT.timeoutMs);
      const k = await clusterKube(own.client, ownKube, id);
      try {
        await crashLoopCase(own, ownKube, cluster, k);
      } finally {
        k.close();
        await own.close();
      }
    });

    async function crashLoopCase(own: TestServer, ownKube: string, cluster: ClusterView, k: KubeAccess) {
      const current = (await configMap(k)).data['config.conf']!;
      assert.doesNotMatch(current, /syncPeriod/);
      const broken = `${current}iptables:\n  syncPeriod: PT30S\n`;
      await k.patchConfigConf(broken, 'merge');
      const victim = (await k.kubeProxyPods())[0]!;
      const node = victim.spec!.nodeName!;
      await k.kubectl('delete', 'pod', victim.metadata!.name!, '-n', 'kube-system');

      const crashing = await waitFor(
        async () => {
          const table = await k.kubectl(
            'get',
            'pods',
            '-n',
            'kube-system',
            '-l',
            'k8s-app=kube-proxy',
            '-o',
            'wide',
          );
          return table.split('\n').find((line) => line.includes('CrashLoopBackOff'));
        },
        { ...TIMEOUT, what: 'a kube-proxy pod in CrashLoopBackOff' },
      );
      assert.ok(crashing.includes(node), crashing);
      const pod = (await k.kubeProxyPods()).find((p) => p.spec?.nodeName === node)!;
      const terminated = pod.status?.containerStatuses?.[0]?.lastState?.terminated;
      assert.match(String(terminated?.message), /PT30S/);

      const failed = await untilClusterStatus(own.client, ownKube, cluster.id, 'ERROR', TIMEOUT.timeoutMs);
      assert.ok(failed.statusMessage?.includes(node), String(failed.statusMessage));
      assert.match(String(failed.statusMessage), /CrashLoopBackOff/);
      assert.ok(
        failed.statusMessage?.includes(String(terminated?.message).trim()),
        String(failed.statusMessage),
      );
      // The other nodes keep the config they loaded before the edit.
      const others = (await k.kubeProxyPods()).filter((p) => p.spec?.nodeName !== node);
      assert.equal(others.length, 2);
      assert.ok(others.every(isRunning));
    }
  });
}
