/**
 * Version upgrades end to end, on every engine: `POST …/update` moves the cluster to UPDATING, the
 * reconciler has the emulated cluster replace its nodes one by one with the new version (each
 * rejoining with a kube-proxy pod before the next goes), and the cluster ends READY on it with
 * truthful `nextUpgradeVersions`, `isUpToDate` and `controlPlaneIsUpToDate`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { ApiError } from '../../src/client/api-client.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, isRunning, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ENV = { MKS_POD_START_MS: '150', MKS_RESYNC_MS: '300', MKS_PROGRESS_MS: '50' };
const TIMEOUT = { timeoutMs: 20_000, intervalMs: 50 };

interface Cluster {
  id: string;
  status: string;
  statusMessage: string | null;
  version: string;
  nextUpgradeVersions: string[];
  isUpToDate: boolean;
  controlPlaneIsUpToDate: boolean;
}

for (const dialect of DIALECTS) {
  describe(`cluster upgrades (${dialect})`, () => {
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

    const call = <T>(method: string, path: string, body?: unknown) =>
      server.client.call<T>(method, `${kube}${path}`, body);

    const untilReady = (id: string) =>
      untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs) as Promise<Cluster>;

    async function access(id: string): Promise<KubeAccess> {
      const result = await clusterAccess(server.client, kube, id);
      opened.push(result);
      return result;
    }

    test('NEXT_MINOR: UPDATING, nodes replaced one by one on the new version, then READY and up to date', async () => {
      const created = await call<Cluster>('POST', '', {
        region: 'GRA7',
        version: '1.33',
        updatePolicy: 'NEVER_UPDATE',
        nodepool: { name: 'pool', desiredNodes: 3 },
      });
      const ready = await untilReady(created.id);
      assert.equal(ready.version, '1.33.6');
      assert.deepEqual(ready.nextUpgradeVersions, ['1.34']);
      assert.equal(ready.isUpToDate, true);
      const k = await access(created.id);
      assert.match(
        await k.kubectl('get', 'ds', 'kube-proxy', '-n', 'kube-system', '-o', 'wide'),
        /registry\.k8s\.io\/kube-proxy:v1\.33\.6/,
      );
      const before = (await k.core.listNode()).items as V1Node[];
      const uids = new Map(before.map((node) => [node.metadata!.name!, node.metadata!.uid!]));

      // Sample the nodes and kube-proxy pods through the upgrade: never more than one node down.
      let sampling = true;
      let worst = 3;
      const counts = new Set<number>();
      const sampler = (async () => {
        while (sampling) {
          const [nodes, pods] = await Promise.all([k.core.listNode(), k.kubeProxyPods()]);
          worst = Math.min(worst, pods.filter(isRunning).length);
          counts.add(
            nodes.items.filter((node) => node.status?.nodeInfo?.kubeletVersion === 'v1.34.2').length,
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();

      await call('POST', `/${created.id}/update`, { strategy: 'NEXT_MINOR' });
      const updating = await call<Cluster>('GET', `/${created.id}`);
      assert.equal(updating.status, 'UPDATING');
      assert.equal(updating.isUpToDate, false);
      assert.equal(updating.controlPlaneIsUpToDate, false);
      const upgraded = await untilReady(created.id);
      sampling = false;
      await sampler;

      assert.equal(upgraded.version, '1.34.2');
      assert.deepEqual(upgraded.nextUpgradeVersions, ['1.35']);
      assert.equal(upgraded.isUpToDate, true);
      assert.equal(upgraded.controlPlaneIsUpToDate, true);
      const after = (await k.core.listNode()).items as V1Node[];
      assert.deepEqual(
        after.map((node) => [node.metadata!.name!, node.status?.nodeInfo?.kubeletVersion]).sort(),
        [...uids.keys()].sort().map((name) => [name, 'v1.34.2']),
      );
      for (const node of after)
        assert.notEqual(node.metadata!.uid, uids.get(node.metadata!.name!), 'a new machine');
      assert.ok(worst >= 2, `at most one node without a running kube-proxy at a time (saw ${worst})`);
      assert.ok(counts.has(1) || counts.has(2), `the nodes moved one by one (saw ${[...counts]})`);
      await waitFor(async () => (await k.kubeProxyPods()).filter(isRunning).length === 3, TIMEOUT);
      const version = JSON.parse((await k.status('/version')).body) as { gitVersion: string };
      assert.equal(version.gitVersion, 'v1.34.2');
      // kube-proxy follows the control plane: its DaemonSet and every pod run the new version's image.
      assert.match(
        await k.kubectl('get', 'ds', 'kube-proxy', '-n', 'kube-system', '-o', 'wide'),
        /registry\.k8s\.io\/kube-proxy:v1\.34\.2/,
      );
      const images = async () =>
        (await k.kubeProxyPods()).map((pod) => [pod.spec?.nodeName, pod.spec?.containers[0]?.image]);
      assert.deepEqual(
        (await images()).map(([, image]) => image),
        ['v1.34.2', 'v1.34.2', 'v1.34.2'].map((tag) => `registry.k8s.io/kube-proxy:${tag}`),
      );
      // A node that joins now runs the new image.
      const [pool] = await call<Array<{ id: string }>>('GET', `/${created.id}/nodepool`);
      await call('PUT', `/${created.id}/nodepool/${pool!.id}`, { desiredNodes: 4 });
      await waitFor(async () => (await k.kubeProxyPods()).filter(isRunning).length === 4, TIMEOUT);
      for (const [node, image] of await images())
        assert.equal(image, 'registry.k8s.io/kube-proxy:v1.34.2', `kube-proxy's image on ${node}`);
      const history = await server.services.clusterStore.history(created.id);
      assert.deepEqual(
        history.map((row) => [row.action, row.version]),
        [
          ['create', '1.33.6'],
          ['upgrade', '1.34.2'],
          ['nodepool', '1.34.2'],
        ],
      );
    });

    test('an upgrade that is not offered is refused with the reason, and changes nothing', async () => {
      const created = await call<Cluster>('POST', '', {
        region: 'GRA7',
        version: '1.35',
        nodepool: { desiredNodes: 1 },
      });
      await untilReady(created.id);
      const cases: Array<[unknown, RegExp]> = [
        [{ strategy: 'NEXT_MINOR' }, /strategy NEXT_MINOR: the cluster runs 1\.35, the newest minor offered/],
        [
          { strategy: 'LATEST_PATCH' },
          /strategy LATEST_PATCH: the cluster already runs 1\.35\.0, the latest patch of 1\.35/,
        ],
        [{ strategy: 'SIDEWAYS' }, /strategy/],
      ];
      for (const [body, message] of cases) {
        const error = await call('POST', `/${created.id}/update`, body).catch((caught: unknown) => caught);
        assert.ok(error instanceof ApiError, JSON.stringify(body));
        assert.equal(error.status, 400);
        assert.match(error.message, message);
      }
      const cluster = await call<Cluster>('GET', `/${created.id}`);
      assert.equal(cluster.status, 'READY');
      assert.equal(cluster.version, '1.35.0');
      assert.deepEqual(cluster.nextUpgradeVersions, []);
      const history = await server.services.clusterStore.history(created.id);
      assert.deepEqual(
        history.map((row) => row.action),
        ['create'],
      );
    });
  });
}
