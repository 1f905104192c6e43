/**
 * IP restrictions end to end, on every engine: the `/ipRestrictions` calls through real HTTP, and
 * their enforcement on the cluster's Kubernetes API as kubectl and client-node meet it (a caller
 * outside the list gets 403; mks's own reconciler is not subject to it, as OVH's control plane is not).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../../src/client/api-client.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ENV = { MKS_POD_START_MS: '100', MKS_RESYNC_MS: '300', MKS_PROGRESS_MS: '50' };

for (const dialect of DIALECTS) {
  describe(`IP restrictions (${dialect})`, () => {
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

    test("the list is enforced at once on the cluster's Kubernetes API; the reconciler is not subject to it", async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepool: { desiredNodes: 1 },
      });
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
      k = await clusterAccess(server.client, kube, id);
      assert.deepEqual(await call('GET', `/${id}/ipRestrictions`), []);
      assert.equal((await k.status('/api/v1/nodes')).status, 200);

      assert.equal(await call('PUT', `/${id}/ipRestrictions`, { ips: ['203.0.113.0/24'] }), null);
      assert.deepEqual(await call('GET', `/${id}/ipRestrictions`), ['203.0.113.0/24']);
      const refused = await k.run(['get', 'nodes']);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /Error from server \(Forbidden\)/);
      // kubectl's discovery reads the refusal (no cache yet): the message names the caller's address.
      assert.match(
        refused.stderr,
        /Error from server \(Forbidden\): forbidden: 127\.0\.0\.1 is not allowed by the cluster's IP restrictions/,
      );
      assert.doesNotMatch(refused.stderr, /unknown/);
      const status = await k.status('/api/v1/nodes');
      assert.equal(status.status, 403);
      const body = JSON.parse(status.body) as { kind: string; reason: string; message: string };
      assert.equal(body.kind, 'Status');
      assert.equal(body.reason, 'Forbidden');
      assert.match(body.message, /127\.0\.0\.1 is not allowed by the cluster's IP restrictions/);
      const listed = await k.core.listNode().catch((caught: unknown) => caught);
      assert.equal((listed as { code?: number }).code, 403);
      // A bad token is still a 401, whatever the address.
      assert.equal((await k.status('/api/v1/nodes', 'not-the-token')).status, 401);

      // The reconciler still applies changes.
      await call('PUT', `/${id}/customization`, { kubeProxy: { iptables: { syncPeriod: 'PT40S' } } });
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);

      await call('POST', `/${id}/ipRestrictions`, { ips: ['127.0.0.1', '203.0.113.0/24'] });
      assert.deepEqual(
        await call('GET', `/${id}/ipRestrictions`),
        ['203.0.113.0/24', '127.0.0.1'],
        'as given',
      );
      assert.match(await k.kubectl('get', 'nodes', '--no-headers'), /Ready/);
      const config = await k.kubectl(
        'get',
        'cm',
        'kube-proxy',
        '-n',
        'kube-system',
        '-o',
        'jsonpath={.data.config\\.conf}',
      );
      assert.match(config, /syncPeriod: 40s/);

      await call('DELETE', `/${id}/ipRestrictions/${encodeURIComponent('127.0.0.1/32')}`);
      assert.deepEqual(await call('GET', `/${id}/ipRestrictions`), ['203.0.113.0/24']);
      assert.equal((await k.status('/api/v1/nodes')).status, 403);
      // With discovery cached, kubectl meets the refusal on the resource itself: the same message.
      const cached = await k.run(['get', 'nodes']);
      assert.match(
        cached.stderr,
        /Error from server \(Forbidden\): forbidden: 127\.0\.0\.1 is not allowed by the cluster's IP restrictions/,
      );

      await call('PUT', `/${id}/ipRestrictions`, { ips: [] });
      assert.equal((await k.status('/api/v1/nodes')).status, 200);
    });

    test('bad blocks and unknown entries are refused with a clear message, and change nothing', async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepool: { desiredNodes: 1 },
      });
      await call('PUT', `/${id}/ipRestrictions`, { ips: ['10.42.0.0/16'] });
      const cases: Array<[string, string, unknown, number, RegExp]> = [
        ['PUT', '/ipRestrictions', { ips: ['10.0.0.1/8'] }, 400, /ips: '10\.0\.0\.1\/8' is not an IP block/],
        [
          'POST',
          '/ipRestrictions',
          { ips: ['10.0.0.0/8', 'not-an-ip'] },
          400,
          /'not-an-ip' is not an IP block/,
        ],
        ['PUT', '/ipRestrictions', { ips: ['2001:db8::/129'] }, 400, /is not an IP block/],
        ['PUT', '/ipRestrictions', { ips: '10.0.0.0/8' }, 400, /ips/],
        ['PUT', '/ipRestrictions', {}, 400, /ips/],
        ['DELETE', `/ipRestrictions/${encodeURIComponent('192.0.2.0/24')}`, undefined, 404, /does not exist/],
      ];
      for (const [method, path, body, code, message] of cases) {
        const error = await call(method, `/${id}${path}`, body).catch((caught: unknown) => caught);
        assert.ok(error instanceof ApiError, `${method} ${path} was accepted`);
        assert.equal(error.status, code, `${method} ${path} ${JSON.stringify(body)}`);
        assert.match(error.message, message);
      }
      assert.deepEqual(await call('GET', `/${id}/ipRestrictions`), ['10.42.0.0/16']);
    });
  });
}
