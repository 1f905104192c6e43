/**
 * Real kubectl (≥ 1.32 sends typed-client writes as protobuf; `apply` reads OpenAPI v3) against a
 * throwaway emulated cluster. The cluster reports 1.32, so the gcloud kubectl dispatcher runs a 1.32
 * client.
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexedNodes } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';
import { type EmulatorHarness, startEmulatorHarness } from './harness.ts';

const TOKEN = 'kubectl-compat-token';
const CLUSTER = '0c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5';

for (const dialect of DIALECTS) {
  describe(`kubectl compatibility (${dialect})`, { timeout: 40_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-kubectl-compat-'));
    const contentTypes: string[] = [];
    let testDatabase: TestDatabase;
    let harness: EmulatorHarness;
    const kubectl = (...args: string[]) => harness.kubectl(...args);

    function manifest(data: Record<string, string>): string {
      const file = path.join(dir, 'manifest.yaml');
      fs.writeFileSync(
        file,
        [
          'apiVersion: v1',
          'kind: Namespace',
          'metadata:',
          '  name: applied',
          '---',
          'apiVersion: v1',
          'kind: ConfigMap',
          'metadata:',
          '  name: c',
          '  namespace: applied',
          '  labels: {team: mks}',
          'data:',
          ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
          '',
        ].join('\n'),
      );
      return file;
    }

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      harness = await startEmulatorHarness({
        dir,
        database: testDatabase.config,
        clusterId: CLUSTER,
        token: TOKEN,
        podStartMs: 0,
        onRequest: (method, type) => {
          if (type !== undefined) contentTypes.push(`${method} ${type}`);
        },
      });
      await harness.emulator.ensureCluster({
        id: CLUSTER,
        nodes: indexedNodes(CLUSTER, 1),
        version: '1.32.4',
      });
    });
    after(async () => {
      await harness.stop();
      await testDatabase.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('typed kubectl create commands send protobuf and are decoded', async () => {
      contentTypes.length = 0;
      assert.match(await kubectl('create', 'namespace', 'demo'), /namespace\/demo created/);
      assert.match(
        await kubectl('create', 'configmap', 'c', '-n', 'demo', '--from-literal=a=b', '--from-literal=x=y z'),
        /configmap\/c created/,
      );
      assert.match(
        await kubectl('create', 'secret', 'generic', 's', '-n', 'demo', '--from-literal=password=hunter2'),
        /secret\/s created/,
      );
      assert.ok(
        contentTypes.includes('POST application/vnd.kubernetes.protobuf'),
        `kubectl sent ${contentTypes.join(', ')}`,
      );
      const cm = JSON.parse(await kubectl('get', 'cm', 'c', '-n', 'demo', '-o', 'json'));
      assert.deepEqual(cm.data, { a: 'b', x: 'y z' });
      assert.equal(cm.metadata.namespace, 'demo');
      assert.ok(cm.metadata.uid);
      const secret = JSON.parse(await kubectl('get', 'secret', 's', '-n', 'demo', '-o', 'json'));
      assert.equal(Buffer.from(secret.data.password, 'base64').toString(), 'hunter2');
      assert.match(
        await kubectl('get', 'secret', 's', '-n', 'demo'),
        /^NAME\s+TYPE\s+DATA\s+AGE\ns\s+Opaque\s+1\s+\d+s\n$/,
      );
      assert.match(await kubectl('get', 'ns', 'demo'), /demo\s+Active/);
    });

    test('kubectl create deployment sends protobuf and reads back with kube-apiserver defaults', async () => {
      contentTypes.length = 0;
      assert.match(
        await kubectl(
          'create',
          'deployment',
          'web',
          '-n',
          'demo',
          '--image=nginx:1.27',
          '--port=80',
          '--replicas=2',
        ),
        /deployment\.apps\/web created/,
      );
      assert.match(
        await kubectl(
          'create',
          'deployment',
          'cmd',
          '-n',
          'demo',
          '--image=busybox:1.36',
          '--',
          'sleep',
          '3600',
        ),
        /deployment\.apps\/cmd created/,
      );
      assert.ok(contentTypes.includes('POST application/vnd.kubernetes.protobuf'), contentTypes.join(', '));
      const web = JSON.parse(await kubectl('get', 'deploy', 'web', '-n', 'demo', '-o', 'json'));
      assert.equal(web.spec.replicas, 2);
      assert.deepEqual(web.spec.selector, { matchLabels: { app: 'web' } });
      assert.deepEqual(web.spec.strategy, {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' },
      });
      const container = web.spec.template.spec.containers[0];
      assert.deepEqual(container.ports, [{ containerPort: 80, protocol: 'TCP' }]);
      assert.equal(container.imagePullPolicy, 'IfNotPresent');
      assert.equal(web.spec.template.spec.restartPolicy, 'Always');
      const command = await kubectl(
        'get',
        'deploy',
        'cmd',
        '-n',
        'demo',
        '-o',
        'jsonpath={.spec.template.spec.containers[0].command}',
      );
      assert.equal(command, '["sleep","3600"]');
    });

    test('kubectl apply -f validates against OpenAPI v3 and patches on the second apply', async () => {
      assert.match(
        await kubectl('apply', '-f', manifest({ a: 'b' })),
        /namespace\/applied created\nconfigmap\/c created/,
      );
      assert.match(
        await kubectl('apply', '-f', manifest({ a: 'changed', k: 'new' })),
        /namespace\/applied unchanged\nconfigmap\/c configured/,
      );
      assert.ok(contentTypes.includes('PATCH application/strategic-merge-patch+json'));
      const yaml = await kubectl('get', 'cm', 'c', '-n', 'applied', '-o', 'yaml');
      assert.match(yaml, /data:\n\s+a: changed\n\s+k: new\n/);
      assert.match(yaml, /kubectl\.kubernetes\.io\/last-applied-configuration/);
      assert.match(yaml, /team: mks/);
    });

    test('kubectl delete ns removes the namespace and its objects', async () => {
      assert.match(await kubectl('delete', 'ns', 'demo'), /namespace "demo" deleted/);
      assert.doesNotMatch(await kubectl('get', 'ns'), /^demo\s/m);
      assert.match(await kubectl('delete', 'ns', 'applied'), /deleted/);
      assert.doesNotMatch(await kubectl('get', 'cm', '-A'), /applied/);
    });
  });
}
