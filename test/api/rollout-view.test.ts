/**
 * The per-node rollout view (mks extension), through real HTTP on every engine with the reconciler
 * on and pods that take a moment to start: during a rollout some nodes run the new generation and
 * others the old one, each named with its pod, config hash and readiness; reading writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clusterOfAnotherProject, storedCluster } from '../support/cluster-state.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

interface Rollout {
  generation: number;
  status: string;
  configHash: string;
  phase: string | null;
  message: string | null;
  desired: number;
  nodes: Array<{
    node: string | null;
    pod: string;
    configHash: string | null;
    generation: number | null;
    ready: boolean;
    restarts: number;
    message: string | null;
  }>;
  class?: string;
}

for (const dialect of DIALECTS) {
  describe(`rollout view (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    let clusterId: string;

    before(async () => {
      server = await startTestServer(dialect, { MKS_POD_START_MS: '300', MKS_PROGRESS_MS: '50' });
      kube = `/cloud/project/${server.projectId}/kube`;
      clusterId = (await server.client.call<{ id: string }>('POST', kube, { region: 'GRA7', name: 'rolled' }))
        .id;
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 20_000);
    });
    after(() => server.close());

    const rollout = (id = clusterId) => server.client.raw<Rollout>('GET', `${kube}/${id}/rollout`);

    test('a settled cluster shows every node running its generation, ready, and reading writes nothing', async () => {
      const before = await storedCluster(server.services.database.db, clusterId);
      const view = await rollout();
      assert.equal(view.status, 200, JSON.stringify(view.body));
      assert.equal(await storedCluster(server.services.database.db, clusterId), before);
      assert.equal(view.body.phase, 'done');
      assert.equal(view.body.generation, 1);
      assert.equal(view.body.desired, 3);
      assert.equal(view.body.nodes.length, 3);
      for (const node of view.body.nodes) {
        assert.equal(node.configHash, view.body.configHash);
        assert.equal(node.generation, 1);
        assert.equal(node.ready, true);
        assert.equal(node.restarts, 0);
        assert.equal(node.message, null);
        assert.match(node.pod, /^kube-proxy-/);
      }
      assert.equal(new Set(view.body.nodes.map((node) => node.node)).size, 3, 'one pod per node');
    });

    test('during a rollout the view shows nodes on the new generation beside nodes on the old one, then all on the new', async () => {
      await server.client.call('PUT', `${kube}/${clusterId}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT45S' } },
      });
      const mixed = await waitFor(
        async () => {
          const view = (await rollout()).body;
          const generations = new Set(view.nodes.map((node) => node.generation));
          return view.phase === 'rolling' && generations.has(1) && generations.has(2) ? view : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 25, what: 'a rollout with nodes on generations 1 and 2' },
      );
      assert.equal(mixed.generation, 2);
      assert.equal(mixed.status, 'REDEPLOYING');

      await untilClusterStatus(server.client, kube, clusterId, 'READY', 20_000);
      const done = (await rollout()).body;
      assert.equal(done.phase, 'done');
      assert.deepEqual(
        done.nodes.map((node) => [node.generation, node.configHash, node.ready]),
        [0, 1, 2].map(() => [2, done.configHash, true]),
      );
      assert.notEqual(done.configHash, mixed.nodes.find((node) => node.generation === 1)?.configHash);
    });

    test("another project's cluster has no rollout here", async () => {
      const notHere = await rollout(await clusterOfAnotherProject(server));
      assert.equal(notHere.status, 404);
      assert.equal(notHere.body.class, 'Client::NotFound');
    });
  });
}
