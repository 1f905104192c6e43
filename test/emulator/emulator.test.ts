/**
 * An emulated cluster served over HTTPS, driven the way mks and its users drive a real one: kubectl,
 * the official client, server-side apply, rollouts, crash-looping configs, restarts, erase, destroy.
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { configHash, renderKubeProxyConfig } from '../../src/customization/kube-proxy-config.ts';
import { indexedNodes, KUBEADM_CONFIG_CONF } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';
import { waitFor as waitForCondition } from '../support/wait.ts';
import { type EmulatorHarness, startEmulatorHarness } from './harness.ts';

const TOKEN = 'emulator-test-token';
const CLUSTER = '7f3e2a10-5b6c-4d8e-9f01-23456789abcd';
const POD_START_MS = 300;

for (const dialect of DIALECTS) {
  describe(`emulated cluster (${dialect})`, { timeout: 90_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-emulator-'));
    let testDatabase: TestDatabase;
    let harness: EmulatorHarness;

    const startServer = async () => {
      harness = await startEmulatorHarness({
        dir,
        database: testDatabase.config,
        clusterId: CLUSTER,
        token: TOKEN,
        podStartMs: POD_START_MS,
      });
    };
    const kubectl = (...args: string[]) => harness.kubectl(...args);

    const waitFor = <T>(what: string, probe: () => Promise<T | undefined | false>) =>
      waitForCondition(probe, { what });

    const kubeProxyPods = () => harness.kube.kubeProxyPods();
    /** The API server pod's command line, as kubectl prints it. */
    const apiServerCommand = () =>
      kubectl(
        'get',
        'pod',
        '-n',
        'kube-system',
        '-l',
        'component=kube-apiserver',
        '-o',
        'jsonpath={.items[0].spec.containers[0].command}',
      );

    async function rolledOut(): Promise<boolean> {
      const ds = await harness.kube.apps.readNamespacedDaemonSet({
        name: 'kube-proxy',
        namespace: 'kube-system',
      });
      const s = ds.status!;
      return (
        (s.observedGeneration ?? 0) >= (ds.metadata!.generation ?? 0) &&
        (s.updatedNumberScheduled ?? 0) >= s.desiredNumberScheduled &&
        (s.numberAvailable ?? 0) >= s.desiredNumberScheduled
      );
    }

    /** The status of a GET of `apiPath` with `token` (none: no credentials). */
    const status = async (apiPath: string, token: string | null = null) =>
      (await harness.kube.status(apiPath, token)).status;

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      await startServer();
      await harness.emulator.ensureCluster({
        id: CLUSTER,
        nodes: indexedNodes(CLUSTER, 3),
        version: '1.31.4',
      });
      await harness.emulator.ensureCluster({
        id: CLUSTER,
        nodes: indexedNodes(CLUSTER, 3),
        version: '1.31.4',
      });
    });
    after(async () => {
      await harness.stop();
      await testDatabase.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('kubectl lists nodes, the kube-proxy DaemonSet with its pods, and the ConfigMap', async () => {
      const nodes = await kubectl('get', 'nodes');
      assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
      assert.equal(nodes.match(/node-7f3e2a10-\d\s+Ready/g)?.length, 3);
      assert.match(nodes, /v1\.31\.4/);
      const wide = await kubectl('get', 'ds,pods', '-n', 'kube-system', '-o', 'wide');
      assert.match(wide, /daemonset\.apps\/kube-proxy\s+3\s+3\s+3\s+3\s+3\s+kubernetes\.io\/os=linux/);
      assert.equal(wide.match(/pod\/kube-proxy-\w+\s+1\/1\s+Running\s+0/g)?.length, 3);
      assert.match(wide, /pod\/kube-apiserver-7f3e2a10\s+1\/1\s+Running/);
      const cm = await kubectl('get', 'cm', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml');
      assert.match(cm, /config\.conf: \|\n\s+apiVersion: kubeproxy\.config\.k8s\.io\/v1alpha1/);
      assert.match(cm, /kubeconfig\.conf: \|/);
      assert.match(cm, /resourceVersion: "\d+"/);
      const flags = await apiServerCommand();
      assert.match(flags, /--enable-admission-plugins=AlwaysPullImages,NodeRestriction/);
      await harness.emulator.setApiServerFlags(CLUSTER, [
        '--enable-admission-plugins=NodeRestriction',
        '--disable-admission-plugins=AlwaysPullImages',
      ]);
      const changed = await apiServerCommand();
      assert.match(changed, /--enable-admission-plugins=NodeRestriction/);
      assert.match(changed, /--disable-admission-plugins=AlwaysPullImages/);
      assert.doesNotMatch(changed, /AlwaysPullImages,NodeRestriction/);
    });

    test('requests without a valid token are refused with a 401 Status', async () => {
      assert.equal(await status('/api/v1/nodes'), 401);
      assert.equal(await status('/api/v1/nodes', 'wrong'), 401);
      assert.equal(await status('/api/v1/nodes', TOKEN), 200);
    });

    test('a JSON answer is the object, a newline, its UTF-8 length and media type', async () => {
      const text = 'port 10256 ✓ é';
      await harness.kube.core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'answer-bytes' }, data: { note: text } },
      });
      const answer = await new Promise<{ type?: string; length?: string; body: Buffer }>(
        (resolve, reject) => {
          const request = https.get(
            `${harness.serverUrl}/api/v1/namespaces/default/configmaps/answer-bytes`,
            { ca: harness.caPem, headers: { Authorization: `Bearer ${TOKEN}` } },
            (response) => {
              const chunks: Buffer[] = [];
              response.on('data', (chunk: Buffer) => chunks.push(chunk));
              response.on('end', () =>
                resolve({
                  type: response.headers['content-type'],
                  length: response.headers['content-length'],
                  body: Buffer.concat(chunks),
                }),
              );
            },
          );
          request.on('error', reject);
        },
      );
      assert.equal(answer.type, 'application/json; charset=utf-8');
      assert.equal(Number(answer.length), answer.body.length);
      const body = answer.body.toString('utf8');
      assert.ok(
        body.endsWith('}\n'),
        `ends with the object and a newline: ${JSON.stringify(body.slice(-4))}`,
      );
      assert.equal((JSON.parse(body) as { data: { note: string } }).data.note, text);
    });

    test('server-side apply of config.conf then a template annotation rolls pods one by one to the new config', async () => {
      const { core, apps } = harness.kube;
      const config = renderKubeProxyConfig({
        mode: 'iptables',
        clusterCIDR: '10.2.0.0/16',
        kubeProxy: { iptables: { syncPeriod: 'PT60S' } },
      });
      const applied = await core.patchNamespacedConfigMap(
        {
          name: 'kube-proxy',
          namespace: 'kube-system',
          fieldManager: 'mks',
          force: true,
          body: {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'kube-proxy', namespace: 'kube-system' },
            data: { 'config.conf': config },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      );
      assert.equal(applied.data?.['config.conf'], config);
      assert.ok(applied.data?.['kubeconfig.conf'], 'kubeconfig.conf is kept');
      assert.ok(applied.metadata?.managedFields?.some((m) => m.manager === 'mks' && m.operation === 'Apply'));

      // Without force, another manager's change to the same key conflicts.
      await assert.rejects(
        core.patchNamespacedConfigMap(
          {
            name: 'kube-proxy',
            namespace: 'kube-system',
            fieldManager: 'someone-else',
            body: {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name: 'kube-proxy', namespace: 'kube-system' },
              data: { 'config.conf': 'x' },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
        ),
        (error: { code?: number; body?: string }) =>
          error.code === 409 &&
          /conflict with "mks" using v1: \.data\.config\.conf/.test(JSON.parse(String(error.body)).message),
      );

      const before = new Set((await kubeProxyPods()).map((p) => p.metadata!.name));
      const patched = await apps.patchNamespacedDaemonSet(
        {
          name: 'kube-proxy',
          namespace: 'kube-system',
          fieldManager: 'mks',
          body: {
            spec: { template: { metadata: { annotations: { 'mks.ovh/config-hash': configHash(config) } } } },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      const generation = patched.metadata!.generation!;
      assert.ok(generation >= 2);

      const statusOutput = harness.kube.rolloutStatus(30);
      // Progress is visible: at some point exactly one pod is new.
      await waitFor('one pod updated', async () => {
        const ds = await apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
        return ds.status?.updatedNumberScheduled === 1 && (ds.status.numberAvailable ?? 0) >= 2;
      });
      const watched = await statusOutput;
      assert.equal(watched.code, 0, watched.stderr);
      const printed = watched.stdout;
      // kubectl prints what it saw while waiting (a slow start may see only the last pod coming up).
      assert.match(printed, /out of 3 new pods have been updated|of 3 updated pods are available/);
      assert.match(printed, /daemon set "kube-proxy" successfully rolled out/);

      const pods = await kubeProxyPods();
      assert.equal(pods.length, 3);
      for (const pod of pods) {
        assert.ok(!before.has(pod.metadata!.name), 'every pod was replaced');
        assert.equal(pod.metadata!.annotations?.['mks.ovh/loaded-config-hash'], configHash(config));
        assert.equal(pod.status?.phase, 'Running');
        assert.equal(pod.metadata!.ownerReferences?.[0]?.kind, 'DaemonSet');
        assert.ok(pod.metadata!.labels?.['controller-revision-hash']);
      }
      const ds = await apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
      assert.equal(ds.status?.observedGeneration, generation);
    });

    test('kubectl rollout restart replaces every pod and rollout status finishes', async () => {
      const before = new Set((await kubeProxyPods()).map((p) => p.metadata!.name));
      assert.match(await kubectl('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system'), /restarted/);
      const printed = await harness.kube.rolloutStatus(30);
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stdout, /successfully rolled out/);
      const after = await kubeProxyPods();
      assert.equal(after.length, 3);
      assert.ok(after.every((p) => !before.has(p.metadata!.name)));
    });

    test('a deleted kube-proxy pod is re-created on its node', async () => {
      const victim = (await kubeProxyPods())[0]!;
      assert.match(await kubectl('delete', 'pod', victim.metadata!.name!, '-n', 'kube-system'), /deleted/);
      const replacement = await waitFor('a new pod on the node', async () =>
        (await kubeProxyPods()).find(
          (p) =>
            p.spec?.nodeName === victim.spec?.nodeName &&
            p.metadata!.name !== victim.metadata!.name &&
            p.status?.phase === 'Running',
        ),
      );
      assert.ok(replacement);
    });

    test('a config kube-proxy cannot decode makes restarted pods crash-loop with its error', async () => {
      const bad =
        'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\niptables:\n  syncPeriod: PT30S\n';
      await harness.kube.patchConfigConf(bad);
      await kubectl('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system');
      const crashing = await waitFor('a crash-looping pod', async () =>
        (await kubeProxyPods()).find(
          (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff',
        ),
      );
      const cs = crashing.status!.containerStatuses![0]!;
      assert.equal(cs.ready, false);
      assert.ok(cs.restartCount >= 1);
      assert.equal(cs.lastState?.terminated?.exitCode, 1);
      assert.match(
        cs.lastState?.terminated?.message ?? '',
        /^failed complete: failed to decode: .*time: invalid duration "PT30S"/,
      );
      const table = await kubectl('get', 'pods', '-n', 'kube-system');
      assert.match(table, /kube-proxy-\w+\s+0\/1\s+CrashLoopBackOff\s+1/);
      // Only one pod may be unavailable: the rollout stalls instead of breaking every node.
      await new Promise((resolve) => setTimeout(resolve, POD_START_MS * 3));
      const running = (await kubeProxyPods()).filter((p) => p.status?.containerStatuses?.[0]?.ready === true);
      assert.equal(running.length, 2);

      // Fixing the config and restarting again recovers.
      await harness.kube.patchConfigConf(
        renderKubeProxyConfig({ mode: 'iptables', clusterCIDR: '10.2.0.0/16' }),
        'merge',
      );
      await kubectl('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system');
      await waitFor('the rollout to finish', rolledOut);
    });

    test('kubectl describe, get -o yaml and a label patch work like on a real cluster', async () => {
      const described = await kubectl('describe', 'ds', 'kube-proxy', '-n', 'kube-system');
      assert.match(described, /Selector:\s+k8s-app=kube-proxy/);
      const yaml = await kubectl('get', 'ds', 'kube-proxy', '-n', 'kube-system', '-o', 'yaml');
      assert.match(
        yaml,
        /updateStrategy:\n\s+rollingUpdate:\n\s+maxSurge: 0\n\s+maxUnavailable: 1\n\s+type: RollingUpdate/,
      );
      await kubectl('label', 'cm', 'kube-proxy', '-n', 'kube-system', 'team=mks');
      assert.match(await kubectl('get', 'cm', '-n', 'kube-system', '-l', 'team=mks'), /kube-proxy\s+2/);
      await kubectl(
        'patch',
        'cm',
        'kube-proxy',
        '-n',
        'kube-system',
        '--type',
        'json',
        '-p',
        '[{"op":"remove","path":"/metadata/labels/team"}]',
      );
      assert.doesNotMatch(await kubectl('get', 'cm', '-n', 'kube-system', '-l', 'team=mks'), /kube-proxy/);
    });

    test('state survives closing and reopening the database', async () => {
      const config = (
        await harness.kube.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' })
      ).data?.['config.conf'];
      const pods = (await kubeProxyPods()).map((p) => p.metadata!.name).sort();
      const logs = await kubectl('logs', '-n', 'kube-system', `pod/${pods[0]}`);
      assert.match(logs, /"Loaded config" path="\/var\/lib\/kube-proxy\/config\.conf"/);
      await harness.stop();
      await startServer();
      // The container's start-up log is rebuilt, the same text, from what it loaded.
      assert.equal(await kubectl('logs', '-n', 'kube-system', `pod/${pods[0]}`), logs);
      const reread = await harness.kube.core.readNamespacedConfigMap({
        name: 'kube-proxy',
        namespace: 'kube-system',
      });
      assert.equal(reread.data?.['config.conf'], config);
      assert.deepEqual((await kubeProxyPods()).map((p) => p.metadata!.name).sort(), pods);
      assert.match(await kubectl('get', 'nodes'), /node-7f3e2a10-2\s+Ready/);
    });

    test('erasing keeps the system namespaces and re-installs kube-system; destroying answers 404', async () => {
      await kubectl('create', 'namespace', 'scratch');
      await kubectl('create', 'configmap', 'mine', '-n', 'default', '--from-literal=a=b');
      await harness.emulator.eraseCluster(CLUSTER);
      const namespaces = await kubectl('get', 'ns');
      assert.doesNotMatch(namespaces, /scratch/);
      assert.match(namespaces, /kube-system\s+Active/);
      assert.doesNotMatch(await kubectl('get', 'cm', '-n', 'default'), /mine/);
      const cm = await harness.kube.core.readNamespacedConfigMap({
        name: 'kube-proxy',
        namespace: 'kube-system',
      });
      assert.equal(cm.data?.['config.conf'], KUBEADM_CONFIG_CONF);
      await waitFor('kube-proxy running again', rolledOut);

      await harness.emulator.destroyCluster(CLUSTER);
      assert.equal(await status('/api/v1/nodes', TOKEN), 404);
    });
  });
}
