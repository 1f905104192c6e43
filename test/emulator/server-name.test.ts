/**
 * A cluster's server URL has no path: the listener routes by the TLS server name the kubeconfig
 * sets (`tls-server-name`), so the absolute paths clients build (`kubectl get --raw /version`)
 * reach the cluster, kubectl and @kubernetes/client-node still verify the certificate, and
 * kubeconfigs of the old form (`https://host:port/k8s/<id>`) keep working.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { DIALECTS } from '../support/dialects.ts';
import { kubectl } from '../support/kubectl.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const CLUSTER = '5e1f0c2a-7b3d-4e6f-8a90-1b2c3d4e5f60';
/** Shaped as mks issues them: the token names its cluster. */
const TOKEN = `mks.${CLUSTER}.c2VydmVyLW5hbWU`;

for (const dialect of DIALECTS) {
  describe(`clusters served at the root of their server name (${dialect})`, { timeout: 60_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 0,
      nodeCount: 1,
      version: '1.32.4',
    });
    const dir = suite.dir;
    let harness: EmulatorHarness;
    before(() => {
      harness = suite.harness();
    });

    /** A kubeconfig for the harness's cluster with `cluster` as its cluster entry; its file. */
    function kubeconfig(name: string, cluster: Record<string, string>): string {
      const file = path.join(dir, name);
      fs.writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [
            {
              name: 'c',
              cluster: {
                'certificate-authority-data': Buffer.from(harness.caPem).toString('base64'),
                ...cluster,
              },
            },
          ],
          contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
          'current-context': 'c',
          users: [{ name: 'u', user: { token: TOKEN } }],
        }),
      );
      return file;
    }
    const run = (file: string, ...args: string[]) =>
      kubectl(args, { kubeconfig: file, cacheDir: path.join(dir, 'cache'), timeoutMs: 20_000 });

    test('the kubeconfig names the listener without a path and the cluster by its server name', () => {
      assert.match(harness.kubeconfigText, new RegExp(`server: ${harness.rootUrl}\\n`));
      assert.match(harness.kubeconfigText, new RegExp(`tls-server-name: ${harness.serverName}\\n`));
    });

    test('kubectl get --raw reaches /version and an object by its absolute path', async () => {
      const version = await run(harness.kubeconfigFile, 'get', '--raw', '/version');
      assert.equal(version.code, 0, version.stderr);
      assert.equal(JSON.parse(version.stdout).gitVersion, 'v1.32.4');
      const cm = await run(
        harness.kubeconfigFile,
        'get',
        '--raw',
        '/api/v1/namespaces/kube-system/configmaps/kube-proxy',
      );
      assert.equal(cm.code, 0, cm.stderr);
      const object = JSON.parse(cm.stdout);
      assert.equal(object.kind, 'ConfigMap');
      assert.match(object.data['config.conf'], /kind: KubeProxyConfiguration/);
      // The OpenAPI v3 index names paths a client can follow from the root.
      const index = JSON.parse((await run(harness.kubeconfigFile, 'get', '--raw', '/openapi/v3')).stdout);
      assert.match(index.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=/);
      assert.match(await harness.kubectl('explain', 'ds.spec.updateStrategy'), /KIND:\s+DaemonSet/);
    });

    test('@kubernetes/client-node reaches the cluster with the same kubeconfig', async () => {
      const kc = new KubeConfig();
      kc.loadFromString(harness.kubeconfigText);
      assert.equal(kc.getCurrentCluster()?.tlsServerName, harness.serverName);
      const core = kc.makeApiClient(CoreV1Api);
      const cm = await core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
      assert.ok(cm.data?.['config.conf']);
    });

    test('a server name the certificate does not cover is refused by both clients', async () => {
      const file = kubeconfig('wrong-name', {
        server: harness.rootUrl,
        'tls-server-name': 'cluster.example.org',
      });
      const refused = await run(file, 'get', '--raw', '/version');
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /x509: certificate is valid for .*not cluster\.example\.org/);
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      await assert.rejects(
        kc.makeApiClient(CoreV1Api).listNamespace(),
        /Hostname\/IP does not match certificate's altnames/,
      );
    });

    test('a kubeconfig of the old form, with the /k8s/<id> path, keeps working', async () => {
      const file = kubeconfig('old-form', { server: harness.serverUrl });
      const listed = await run(file, 'get', 'cm', '-n', 'kube-system', 'kube-proxy', '-o', 'name');
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout, 'configmap/kube-proxy\n');
    });

    test('a client given only the host and the token (Terraform kubeconfig_attributes) reaches the cluster', async () => {
      const file = kubeconfig('host-and-token', { server: harness.rootUrl });
      const version = await run(file, 'get', '--raw', '/version');
      assert.equal(version.code, 0, version.stderr);
      assert.equal(JSON.parse(version.stdout).gitVersion, 'v1.32.4');
      const kc = new KubeConfig();
      kc.loadFromFile(file);
      const cm = await kc
        .makeApiClient(CoreV1Api)
        .readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
      assert.ok(cm.data?.['config.conf']);
      // Without a token that names a cluster, the root of the listener is no cluster's.
      const anonymous = kubeconfig('host-only', { server: harness.rootUrl });
      fs.writeFileSync(anonymous, fs.readFileSync(anonymous, 'utf8').replace(TOKEN, 'not-an-mks-token'));
      const refused = await run(anonymous, 'get', '--raw', '/version');
      assert.equal(refused.code, 1);
    });

    test('a server name of a cluster the emulator does not know answers NotFound', async () => {
      const file = kubeconfig('unknown', {
        server: harness.rootUrl,
        'tls-server-name': 'ffffffff-0000-4000-8000-000000000000.clusters.mks.internal',
      });
      const answer = await run(file, 'get', 'ns');
      assert.equal(answer.code, 1);
      assert.match(answer.stderr, /the server could not find the requested resource/);
    });
  });
}
