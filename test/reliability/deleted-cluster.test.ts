/**
 * A deleted cluster stays deleted: once `DELETE …/kube/{id}` is accepted its Kubernetes API
 * refuses the token (401), and nothing racing the deletion (writes in flight, concurrent deletes,
 * a customization PUT, a watch held open) serves or stores its objects again. Likewise a
 * kubeconfig reset: calls started after it is accepted are refused with the old token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { kubeLoad, openWatch, rawRequest, requestText, serverPath } from './raw-http.ts';
import { readyCluster } from './ready-cluster.ts';

const TIMEOUT = { timeoutMs: 60_000, intervalMs: 100 };

for (const dialect of DIALECTS) {
  describe(`a deleted cluster stays deleted (${dialect})`, () => {
    let server: TestServer;
    let kube: string;

    const storedObjects = async (clusterId: string) => {
      const { db } = server.services.database;
      const objects = await db
        .selectFrom('emulator_objects' as never)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('cluster_id' as never, '=', clusterId as never)
        .executeTakeFirstOrThrow();
      const clusters = await db
        .selectFrom('emulator_clusters' as never)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('id' as never, '=', clusterId as never)
        .executeTakeFirstOrThrow();
      return Number((objects as { n: number }).n) + Number((clusters as { n: number }).n);
    };

    before(async () => {
      server = await startTestServer(dialect);
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(() => server?.close());

    test('concurrent deletes, a racing customization PUT, writes in flight and an open watch', async () => {
      const { id, access } = await readyCluster(server.client, kube, 'doomed');
      const watch = await openWatch(
        access,
        `${serverPath(access.server)}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=120`,
      );
      assert.equal(watch.status, 200);
      const load = kubeLoad(access, access.token);
      await waitFor(() => load.calls.filter((call) => call.status === 201).length >= 3, {
        ...TIMEOUT,
        what: 'writes to land before the deletion',
      });

      const racing = await Promise.all([
        server.client.raw('DELETE', `${kube}/${id}`),
        server.client.raw('PUT', `${kube}/${id}/customization`, {
          kubeProxy: { iptables: { syncPeriod: 'PT40S' } },
        }),
        server.client.raw('DELETE', `${kube}/${id}`),
        server.client.raw('DELETE', `${kube}/${id}`),
      ]);
      const accepted = performance.now();
      for (const response of racing) {
        assert.ok(response.status < 500, `no 5xx: ${response.status} ${JSON.stringify(response.body)}`);
      }
      const deletes = [racing[0]!, racing[2]!, racing[3]!];
      assert.ok(deletes.every((response) => response.status === 200 || response.status === 404));
      assert.ok(
        deletes.some((response) => response.status === 200),
        'one delete is accepted',
      );
      assert.ok([200, 404, 409].includes(racing[1]!.status), `the PUT: ${racing[1]!.status}`);

      // Every call started once the deletion was accepted is refused, in a Status.
      await waitFor(() => load.calls.filter((call) => call.startedAt > accepted).length >= 6, {
        ...TIMEOUT,
        what: 'calls after the deletion',
      });
      await waitFor(async () => (await server.client.raw('GET', `${kube}/${id}`)).status === 404, {
        ...TIMEOUT,
        what: 'the cluster to be gone',
      });
      await waitFor(() => watch.ended.then(() => true), { ...TIMEOUT, what: 'the watch to be closed' });
      await waitFor(async () => (await storedObjects(id)) === 0, {
        ...TIMEOUT,
        what: 'the objects to be erased',
      });
      const seen = load.calls.length;
      await waitFor(() => load.calls.length >= seen + 6, {
        ...TIMEOUT,
        what: 'more calls after the erasure',
      });
      await load.stop();

      const late = load.calls.filter((call) => call.startedAt > accepted);
      assert.ok(late.length >= 6);
      for (const call of late) {
        assert.equal(call.status, 401, `a call after the deletion answered ${call.status}`);
        assert.equal(call.kind, 'Status');
      }
      assert.ok(
        load.calls.every((call) => call.status < 500),
        'no 5xx during the race',
      );
      assert.equal(await storedObjects(id), 0, 'nothing of the cluster was stored again');
      const final = await server.services.clusterStore.get(id);
      assert.equal(final?.status, 'DELETED');
    });

    test('a kubeconfig reset refuses the old token for every call started after it', async () => {
      const { id, access } = await readyCluster(server.client, kube, 'rotated');
      const load = kubeLoad(access, access.token);
      await waitFor(() => load.calls.some((call) => call.status === 200), {
        ...TIMEOUT,
        what: 'calls to succeed',
      });
      assert.equal((await server.client.raw('POST', `${kube}/${id}/kubeconfig/reset`)).status, 200);
      const accepted = performance.now();
      await waitFor(() => load.calls.filter((call) => call.startedAt > accepted).length >= 6, {
        ...TIMEOUT,
        what: 'calls after the reset',
      });
      await load.stop();
      for (const call of load.calls.filter((c) => c.startedAt > accepted)) assert.equal(call.status, 401);
      assert.ok(
        load.calls.every((call) => call.status < 500),
        'no 5xx during the race',
      );

      const { content } = await server.client.call<{ content: string }>('POST', `${kube}/${id}/kubeconfig`);
      const fresh = new KubeAccess(content);
      const response = await rawRequest(
        fresh.server,
        requestText('GET', `${serverPath(fresh.server)}/api/v1/namespaces`, {
          Authorization: `Bearer ${fresh.token}`,
        }),
        { ca: fresh.ca?.toString() },
      );
      assert.equal(response.status, 200, 'the new kubeconfig works');
    });

    // Last: it stops this server's reconciler, so that nothing but the DELETE can close the watch.
    test('a watch held open is closed once the DELETE is accepted, before the cluster is destroyed', async () => {
      const { id, access } = await readyCluster(server.client, kube, 'watched');
      try {
        await server.runtime.reconciler?.stop();
        const watch = await openWatch(
          access,
          `${serverPath(access.server)}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=120`,
        );
        assert.equal(watch.status, 200);
        await server.client.call('DELETE', `${kube}/${id}`);
        // waitFor would wait on the promise itself: race it against the bound instead.
        let bound: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          watch.ended.then(() => true),
          new Promise<boolean>((resolve) => {
            bound = setTimeout(() => resolve(false), 10_000);
          }),
        ]);
        clearTimeout(bound);
        assert.ok(closed, 'the watch closed within 10 s of the DELETE, the cluster not destroyed yet');
        assert.equal(
          (
            await rawRequest(
              access.server,
              requestText('GET', `${serverPath(access.server)}/api/v1/namespaces`, {
                Authorization: `Bearer ${access.token}`,
              }),
              { ca: access.ca?.toString() },
            )
          ).status,
          401,
        );
      } finally {
        access.close();
      }
    });
  });
}
