/**
 * The cluster and customization contract (DESIGN §3) through real HTTP with signed requests, on
 * every engine: statuses, echo rules, the guide's examples, validation, and refusals that change
 * nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { signRequest } from '../../src/auth/authenticator.ts';
import { DIALECTS } from '../support/dialects.ts';
import { GUIDE_CREATE } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/** The Terraform provider's create body when nothing optional is set (spec/terraform-provider.md). */
const TERRAFORM_CREATE = {
  name: 'probe',
  privateNetworkConfiguration: { defaultVrackGateway: '', privateNetworkRoutingAsDefault: false },
  region: 'GRA11',
  customization: { apiServer: { admissionPlugins: {} }, kubeProxy: { iptables: {}, ipvs: {} } },
};

const DEFAULT_API_SERVER = {
  admissionPlugins: { disabled: [], enabled: ['AlwaysPullImages', 'NodeRestriction'] },
};

type Cluster = Record<string, unknown> & {
  id: string;
  status: string;
  customization: Record<string, unknown>;
};

for (const dialect of DIALECTS) {
  describe(`clusters and customization (${dialect})`, () => {
    let server: TestServer;
    let kube: string;

    before(async () => {
      // The API alone: these tests check the intent it records, so no worker moves statuses on.
      server = await startTestServer(dialect, { MKS_WORKER: 'false' });
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(() => server.close());

    const create = (body: unknown) => server.client.call<Cluster>('POST', kube, body);
    const raw = (method: string, path: string, body?: unknown) =>
      server.client.raw<Record<string, unknown>>(method, path, body);

    /** Everything stored about a cluster: its row and its history, to prove refusals change nothing. */
    async function snapshot(id: string): Promise<string> {
      const db = server.services.database.db;
      const row = await db.selectFrom('clusters').selectAll().where('id', '=', id).executeTakeFirst();
      const history = await db
        .selectFrom('cluster_history')
        .selectAll()
        .where('cluster_id', '=', id)
        .orderBy('id')
        .execute();
      return JSON.stringify({ row, history });
    }

    async function assertRefused(
      method: string,
      path: string,
      body: unknown,
      clusterId: string,
      expected: RegExp,
      status = 400,
    ) {
      const before = await snapshot(clusterId);
      const response = await raw(method, path, body);
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.equal(response.body.class, status === 400 ? 'Client::BadRequest' : response.body.class);
      assert.match(String(response.body.message), expected);
      assert.ok(response.queryId, 'every response carries X-Ovh-QueryID');
      assert.equal(await snapshot(clusterId), before, 'a refused request changes nothing');
    }

    test("the guide's create payload makes an INSTALLING ipvs cluster that echoes its customization", async () => {
      const cluster = await create(GUIDE_CREATE);
      assert.equal(cluster.status, 'INSTALLING');
      assert.equal(cluster.kubeProxyMode, 'ipvs');
      assert.equal(cluster.name, 'my-super-cluster');
      assert.equal(cluster.region, 'GRA5');
      assert.match(String(cluster.version), /^1\.35\.\d+$/, 'newest minor by default, MAJOR.MINOR.PATCH');
      assert.deepEqual(cluster.customization, {
        apiServer: DEFAULT_API_SERVER,
        kubeProxy: GUIDE_CREATE.customization.kubeProxy,
      });
      for (const field of [
        'privateNetworkId',
        'nodesSubnetId',
        'loadBalancersSubnetId',
        'privateNetworkConfiguration',
      ]) {
        assert.ok(field in cluster && cluster[field] === null, `${field} is present and null`);
      }
      const fetched = await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`);
      assert.deepEqual(fetched, cluster);
      assert.deepEqual(await server.client.call('GET', `${kube}/${cluster.id}/customization`), {
        apiServer: DEFAULT_API_SERVER,
        kubeProxy: GUIDE_CREATE.customization.kubeProxy,
      });
      const history = await server.services.clusterStore.history(cluster.id);
      assert.deepEqual(
        history.map((row) => [row.action, row.generation]),
        [['create', 1]],
      );
    });

    test('a cluster created without options defaults to iptables, an empty name and no kube-proxy fields', async () => {
      const cluster = await create({ region: 'GRA7' });
      assert.equal(cluster.kubeProxyMode, 'iptables');
      assert.equal(cluster.name, '');
      assert.deepEqual(cluster.customization, { apiServer: DEFAULT_API_SERVER, kubeProxy: {} });
      assert.equal(cluster.updatePolicy, 'ALWAYS_UPDATE');
    });

    test("the Terraform provider's create body is accepted and its empty objects are not stored as values", async () => {
      const cluster = await create(TERRAFORM_CREATE);
      assert.deepEqual(cluster.customization, { apiServer: DEFAULT_API_SERVER, kubeProxy: {} });
      assert.equal(cluster.privateNetworkConfiguration, null);
      const row = await server.services.database.db
        .selectFrom('clusters')
        .select(['customization', 'private_network_configuration'])
        .where('id', '=', cluster.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.customization, '{}');
      assert.equal(row.private_network_configuration, null);
    });

    test('a requested minor version is reported as MAJOR.MINOR.PATCH', async () => {
      const cluster = await create({ region: 'GRA5', version: '1.32' });
      assert.match(String(cluster.version), /^1\.32\.\d+$/);
      assert.deepEqual(cluster.nextUpgradeVersions, ['1.33']);
    });

    test('listing returns the ids of live clusters of the project only', async () => {
      const a = await create({ region: 'GRA5', name: 'list-a' });
      const ids = await server.client.call<string[]>('GET', kube);
      assert.ok(ids.includes(a.id));
      await server.client.call('DELETE', `${kube}/${a.id}`);
      const deleting = await server.client.call<Cluster>('GET', `${kube}/${a.id}`);
      assert.equal(deleting.status, 'DELETING');
    });

    test('PUT customization with only kubeProxy keeps apiServer and answers REDEPLOYING (guide example)', async () => {
      const cluster = await create({
        region: 'GRA5',
        customization: {
          apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
        },
      });
      await markReady(cluster.id);
      const response = await server.client.call<{ message: string }>(
        'PUT',
        `${kube}/${cluster.id}/customization`,
        {
          kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
        },
      );
      assert.equal(typeof response.message, 'string');
      const after = await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`);
      assert.equal(after.status, 'REDEPLOYING');
      assert.deepEqual(after.customization, {
        apiServer: { admissionPlugins: { disabled: ['AlwaysPullImages'], enabled: ['NodeRestriction'] } },
        kubeProxy: { iptables: { minSyncPeriod: 'PT60S', syncPeriod: 'PT60S' } },
      });
      const history = await server.services.clusterStore.history(cluster.id);
      assert.deepEqual(
        history.map((row) => [row.action, row.generation]),
        [
          ['create', 1],
          ['customize', 2],
        ],
      );
    });

    test('PUT customization with both sections overrides kubeProxy whole (guide: minSyncPeriod is removed)', async () => {
      const cluster = await create(GUIDE_CREATE);
      await server.client.call('PUT', `${kube}/${cluster.id}/customization`, {
        apiServer: { admissionPlugins: { enabled: [], disabled: ['AlwaysPullImages'] } },
        kubeProxy: { iptables: { syncPeriod: 'PT120S' } },
      });
      assert.deepEqual(await server.client.call('GET', `${kube}/${cluster.id}/customization`), {
        apiServer: { admissionPlugins: { disabled: ['AlwaysPullImages'], enabled: [] } },
        kubeProxy: { iptables: { syncPeriod: 'PT120S' } },
      });
    });

    test('durations come back string-identical, never reformatted', async () => {
      const ipvs = {
        syncPeriod: 'PT1M30S',
        minSyncPeriod: 'PT0.5S',
        tcpTimeout: 'P1D',
        tcpFinTimeout: 'PT0S',
        udpTimeout: 'P1W',
      };
      const cluster = await create({ region: 'GRA5', customization: { kubeProxy: { ipvs } } });
      assert.deepEqual((cluster.customization.kubeProxy as Record<string, unknown>).ipvs, ipvs);
    });

    test("the guide's update payload with a missing comma is refused with the place where the JSON breaks", async () => {
      const cluster = await create({ region: 'GRA5' });
      const before = await snapshot(cluster.id);
      const body =
        '{\n"kubeProxy": {\n"iptables": {\n"minSyncPeriod": "PT60S"\n"syncPeriod": "PT60S"\n}\n}\n}';
      const response = await signedText('PUT', `${kube}/${cluster.id}/customization`, body);
      assert.equal(response.status, 400);
      assert.equal(response.body.class, 'Client::BadRequest');
      assert.match(String(response.body.message), /Malformed JSON body at line 5, column 1/);
      assert.equal(await snapshot(cluster.id), before);
    });

    test('kubeProxyMode cannot be changed by a customization update', async () => {
      const cluster = await create({ region: 'GRA5' });
      await assertRefused(
        'PUT',
        `${kube}/${cluster.id}/customization`,
        { kubeProxyMode: 'ipvs' },
        cluster.id,
        /kubeProxyMode.*reset/,
      );
    });

    test('kube-proxy rules are checked on effective values, naming the field, the value and what is allowed', async () => {
      const cluster = await create({ region: 'GRA5' });
      const path = `${kube}/${cluster.id}/customization`;
      const cases: Array<[unknown, RegExp]> = [
        [
          { kubeProxy: { iptables: { minSyncPeriod: 'PT45S' } } },
          /iptables\.minSyncPeriod.*PT45S.*syncPeriod 30s/,
        ],
        [{ kubeProxy: { ipvs: { minSyncPeriod: 'PT1M' } } }, /ipvs\.minSyncPeriod.*PT1M/],
        [{ kubeProxy: { ipvs: { tcpTimeout: 'PT3S' } } }, /tcpTimeout.*PT3S/],
        [{ kubeProxy: { ipvs: { scheduler: 'wrr' } } }, /scheduler.*"wrr".*dh, lc, nq, rr, sed, sh/],
        [{ kubeProxy: { iptables: { syncPeriod: 'P1M' } } }, /syncPeriod.*P1M/],
        [{ kubeProxy: { iptables: { syncPeriod: 'P1Y' } } }, /syncPeriod.*P1Y/],
        [{ kubeProxy: { iptables: { syncPeriod: '-PT1S' } } }, /syncPeriod.*-PT1S/],
        [{ kubeProxy: { iptables: { syncPeriod: 'PT0.0000000001S' } } }, /syncPeriod/],
        [{ kubeProxy: { iptables: { syncPeriod: 'PT9223372037S' } } }, /syncPeriod/],
        [{ kubeProxy: { iptables: { syncPeriod: '30s' } } }, /syncPeriod.*30s/],
        [{ kubeProxy: { iptables: { syncPeriod: 'P1W2D' } } }, /syncPeriod.*P1W2D/],
        [{ kubeProxy: { iptables: { syncPeriod: 30 } } }, /syncPeriod.*wrong type/],
        [{ kubeProxy: { iptables: { sync: 'PT30S' } } }, /iptables\.sync: unknown field/],
        [{ cilium: {} }, /cilium: unknown field/],
        [
          {
            apiServer: {
              admissionPlugins: { enabled: ['AlwaysPullImages'], disabled: ['AlwaysPullImages'] },
            },
          },
          /AlwaysPullImages/,
        ],
        [{ apiServer: { admissionPlugins: { disabled: ['NodeRestriction'] } } }, /NodeRestriction/],
        [
          { apiServer: { admissionPlugins: { enabled: ['PodSecurity'] } } },
          /PodSecurity.*AlwaysPullImages, NodeRestriction/,
        ],
        [[1, 2], /wrong type/],
      ];
      for (const [body, expected] of cases) await assertRefused('PUT', path, body, cluster.id, expected);
    });

    test('creation refuses unknown regions and versions, unknown fields and wrong types, and stores nothing', async () => {
      const count = async () =>
        Number(
          (
            await server.services.database.db
              .selectFrom('clusters')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      const before = await count();
      const cases: Array<[unknown, RegExp]> = [
        [{ region: 'MARS1' }, /region.*MARS1.*GRA5/],
        [{ region: 'GRA5', version: '1.20' }, /version.*1\.20.*1\.31/],
        [{ region: 'GRA5', kubeProxyMode: 'nftables' }, /kubeProxyMode.*nftables/],
        [{ region: 'GRA5', colour: 'blue' }, /colour: unknown field/],
        [{ region: 5 }, /region.*wrong type/],
        [{ name: 'no-region' }, /region: this field is required/],
        [
          { region: 'GRA5', customization: { kubeProxy: { ipvs: { udpTimeout: 'PT5' } } } },
          /udpTimeout.*PT5/,
        ],
      ];
      for (const [body, expected] of cases) {
        const response = await raw('POST', kube, body);
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match(String(response.body.message), expected);
      }
      const oversize = await raw('POST', kube, { region: 'GRA5', name: 'x'.repeat(70_000) });
      assert.equal(oversize.status, 413);
      assert.equal(await count(), before);
    });

    test('a cluster id of another project, or that does not exist, answers 404', async () => {
      const response = await raw('GET', `${kube}/00000000-0000-0000-0000-000000000000`);
      assert.equal(response.status, 404);
      assert.equal(response.body.class, 'Client::NotFound');
      const otherProject = await server.services.projects.create({
        accountId: await accountId(),
        name: 'other',
      });
      const foreign = await server.client.call<Cluster>('POST', `/cloud/project/${otherProject.id}/kube`, {
        region: 'GRA5',
      });
      assert.equal((await raw('GET', `${kube}/${foreign.id}`)).status, 404);
      assert.equal((await raw('PUT', `${kube}/${foreign.id}/customization`, {})).status, 404);
    });

    test('rename answers 200 null and keeps everything else', async () => {
      const cluster = await create({ region: 'GRA5', name: 'before' });
      const response = await raw('PUT', `${kube}/${cluster.id}`, { name: 'after' });
      assert.equal(response.status, 200);
      assert.equal(response.body, null);
      const renamed = await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`);
      assert.equal(renamed.name, 'after');
      assert.equal(renamed.status, cluster.status);
      assert.equal(
        (await raw('PUT', `${kube}/${cluster.id}/updatePolicy`, { updatePolicy: 'NEVER_UPDATE' })).status,
        200,
      );
      assert.equal(
        (await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`)).updatePolicy,
        'NEVER_UPDATE',
      );
    });

    test('reset defaults to ipvs and an empty customization, and answers 200 null with RESETTING', async () => {
      const cluster = await create({
        region: 'GRA5',
        kubeProxyMode: 'iptables',
        customization: { kubeProxy: { iptables: { syncPeriod: 'PT60S' } } },
      });
      const response = await raw('POST', `${kube}/${cluster.id}/reset`, {});
      assert.equal(response.status, 200);
      assert.equal(response.body, null);
      const reset = await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`);
      assert.equal(reset.status, 'RESETTING');
      assert.equal(reset.kubeProxyMode, 'ipvs');
      assert.deepEqual(reset.customization, { apiServer: DEFAULT_API_SERVER, kubeProxy: {} });
      await server.client.call('POST', `${kube}/${cluster.id}/reset`, GUIDE_CREATE);
      const again = await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`);
      assert.equal(again.kubeProxyMode, 'ipvs');
      assert.deepEqual(again.customization.kubeProxy, GUIDE_CREATE.customization.kubeProxy);
      await assertRefused('POST', `${kube}/${cluster.id}/reset`, { region: 'SBG5' }, cluster.id, /region/);
    });

    test('delete answers 200 null, the cluster reports DELETING and refuses further changes', async () => {
      const cluster = await create({ region: 'GRA5' });
      const response = await raw('DELETE', `${kube}/${cluster.id}`);
      assert.equal(response.status, 200);
      assert.equal(response.body, null);
      assert.equal((await server.client.call<Cluster>('GET', `${kube}/${cluster.id}`)).status, 'DELETING');
      await assertRefused('PUT', `${kube}/${cluster.id}/customization`, {}, cluster.id, /being deleted/, 409);
    });

    test("the kubeconfig points at the cluster's Kubernetes API with a bearer token, and a reset changes it", async () => {
      const cluster = await create({ region: 'GRA5', name: 'kc' });
      const { content } = await server.client.call<{ content: string }>(
        'POST',
        `${kube}/${cluster.id}/kubeconfig`,
      );
      const config = parse(content);
      // Served at the root of the listener, routed by the cluster's TLS server name.
      assert.equal(config.clusters[0].cluster.server, server.config.kubePublicUrl);
      assert.equal(config.clusters[0].cluster['tls-server-name'], `${cluster.id}.clusters.mks.internal`);
      assert.match(config.clusters[0].cluster.server, /^https:\/\//, 'kubectl sends tokens over TLS only');
      assert.match(
        Buffer.from(config.clusters[0].cluster['certificate-authority-data'], 'base64').toString(),
        /BEGIN CERTIFICATE/,
      );
      assert.match(config.users[0].user.token, /^mks\./);
      await server.client.call('POST', `${kube}/${cluster.id}/kubeconfig/reset`);
      const second = parse(
        (await server.client.call<{ content: string }>('POST', `${kube}/${cluster.id}/kubeconfig`)).content,
      );
      assert.notEqual(second.users[0].user.token, config.users[0].user.token);
    });

    test('capabilities list the offered regions and admission plugins', async () => {
      assert.deepEqual(
        await server.client.call(
          'GET',
          `/cloud/project/${server.projectId}/capabilities/kube/admissionplugins`,
        ),
        ['AlwaysPullImages', 'NodeRestriction'],
      );
      assert.ok(
        (
          await server.client.call<string[]>(
            'GET',
            `/cloud/project/${server.projectId}/capabilities/kube/regions`,
          )
        ).includes('GRA5'),
      );
    });

    test('the OpenAPI 3.1 document is served and lists the kube routes', async () => {
      const response = await fetch(`${server.baseUrl}/1.0/openapi.json`);
      const document = (await response.json()) as { openapi: string; paths: Record<string, unknown> };
      assert.equal(document.openapi, '3.1.0');
      assert.ok(document.paths['/1.0/cloud/project/{serviceName}/kube/{kubeId}/customization']);
    });

    /** Sends a signed request with an exact body text (e.g. malformed JSON). */
    async function signedText(method: string, path: string, body: string) {
      const url = `${server.credentials.endpoint}${path}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const response = await fetch(url, {
        method,
        body,
        headers: {
          'Content-Type': 'application/json',
          'X-Ovh-Application': server.credentials.applicationKey,
          'X-Ovh-Consumer': server.credentials.consumerKey,
          'X-Ovh-Timestamp': String(timestamp),
          'X-Ovh-Signature': signRequest({
            secret: server.credentials.applicationSecret,
            consumerKey: server.credentials.consumerKey,
            method,
            url,
            body,
            timestamp,
          }),
        },
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    }

    async function accountId(): Promise<string> {
      return (await server.client.call<{ account: string }>('GET', '/auth/details')).account;
    }

    /** Stands in for the reconciler, which is not part of these tests: the cluster finished installing. */
    async function markReady(id: string) {
      await server.services.clusterStore.update(id, (current) => ({
        next: { ...current, status: 'READY', observedGeneration: current.generation },
      }));
    }
  });
}
