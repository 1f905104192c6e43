/**
 * `POST …/restart` and `GET …/metrics/etcdUsage` end to end, on every engine: a restart is a
 * generation the reconciler applies (the emulated API server restarts once: its watches end, its
 * objects stay); the etcd usage measures what the emulated cluster stores, against OVH's quota.
 */
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { ApiError } from '../../src/client/api-client.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ENV = { MKS_POD_START_MS: '400', MKS_RESYNC_MS: '300', MKS_PROGRESS_MS: '50' };
const TIMEOUT = 20_000;
const MIB = 1024 * 1024;

/** A watch held open on `path`: the events' text so far, and a promise settled when the stream ends. */
function openWatch(k: KubeAccess, path: string): { text: () => string; ended: Promise<void> } {
  let text = '';
  const ended = new Promise<void>((resolve, reject) => {
    const request = https.get(
      `${k.server}${path}`,
      {
        ...(k.ca === undefined ? {} : { ca: k.ca }),
        ...(k.serverName === undefined ? {} : { servername: k.serverName }),
        headers: { Accept: 'application/json', Authorization: `Bearer ${k.token}` },
      },
      (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', resolve);
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
  return { text: () => text, ended };
}

async function apiServerPod(k: KubeAccess): Promise<V1Pod> {
  const list = await k.core.listNamespacedPod({
    namespace: 'kube-system',
    labelSelector: 'component=kube-apiserver',
  });
  assert.equal(list.items.length, 1);
  return list.items[0]!;
}

for (const dialect of DIALECTS) {
  describe(`control plane: restart and etcd usage (${dialect})`, () => {
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

    async function readyCluster(desiredNodes: number): Promise<{ id: string; k: KubeAccess }> {
      const { id } = await call<{ id: string }>('POST', '', { region: 'GRA7', nodepool: { desiredNodes } });
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT);
      const k = await clusterAccess(server.client, kube, id);
      opened.push(k);
      return { id, k };
    }

    test('a restart ends the API server’s watches once, keeps every object, and ends READY', async () => {
      const { id, k } = await readyCluster(1);
      await k.kubectl('create', 'configmap', 'kept', '--from-literal=a=b');
      const watch = openWatch(k, '/api/v1/namespaces/default/configmaps?watch=1');
      await waitFor(() => watch.text().includes('"name":"kept"'), {
        timeoutMs: 10_000,
        what: 'the watch to deliver the ConfigMap',
      });
      const before = await apiServerPod(k);
      const restarts = before.status?.containerStatuses?.[0]?.restartCount ?? 0;

      assert.equal(await call('POST', `/${id}/restart`, {}), null);
      await waitFor(() => watch.ended.then(() => true), { timeoutMs: 10_000, what: 'the watch to end' });
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT);

      const after = await apiServerPod(k);
      assert.equal(after.status?.containerStatuses?.[0]?.restartCount, restarts + 1);
      assert.equal(after.metadata?.uid, before.metadata?.uid, 'the same static pod, restarted');
      assert.match(await k.kubectl('get', 'configmap', 'kept', '-o', 'jsonpath={.data.a}'), /^b$/);
      const history = await server.services.clusterStore.history(id);
      const last = history.at(-1)!;
      assert.equal(last.action, 'restart');
      assert.equal(last.outcome, 'READY');

      // Made once: the passes of a later change do not restart it again.
      const rewatch = openWatch(k, '/api/v1/namespaces/default/configmaps?watch=1');
      let rewatchEnded = false;
      void rewatch.ended.finally(() => {
        rewatchEnded = true;
      });
      await waitFor(() => rewatch.text().includes('"name":"kept"'), { timeoutMs: 10_000 });
      await call('PUT', `/${id}/customization`, { kubeProxy: { iptables: { syncPeriod: 'PT40S' } } });
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT);
      assert.equal((await apiServerPod(k)).status?.containerStatuses?.[0]?.restartCount, restarts + 1);
      assert.equal(rewatchEnded, false, 'a watch opened after the restart stays open');
      await call('DELETE', `/${id}`);
      await rewatch.ended;
    });

    test('a cluster being changed restarts only with force; bad bodies are refused and change nothing', async () => {
      const { id } = await readyCluster(2);
      const refuse = async (body: unknown, status: number, message: RegExp) => {
        const error = await call('POST', `/${id}/restart`, body).catch((caught: unknown) => caught);
        assert.ok(error instanceof ApiError, JSON.stringify(body));
        assert.equal(error.status, status, JSON.stringify(body));
        assert.match(error.message, message);
      };
      await refuse({ force: 'yes' }, 400, /force/);
      await refuse({ reboot: true }, 400, /reboot/);
      const unknown = await server.client
        .call('POST', `${kube}/00000000-0000-4000-8000-000000000000/restart`, {})
        .catch((caught: unknown) => caught);
      assert.ok(unknown instanceof ApiError);
      assert.equal(unknown.status, 404);

      // A customization rolls kube-proxy out over two nodes (400 ms a pod): REDEPLOYING meanwhile.
      await call('PUT', `/${id}/customization`, { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } });
      await refuse({}, 409, /is REDEPLOYING, not READY: .*\{"force": true\}/);
      assert.equal(await call('POST', `/${id}/restart`, { force: true }), null);
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT);
      const history = await server.services.clusterStore.history(id);
      assert.deepEqual(
        history.map((row) => row.action),
        ['create', 'customize', 'restart'],
      );
      assert.equal(history.at(-1)!.outcome, 'READY');
    });

    test("etcdUsage: the bytes the cluster's objects take, against OVH's quota by node count", async () => {
      const { id, k } = await readyCluster(2);
      const usage = () => call<{ quota: number; usage: number }>('GET', `/${id}/metrics/etcdUsage`);
      const first = await usage();
      assert.equal(first.quota, 10 * MIB + 2 * 25 * MIB);
      assert.ok(first.usage > 10_000, `an installed cluster stores its objects (${first.usage} bytes)`);

      await k.core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'big' }, data: { blob: 'x'.repeat(200_000) } },
      });
      const grown = await usage();
      assert.ok(
        grown.usage - first.usage >= 200_000,
        `a 200 kB ConfigMap is counted (${first.usage} → ${grown.usage})`,
      );
      await k.core.deleteNamespacedConfigMap({ namespace: 'default', name: 'big' });
      const shrunk = await usage();
      assert.ok(grown.usage - shrunk.usage >= 200_000, `and uncounted once deleted (${shrunk.usage})`);

      const [pool] = await call<Array<{ id: string }>>('GET', `/${id}/nodepool`);
      await call('PUT', `/${id}/nodepool/${pool!.id}`, { desiredNodes: 10, maxNodes: 10 });
      assert.equal((await usage()).quota, 200 * MIB, 'at most 200 MB');

      const missing = await call('GET', '/00000000-0000-4000-8000-000000000000/metrics/etcdUsage').catch(
        (caught: unknown) => caught,
      );
      assert.ok(missing instanceof ApiError);
      assert.equal(missing.status, 404);
    });
  });
}
