/**
 * Preview of a customization change (mks extension), through real HTTP on every engine, with the
 * reconciler on: a preview shows byte for byte the config.conf the same PUT then rolls out, writes
 * nothing, and refuses what the PUT refuses in OVH's body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  clusterKube,
  clusterOfAnotherProject,
  kubeProxyConfigConf,
  storedCluster,
} from '../support/cluster-state.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { GUIDE_CREATE } from '../support/fixtures.ts';
import type { KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

interface Preview {
  valid: boolean;
  errors: string[];
  warnings: string[];
  effective: { kubeProxy: { ipvs: Record<string, unknown> } } | null;
  configConf: { current: string; next: string | null; diff: string | null };
  disruption: string | null;
}

for (const dialect of DIALECTS) {
  describe(`customization preview (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    let clusterId: string;
    let k: KubeAccess;

    before(async () => {
      server = await startTestServer(dialect, { MKS_PROGRESS_MS: '50' });
      kube = `/cloud/project/${server.projectId}/kube`;
      clusterId = (await server.client.call<{ id: string }>('POST', kube, GUIDE_CREATE)).id;
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      k = await clusterKube(server.client, kube, clusterId);
    });
    after(async () => {
      k.close();
      await server.close();
    });

    const preview = (body: unknown, id = clusterId) =>
      server.client.raw<Preview & { class?: string; message?: string }>(
        'POST',
        `${kube}/${id}/customization/preview`,
        body,
      );

    test('a preview shows byte for byte the config.conf that the same PUT then rolls out, and stores nothing', async () => {
      const body = { kubeProxy: { ipvs: { scheduler: 'lc', syncPeriod: 'PT1M', tcpTimeout: 'PT10M' } } };
      const before = await storedCluster(server.services.database.db, clusterId);
      const response = await preview(body);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.ok(response.queryId);
      assert.equal(
        await storedCluster(server.services.database.db, clusterId),
        before,
        'a preview writes nothing',
      );
      const shown = response.body;
      assert.equal(shown.valid, true);
      assert.deepEqual(shown.errors, []);
      assert.equal(shown.disruption, 'rolling-restart');
      assert.equal(
        shown.configConf.current,
        await kubeProxyConfigConf(k),
        'current is what the cluster runs',
      );
      assert.match(shown.configConf.diff ?? '', /^\+ {2}scheduler: lc$/m);
      assert.deepEqual(shown.effective?.kubeProxy.ipvs.scheduler, {
        value: 'lc',
        defaulted: false,
        set: 'lc',
      });

      await server.client.call('PUT', `${kube}/${clusterId}/customization`, body);
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      assert.equal(await kubeProxyConfigConf(k), shown.configConf.next);

      const again = await preview(body);
      assert.equal(again.body.disruption, 'none', 'previewing what is applied disrupts nothing');
      assert.equal(again.body.configConf.diff, '');
    });

    test('an invalid change previews as invalid with the problems the PUT refuses it with', async () => {
      const body = { kubeProxy: { iptables: { minSyncPeriod: 'PT45S' }, ipvs: { tcpTimeout: 'PT3S' } } };
      const before = await storedCluster(server.services.database.db, clusterId);
      const shown = await preview(body);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.valid, false);
      assert.equal(shown.body.configConf.next, null);
      const refused = await server.client.raw<{ message: string }>(
        'PUT',
        `${kube}/${clusterId}/customization`,
        body,
      );
      assert.equal(refused.status, 400);
      assert.equal(refused.body.message, shown.body.errors.join('; '));
      assert.equal(await storedCluster(server.services.database.db, clusterId), before);
    });

    test("a preview with kubeProxyMode, a malformed body, and another project's cluster are refused in OVH's body", async () => {
      const before = await storedCluster(server.services.database.db, clusterId);
      const mode = await preview({ kubeProxyMode: 'iptables' });
      assert.equal(mode.status, 400);
      assert.equal(mode.body.class, 'Client::BadRequest');
      assert.match(String(mode.body.message), /^kubeProxyMode: cannot be changed by a customization update/);
      assert.ok(String(mode.body.message).includes('POST /kube/{kubeId}/reset/preview'), mode.body.message);

      const unknown = await preview({ kubeProxy: { ipvs: { schedular: 'rr' } } });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.class, 'Client::BadRequest');

      const foreign = { id: await clusterOfAnotherProject(server) };
      const notHere = await preview({}, foreign.id);
      assert.equal(notHere.status, 404);
      assert.equal(notHere.body.class, 'Client::NotFound');
      assert.equal(await storedCluster(server.services.database.db, clusterId), before);
    });

    test('the OpenAPI document marks the preview as an mks extension, and not OVH’s PUT', async () => {
      const document = await server.client.call<{
        paths: Record<string, Record<string, Record<string, unknown>>>;
      }>('GET', '/openapi.json');
      const base = '/1.0/cloud/project/{serviceName}/kube/{kubeId}/customization';
      assert.equal(document.paths[`${base}/preview`]?.post?.['x-mks-extension'], true);
      assert.equal(document.paths[base]?.put?.['x-mks-extension'], undefined);
      const reset = '/1.0/cloud/project/{serviceName}/kube/{kubeId}/reset';
      assert.equal(document.paths[`${reset}/preview`]?.post?.['x-mks-extension'], true);
      assert.equal(document.paths[reset]?.post?.['x-mks-extension'], undefined);
    });

    const previewReset = (body: unknown) =>
      server.client.raw<Preview & { class?: string; message?: string }>(
        'POST',
        `${kube}/${clusterId}/reset/preview`,
        body,
      );

    test("a reset's preview refuses what the reset refuses, and reports an invalid customization as invalid", async () => {
      const before = await storedCluster(server.services.database.db, clusterId);
      const region = await previewReset({ region: 'BHS5' });
      assert.equal(region.status, 400);
      assert.equal(region.body.class, 'Client::BadRequest');
      assert.match(String(region.body.message), /^region: a reset keeps the cluster in GRA/);
      const mode = await previewReset({ kubeProxyMode: 'userspace' });
      assert.equal(mode.status, 400);
      assert.equal(mode.body.class, 'Client::BadRequest');

      const body = {
        kubeProxyMode: 'iptables',
        customization: { kubeProxy: { iptables: { syncPeriod: 'PT1S', minSyncPeriod: 'PT2S' } } },
      };
      const shown = await previewReset(body);
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.valid, false);
      assert.equal(shown.body.disruption, null);
      const refused = await server.client.raw<{ message: string }>(
        'POST',
        `${kube}/${clusterId}/reset`,
        body,
      );
      assert.equal(refused.status, 400);
      assert.equal(refused.body.message, shown.body.errors.join('; '));
      assert.equal(await storedCluster(server.services.database.db, clusterId), before);
    });

    test("a reset's preview says reset-required and what changes, shows the config.conf the reset installs, and stores nothing", async () => {
      const body = {
        kubeProxyMode: 'iptables',
        customization: { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } },
      };
      const before = await storedCluster(server.services.database.db, clusterId);
      const current = await kubeProxyConfigConf(k);
      const response = await previewReset(body);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const shown = response.body;
      assert.equal(shown.valid, true);
      assert.equal(shown.disruption, 'reset-required');
      assert.equal(
        shown.warnings[0],
        'a reset erases every object of the cluster outside its system namespaces and reinstalls kube-proxy',
      );
      assert.ok(shown.warnings.includes('kubeProxyMode: ipvs → iptables'), JSON.stringify(shown.warnings));
      assert.equal(shown.configConf.current, current);
      assert.match(String(shown.configConf.diff), /^-mode: ipvs$/m);
      assert.match(String(shown.configConf.diff), /^\+mode: iptables$/m);
      assert.equal(await storedCluster(server.services.database.db, clusterId), before);

      // The reset then installs byte for byte what the preview showed.
      await server.client.call('POST', `${kube}/${clusterId}/reset`, body);
      await untilClusterStatus(server.client, kube, clusterId, 'READY', 15_000);
      assert.equal(await kubeProxyConfigConf(k), shown.configConf.next);
    });
  });
}
