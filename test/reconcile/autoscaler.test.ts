/**
 * The cluster autoscaler end to end, on every engine: a pool with `autoscale: true` grows when
 * pods are unschedulable for lack of room (the emulated scheduler weighs requests against the
 * nodes' allocatable) and shrinks back to `minNodes` once its nodes stay unneeded for
 * `scaleDownUnneededTimeSeconds`, each resize a pool change (UPSCALING / DOWNSCALING) the
 * reconciler applies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ENV = {
  MKS_POD_START_MS: '100',
  MKS_RESYNC_MS: '300',
  MKS_PROGRESS_MS: '50',
  MKS_AUTOSCALE_INTERVAL_MS: '200',
};
const TIMEOUT = { timeoutMs: 20_000, intervalMs: 100 };

interface Pool {
  id: string;
  status: string;
  desiredNodes: number;
  currentNodes: number;
}

/** A bare pod asking for `cpu` (an emulated node has 7910m allocatable). */
function worker(name: string, cpu: string): V1Pod {
  return {
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'nginx', resources: { requests: { cpu } } }] },
  };
}

for (const dialect of DIALECTS) {
  describe(`cluster autoscaler (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    let k: KubeAccess | undefined;

    before(async () => {
      server = await startTestServer(dialect, ENV);
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(async () => {
      k?.close();
      await server.close();
    });

    const call = <T>(method: string, path: string, body?: unknown) =>
      server.client.call<T>(method, `${kube}${path}`, body);

    test('scales up for unschedulable pods, then down to minNodes once the nodes are unneeded', async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepools: [
          {
            name: 'auto',
            desiredNodes: 1,
            minNodes: 1,
            maxNodes: 3,
            autoscale: true,
            autoscaling: { scaleDownUnneededTimeSeconds: 1, scaleDownUtilizationThreshold: 0.5 },
          },
        ],
      });
      await untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs);
      k = await clusterAccess(server.client, kube, id);
      const [pool] = await call<Pool[]>('GET', `/${id}/nodepool`);
      const poolPath = `/${id}/nodepool/${pool!.id}`;

      // Three pods of 5 CPUs: one fits the node, the others wait for room.
      for (const name of ['a', 'b', 'c'])
        await k.core.createNamespacedPod({ namespace: 'default', body: worker(name, '5') });
      const pending = await waitFor(
        async () => {
          const pod = (await k!.core.listNamespacedPod({ namespace: 'default' })).items.find(
            (candidate) => candidate.spec?.nodeName === undefined,
          );
          return pod?.status?.conditions?.find(
            (c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable',
          );
        },
        { ...TIMEOUT, what: 'a pod to be Unschedulable' },
      );
      // Every node lacks CPU: one at first, two if the autoscaler's first node joined before this read.
      assert.match(pending.message ?? '', /^0\/(\d) nodes are available: \1 Insufficient cpu\./);
      const events = await k.kubectl(
        'get',
        'events',
        '-n',
        'default',
        '--field-selector',
        'reason=FailedScheduling',
      );
      assert.match(
        events,
        /Warning\s+FailedScheduling\s+pod\/[bc]\s+0\/(\d) nodes are available: \1 Insufficient cpu\./,
      );

      // The autoscaler grows the pool to 3 (UPSCALING), and every pod then runs on its own node.
      const grown = await waitFor(
        async () => {
          const current = await call<Pool>('GET', poolPath);
          return current.desiredNodes === 3 ? current : undefined;
        },
        { ...TIMEOUT, what: 'the pool to grow' },
      );
      assert.ok(['UPSCALING', 'READY'].includes(grown.status), grown.status);
      const placed = await waitFor(
        async () => {
          const pods = (await k!.core.listNamespacedPod({ namespace: 'default' })).items;
          return pods.every((pod) => pod.status?.phase === 'Running') && pods;
        },
        { ...TIMEOUT, what: 'every pod to run' },
      );
      assert.equal(new Set(placed.map((pod) => pod.spec?.nodeName)).size, 3);
      assert.equal((await k.core.listNode()).items.length, 3);

      // With the pods gone, the nodes are unneeded: removed one at a time, down to minNodes.
      for (const name of ['a', 'b', 'c']) await k.core.deleteNamespacedPod({ namespace: 'default', name });
      const shrunk = await waitFor(
        async () => {
          const current = await call<Pool>('GET', poolPath);
          return current.desiredNodes === 1 && current.status === 'READY' ? current : undefined;
        },
        { ...TIMEOUT, what: 'the pool to shrink to minNodes' },
      );
      assert.equal(shrunk.currentNodes, 1);
      await waitFor(async () => (await k!.core.listNode()).items.length === 1, TIMEOUT);

      const history = await server.services.clusterStore.history(id);
      const notes = history.filter((row) => row.action === 'nodepool').map((row) => row.note ?? '');
      // The pods are created one request at a time while the autoscaler runs every 200 ms: a pass
      // may fall between two creations and grow the pool by one, the next by the other.
      const grows = notes.filter((note) => /unschedulable pod\(s\) need/.test(note));
      assert.match(
        grows[0] ?? '',
        /^cluster autoscaler: [12] unschedulable pod\(s\) need [12] more node\(s\) in pool auto/,
      );
      const added = grows.map((note) => Number(/need (\d+) more node/.exec(note)?.[1] ?? Number.NaN));
      assert.equal(
        added.reduce((total, count) => total + count, 0),
        2,
        `the scale-ups add the two nodes the pods need: ${notes.join('\n')}`,
      );
      assert.match(notes[0] ?? '', /unschedulable pod\(s\) need/, 'the first pool change is a scale-up');
      assert.equal(notes.filter((note) => /was unneeded/.test(note)).length, 2, notes.join('\n'));
    });
  });
}
