/**
 * The customization history and revert (mks extensions), through real HTTP on every engine with
 * the reconciler on: every change with who made it, its diff and its outcome, newest first, read
 * from the database; a revert restores an earlier customization as a new generation; history
 * calls write nothing, and refusals come in OVH's body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/logger.ts';
import { openServices } from '../../src/services.ts';
import {
  clusterKube,
  clusterOfAnotherProject,
  kubeProxyConfigConf,
  storedCluster,
} from '../support/cluster-state.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import type { KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

interface Entry {
  generation: number;
  action: string;
  at: string;
  applicationId: number | null;
  applicationName: string | null;
  credentialId: number | null;
  sourceIp: string | null;
  queryId: string | null;
  revertOf: number | null;
  kubeProxyMode: string;
  customization: { kubeProxy: Record<string, unknown> };
  diff: Array<{ field: string; from: string | null; to: string | null }>;
  outcome: { status: string; message: string | null; at: string } | null;
}

const FIRST = { kubeProxy: { iptables: { syncPeriod: 'PT40S' } } };
const SECOND = { kubeProxy: { iptables: { minSyncPeriod: 'PT2S', syncPeriod: 'PT50S' } } };

for (const dialect of DIALECTS) {
  describe(`customization history and revert (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    let clusterId: string;
    let k: KubeAccess;
    const queryIds: string[] = [];

    before(async () => {
      server = await startTestServer(dialect, { MKS_PROGRESS_MS: '50' });
      kube = `/cloud/project/${server.projectId}/kube`;
      const created = await server.client.raw<{ id: string }>('POST', kube, {
        region: 'GRA7',
        name: 'audited',
        customization: FIRST,
      });
      clusterId = created.body.id;
      queryIds.push(created.queryId!);
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      const changed = await server.client.raw('PUT', `${kube}/${clusterId}/customization`, SECOND);
      assert.equal(changed.status, 200);
      queryIds.push(changed.queryId!);
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      k = await clusterKube(server.client, kube, clusterId);
    });
    after(async () => {
      k.close();
      await server.close();
    });

    const history = (id = clusterId) =>
      server.client.raw<Entry[] & { class?: string; message?: string }>(
        'GET',
        `${kube}/${id}/customization/history`,
      );
    const revert = (body: unknown, id = clusterId) =>
      server.client.raw<{ message?: string; class?: string }>(
        'POST',
        `${kube}/${id}/customization/revert`,
        body,
      );

    test('every change is listed newest first with who made it, its diff and its outcome, and reading writes nothing', async () => {
      const before = await storedCluster(server.services.database.db, clusterId);
      const response = await history();
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(
        await storedCluster(server.services.database.db, clusterId),
        before,
        'a history call writes nothing',
      );
      const [second, first] = response.body;
      assert.equal(response.body.length, 2);
      assert.deepEqual(
        response.body.map((entry) => [entry.generation, entry.action]),
        [
          [2, 'customize'],
          [1, 'create'],
        ],
      );
      const credential = await server.client.call<{ credentialId: number; applicationId: number }>(
        'GET',
        '/auth/currentCredential',
      );
      for (const [entry, queryId] of [
        [first!, queryIds[0]],
        [second!, queryIds[1]],
      ] as const) {
        assert.equal(entry.applicationId, credential.applicationId);
        assert.equal(entry.credentialId, credential.credentialId);
        assert.equal(typeof entry.applicationName, 'string');
        assert.equal(entry.sourceIp, '127.0.0.1');
        assert.equal(entry.queryId, queryId, 'the query id of the request that made the change');
        assert.equal(entry.outcome?.status, 'READY');
        assert.equal(entry.outcome?.message, null);
        assert.ok(Date.parse(entry.outcome!.at) >= Date.parse(entry.at));
      }
      assert.deepEqual(first!.customization.kubeProxy, FIRST.kubeProxy);
      assert.deepEqual(second!.customization.kubeProxy, SECOND.kubeProxy);
      assert.deepEqual(second!.diff, [
        { field: 'kubeProxy.iptables.syncPeriod', from: 'PT40S', to: 'PT50S' },
        { field: 'kubeProxy.iptables.minSyncPeriod', from: null, to: 'PT2S' },
      ]);
      assert.ok(first!.diff.some((change) => change.field === 'kubeProxyMode' && change.to === 'iptables'));
    });

    test('history is read from the database: a freshly opened store answers the same', async () => {
      const fresh = await openServices(server.config, createLogger('silent'), { migrate: false });
      try {
        const again = await fresh.clusters.history(server.projectId, clusterId);
        assert.deepEqual(JSON.parse(JSON.stringify(again)), (await history()).body);
      } finally {
        await fresh.close();
      }
    });

    test('a revert restores an earlier customization as a new generation, rolled out and recorded', async () => {
      const runningFirst = (await history()).body.find((entry) => entry.generation === 1);
      const answer = await revert({ generation: 1 });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.match(
        answer.body.message ?? '',
        /^Customization of generation 1 restored: generation 3 is being applied/,
      );
      const customization = await server.client.call<{ kubeProxy: unknown }>(
        'GET',
        `${kube}/${clusterId}/customization`,
      );
      assert.deepEqual(customization.kubeProxy, runningFirst!.customization.kubeProxy);
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      assert.match(await kubeProxyConfigConf(k), /^iptables:\n {2}syncPeriod: 40s\n/m);

      const latest = await waitFor(
        async () => {
          const entry = (await history()).body[0];
          return entry?.outcome === null ? undefined : entry;
        },
        { timeoutMs: 5_000, intervalMs: 50, what: 'the revert to record its outcome' },
      );
      assert.equal(latest.generation, 3);
      assert.equal(latest.action, 'revert');
      assert.equal(latest.revertOf, 1);
      assert.equal(latest.queryId, answer.queryId);
      assert.equal(latest.outcome?.status, 'READY');
      assert.deepEqual(latest.diff, [
        { field: 'kubeProxy.iptables.minSyncPeriod', from: 'PT2S', to: null },
        { field: 'kubeProxy.iptables.syncPeriod', from: 'PT50S', to: 'PT40S' },
      ]);
    });

    test("a revert to an unknown generation, a malformed revert, and another project's cluster are refused in OVH's body", async () => {
      const before = await storedCluster(server.services.database.db, clusterId);
      const unknown = await revert({ generation: 99 });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.class, 'Client::BadRequest');
      assert.match(
        unknown.body.message ?? '',
        /^generation: 99 is not in the history of cluster [0-9a-f-]+; its generations are 1 to \d+$/,
      );
      for (const body of [{}, { generation: 'one' }, { generation: 0 }, { generation: 1, extra: true }]) {
        const malformed = await revert(body);
        assert.equal(malformed.status, 400, JSON.stringify(body));
        assert.equal(malformed.body.class, 'Client::BadRequest');
      }

      const foreign = { id: await clusterOfAnotherProject(server) };
      const notHere = await history(foreign.id);
      assert.equal(notHere.status, 404);
      assert.equal(notHere.body.class, 'Client::NotFound');
      assert.equal((await revert({ generation: 1 }, foreign.id)).status, 404);
      assert.equal(
        await storedCluster(server.services.database.db, clusterId),
        before,
        'refusals change nothing',
      );
    });
  });
}
