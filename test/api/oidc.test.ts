/**
 * OpenID Connect end to end, on every engine: the `/openIdConnect` calls through real HTTP, and
 * the reconciler passing the configuration to the emulated kube-apiserver as its `--oidc-*` flags,
 * as kubectl sees them on the kube-apiserver pod. Bad input is refused and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError } from '../../src/client/api-client.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ENV = { MKS_POD_START_MS: '100', MKS_RESYNC_MS: '300', MKS_PROGRESS_MS: '50' };
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

for (const dialect of DIALECTS) {
  describe(`OpenID Connect and network settings (${dialect})`, () => {
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
    const refusal = (method: string, path: string, body?: unknown) =>
      call(method, path, body).then(
        () => assert.fail(`${method} ${path} was accepted`),
        (error: unknown) => {
          assert.ok(error instanceof ApiError);
          return error;
        },
      );

    async function apiServerFlags(): Promise<string[]> {
      const command = await k!.kubectl(
        'get',
        'pods',
        '-n',
        'kube-system',
        '-l',
        'component=kube-apiserver',
        '-o',
        'jsonpath={.items[0].spec.containers[0].command}',
      );
      return (JSON.parse(command) as string[]).filter((flag) => /^--(oidc-|enable-admission)/.test(flag));
    }

    test('configured, changed and removed: the kube-apiserver runs with the matching --oidc-* flags', async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepool: { desiredNodes: 1 },
      });
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
      k = await clusterAccess(server.client, kube, id);
      assert.equal((await refusal('GET', `/${id}/openIdConnect`)).status, 404);

      const created = await call('POST', `/${id}/openIdConnect`, {
        clientId: 'mks',
        issuerUrl: 'https://issuer.example.com/realms/mks',
        usernameClaim: 'email',
        usernamePrefix: 'oidc:',
        groupsClaim: null,
        groupsPrefix: '',
        requiredClaim: ['aud=mks'],
        signingAlgorithms: ['RS256', 'ES256'],
        caContent: CA,
      });
      const stored = {
        clientId: 'mks',
        issuerUrl: 'https://issuer.example.com/realms/mks',
        usernameClaim: 'email',
        usernamePrefix: 'oidc:',
        groupsClaim: [],
        groupsPrefix: '',
        requiredClaim: ['aud=mks'],
        signingAlgorithms: ['RS256', 'ES256'],
        caContent: CA,
      };
      assert.deepEqual(created, stored);
      assert.equal((await call<{ status: string }>('GET', `/${id}`)).status, 'REDEPLOYING');
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
      assert.deepEqual(await call('GET', `/${id}/openIdConnect`), stored);
      assert.deepEqual(await apiServerFlags(), [
        '--enable-admission-plugins=AlwaysPullImages,NodeRestriction',
        '--oidc-ca-file=/etc/kubernetes/pki/oidc-ca.crt',
        '--oidc-client-id=mks',
        '--oidc-issuer-url=https://issuer.example.com/realms/mks',
        '--oidc-required-claim=aud=mks',
        '--oidc-signing-algs=RS256,ES256',
        '--oidc-username-claim=email',
        '--oidc-username-prefix=oidc:',
      ]);
      assert.equal((await refusal('POST', `/${id}/openIdConnect`, stored)).status, 409);

      await call('PUT', `/${id}/openIdConnect`, {
        clientId: 'mks2',
        issuerUrl: 'https://issuer.example.com',
        groupsClaim: ['groups'],
      });
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
      assert.deepEqual(await apiServerFlags(), [
        '--enable-admission-plugins=AlwaysPullImages,NodeRestriction',
        '--oidc-client-id=mks2',
        '--oidc-groups-claim=groups',
        '--oidc-issuer-url=https://issuer.example.com',
      ]);

      assert.equal(await call('DELETE', `/${id}/openIdConnect`), null);
      await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
      assert.deepEqual(await apiServerFlags(), [
        '--enable-admission-plugins=AlwaysPullImages,NodeRestriction',
      ]);
      assert.equal((await refusal('GET', `/${id}/openIdConnect`)).status, 404);
      assert.equal((await refusal('PUT', `/${id}/openIdConnect`, stored)).status, 404);
      assert.equal((await refusal('DELETE', `/${id}/openIdConnect`)).status, 404);
    });

    test('bad configurations are refused with the reason, and change nothing', async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepool: { desiredNodes: 1 },
      });
      const base = { clientId: 'mks', issuerUrl: 'https://issuer.example.com' };
      const cases: Array<[unknown, RegExp]> = [
        [
          { ...base, issuerUrl: 'http://issuer.example.com' },
          /issuerUrl: 'http:\/\/issuer\.example\.com' is not an https URL/,
        ],
        [{ ...base, issuerUrl: 'https://issuer.example.com/?x=1' }, /is not an https URL without query/],
        [{ ...base, clientId: ' ' }, /clientId: must not be empty/],
        [{ ...base, signingAlgorithms: ['HS256'] }, /signingAlgorithms/],
        [{ ...base, requiredClaim: ['aud'] }, /requiredClaim: 'aud' is not key=value/],
        [{ ...base, caContent: 'bm90IGEgY2VydA==' }, /caContent: not the base64 of a PEM certificate/],
        [{ clientId: 'mks' }, /issuerUrl/],
      ];
      for (const [body, message] of cases) {
        const error = await refusal('POST', `/${id}/openIdConnect`, body);
        assert.equal(error.status, 400, JSON.stringify(body));
        assert.match(error.message, message);
      }
      assert.equal((await refusal('GET', `/${id}/openIdConnect`)).status, 404);
      const history = await server.services.clusterStore.history(id);
      assert.deepEqual(
        history.map((row) => row.action),
        ['create'],
      );
    });

    test('privateNetworkConfiguration and updateLoadBalancersSubnetId: validated, stored and echoed, nothing applied', async () => {
      const { id } = await call<{ id: string }>('POST', '', {
        region: 'GRA7',
        nodepool: { desiredNodes: 1 },
      });
      assert.deepEqual(await call('GET', `/${id}/privateNetworkConfiguration`), {
        defaultVrackGateway: '',
        privateNetworkRoutingAsDefault: false,
      });
      const answer = await call<{ message: string }>('PUT', `/${id}/privateNetworkConfiguration`, {
        defaultVrackGateway: '10.0.0.1',
        privateNetworkRoutingAsDefault: true,
      });
      assert.match(answer.message, /nothing is applied/);
      const stored = { defaultVrackGateway: '10.0.0.1', privateNetworkRoutingAsDefault: true };
      assert.deepEqual(await call('GET', `/${id}/privateNetworkConfiguration`), stored);
      const subnet = '5e0e1b0c-3b7a-4a58-9d43-2f7d1d1f8f11';
      assert.equal(
        await call('PUT', `/${id}/updateLoadBalancersSubnetId`, { loadBalancersSubnetId: subnet }),
        null,
      );
      const cluster = await call<Record<string, unknown>>('GET', `/${id}`);
      assert.deepEqual(cluster.privateNetworkConfiguration, stored);
      assert.equal(cluster.loadBalancersSubnetId, subnet);

      const gateway = await refusal('PUT', `/${id}/privateNetworkConfiguration`, {
        defaultVrackGateway: 'gw',
      });
      assert.equal(gateway.status, 400);
      assert.match(gateway.message, /defaultVrackGateway: 'gw' is not an IPv4 address/);
      const badSubnet = await refusal('PUT', `/${id}/updateLoadBalancersSubnetId`, {
        loadBalancersSubnetId: 'x',
      });
      assert.equal(badSubnet.status, 400);
      assert.match(badSubnet.message, /loadBalancersSubnetId: 'x' is not a UUID/);
      const after = await call<Record<string, unknown>>('GET', `/${id}`);
      assert.deepEqual([after.privateNetworkConfiguration, after.loadBalancersSubnetId], [stored, subnet]);
      assert.equal(
        await call('PUT', `/${id}/updateLoadBalancersSubnetId`, { loadBalancersSubnetId: null }),
        null,
      );
      assert.equal((await call<Record<string, unknown>>('GET', `/${id}`)).loadBalancersSubnetId, null);
    });
  });
}
