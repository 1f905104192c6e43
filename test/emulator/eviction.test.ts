/**
 * Idle emulated clusters leave memory and load again on demand, on every engine: with an idle
 * bound of 200 ms, a settled cluster is evicted (the residency figures and `/metrics` say so), and
 * then kubectl (get, logs), a client-node watch and a reconcile pass each find it as it was: the
 * same objects and container logs, resourceVersions that continue, pods on the new config after
 * a customization change. A settled cluster out of memory is resynced without being loaded (one
 * process serving every cluster: SQLite), from the first resync after the pass that made it READY
 * on, and a change made through its Kubernetes API meanwhile is still found.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig, type V1ConfigMap, Watch } from '@kubernetes/client-node';
import { configHash } from '../../src/customization/kube-proxy-config.ts';
import { settledPasses } from '../support/cluster-state.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, isRunning, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ENV = { MKS_EMULATOR_IDLE_MS: '200', MKS_PROGRESS_MS: '50', MKS_RESYNC_MS: '300' };
const TIMEOUT = { timeoutMs: 20_000, intervalMs: 25 };

for (const dialect of DIALECTS) {
  describe(`idle emulated clusters leave memory and load again (${dialect})`, () => {
    let server: TestServer;
    let kubePath: string;
    let clusterId: string;
    let k: KubeAccess;

    const residency = () => server.runtime.emulator.residency();

    /** Waits until the cluster has left memory (the only one of the test server). */
    const untilEvicted = (what: string) =>
      waitFor(() => residency().loaded === 0, { ...TIMEOUT, what: `the cluster to leave memory ${what}` });

    const untilReadyAt = (generation: number) =>
      waitFor(
        async () => {
          const cluster = await server.client.call<{ status: string; statusMessage: string | null }>(
            'GET',
            `${kubePath}/${clusterId}`,
          );
          if (cluster.status === 'ERROR') throw new Error(`cluster went ERROR: ${cluster.statusMessage}`);
          const row = await server.services.clusterStore.get(clusterId);
          return cluster.status === 'READY' && row?.observedGeneration === generation;
        },
        { ...TIMEOUT, what: `the cluster READY at generation ${generation}` },
      );

    const configMap = () => k.json<V1ConfigMap>('get', 'cm', 'kube-proxy', '-n', 'kube-system');

    before(async () => {
      server = await startTestServer(dialect, ENV);
      kubePath = `/cloud/project/${server.projectId}/kube`;
      const created = await server.client.call<{ id: string }>('POST', kubePath, {
        region: 'GRA7',
        name: 'idle',
      });
      clusterId = created.id;
      const row = await server.services.clusterStore.get(clusterId);
      await untilReadyAt(row!.generation);
      k = await clusterAccess(server.client, kubePath, clusterId);
    });
    after(async () => {
      k?.close();
      await server?.close();
    });

    test('kubectl, a watch and a reconcile pass reload an evicted cluster as it was', async () => {
      const before = await configMap();
      const [pod] = await k.kubeProxyPods();
      const podName = pod!.metadata!.name!;
      const logBefore = await k.kubectl('logs', '-n', 'kube-system', podName);
      assert.match(logBefore, /\S/, 'the kube-proxy pod printed its start-up');
      const list = await k.core.listNamespacedPod({ namespace: 'kube-system' });
      const listRv = Number(list.metadata!.resourceVersion);
      const { evictions, loads } = residency();
      await untilEvicted('after creation');
      assert.ok(residency().evictions > evictions, 'an eviction is counted');
      const metrics = await server.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /^mks_emulator_clusters_loaded 0$/m);
      assert.match(metrics.body, /^mks_emulator_cluster_evictions_total [1-9]\d*$/m);

      // kubectl: the same object, resourceVersion and content, from the cluster loaded again.
      const after = await configMap();
      assert.equal(residency().loaded, 1);
      assert.ok(residency().loads > loads, 'the GET loaded the cluster from the store');
      assert.equal(after.metadata!.uid, before.metadata!.uid);
      assert.equal(after.metadata!.resourceVersion, before.metadata!.resourceVersion);
      assert.deepEqual(after.data, before.data);
      await untilEvicted('after the GET');
      assert.equal(
        await k.kubectl('logs', '-n', 'kube-system', podName),
        logBefore,
        'the container log stays',
      );
      await untilEvicted('after kubectl logs');

      // A watch from the resourceVersion of a list taken before the evictions: it continues there,
      // and sees the change a reconcile pass makes (which loads the cluster again on its own).
      const seen: Array<{ type: string; rv: number; name: string }> = [];
      const kc = new KubeConfig();
      kc.loadFromFile(k.file);
      const watchEnded = { error: undefined as unknown, done: false };
      const request = await new Watch(kc).watch(
        '/api/v1/namespaces/kube-system/configmaps',
        { resourceVersion: String(listRv), allowWatchBookmarks: false },
        (type, object: V1ConfigMap) =>
          seen.push({
            type,
            rv: Number(object.metadata?.resourceVersion),
            name: object.metadata?.name ?? '',
          }),
        (error) => {
          watchEnded.error = error;
          watchEnded.done = true;
        },
      );
      try {
        assert.equal(residency().loaded, 1, 'the watch loaded the cluster');
        const generation = (await server.services.clusterStore.get(clusterId))!.generation;
        await server.client.call('PUT', `${kubePath}/${clusterId}/customization`, {
          kubeProxy: { iptables: { syncPeriod: 'PT45S' } },
        });
        await untilReadyAt(generation + 1);
        const change = await waitFor(
          () => seen.find((event) => event.name === 'kube-proxy' && event.type === 'MODIFIED'),
          { ...TIMEOUT, what: 'the watch to see the ConfigMap change' },
        );
        assert.ok(change.rv > Number(before.metadata!.resourceVersion), 'resourceVersions continue');
        assert.equal(watchEnded.done, false, `the watch is still open (${String(watchEnded.error)})`);
        // While the watch is open the cluster stays: the reconcile pass found it loaded.
        assert.equal(residency().loaded, 1);
      } finally {
        request.abort();
      }
      await untilEvicted('after the watch closed');

      // A reconcile pass on the evicted cluster: it loads it, rolls the new config out, and
      // kubectl then finds every pod on it.
      const generation = (await server.services.clusterStore.get(clusterId))!.generation;
      const loadsBefore = residency().loads;
      await server.client.call('PUT', `${kubePath}/${clusterId}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT50S' } },
      });
      await untilReadyAt(generation + 1);
      assert.ok(residency().loads > loadsBefore, 'the pass loaded the cluster');
      const latest = await configMap();
      assert.match(latest.data!['config.conf']!, /syncPeriod: 50s/);
      assert.ok(Number(latest.metadata!.resourceVersion) > Number(before.metadata!.resourceVersion));
      const hash = configHash(latest.data!['config.conf']!);
      const pods = await k.kubeProxyPods();
      assert.equal(pods.length, 3);
      for (const pod of pods) {
        assert.ok(isRunning(pod), `${pod.metadata?.name} runs`);
        assert.equal(pod.metadata?.annotations?.['mks.ovh/loaded-config-hash'], hash);
      }

      // The pass read none of the Events the load left in the store; kubectl reads them all, and
      // the pass's own beside them.
      const eventLoads = residency().eventLoads;
      type EventList = { items: { reason: string; message: string }[] };
      const events = (await k.json<EventList>('get', 'events', '-n', 'kube-system')).items;
      assert.equal(residency().eventLoads, eventLoads + 1, 'kubectl read the stored Events');
      const completed = events.filter((e) => e.reason === 'RolloutCompleted').map((e) => e.message);
      assert.ok(
        completed.some((message) => message.includes(`generation ${generation}`)) &&
          completed.some((message) => message.includes(`generation ${generation + 1}`)),
        `the Events of the change before the eviction and of this one (${completed.join('; ')})`,
      );
      const metricsAfter = await server.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metricsAfter.body, new RegExp(`^mks_emulator_event_loads_total ${eventLoads + 1}$`, 'm'));
    });

    test('a settled cluster out of memory is resynced without loading it, from the first resync after the pass that made it READY; a change made meanwhile is found', async () => {
      const generation = (await server.services.clusterStore.get(clusterId))!.generation;
      await server.client.call('PUT', `${kubePath}/${clusterId}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT55S' } },
      });
      await untilReadyAt(generation + 1);
      await untilEvicted('after the change');
      const { loads } = residency();
      const passes = await settledPasses(server);
      await waitFor(async () => ((await settledPasses(server)) >= passes + 3 ? true : undefined), {
        ...TIMEOUT,
        what: 'three resyncs of the evicted cluster',
      });
      if (dialect === 'sqlite') {
        // One process serves every cluster: nothing can change one out of memory. The pass that
        // made it READY checked it once more while it was loaded (reconcile-cluster.ts, `recheckReady`),
        // so not even the first resync loads it back to find it settled. On PostgreSQL `mks serve`
        // shares clusters between processes (leases), and another one may have changed it: the
        // ensure loads it (the pass still makes no Kubernetes call).
        assert.equal(residency().loads, loads, 'no resync after the change loaded the cluster');
        assert.equal(residency().loaded, 0);
      }

      // An edit through its Kubernetes API loads the cluster and changes it: the next resync reads
      // it again and restores what mks applied.
      const desired = (await configMap()).data!['config.conf']!;
      const edited = desired.replace('syncPeriod: 55s', 'syncPeriod: 10s');
      assert.notEqual(edited, desired);
      await untilEvicted('before the edit');
      await k.patchConfigConf(edited, 'merge');
      await waitFor(async () => ((await configMap()).data!['config.conf'] === desired ? true : undefined), {
        ...TIMEOUT,
        what: 'the edited ConfigMap restored by a resync',
      });
    });
  });
}
