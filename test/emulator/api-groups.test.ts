/**
 * Every group a v1.32 kube-apiserver serves, through real kubectl: kinds no controller acts on are
 * plain storage (create -f, get, apply, watch, delete, persisted with the cluster), the access
 * reviews answer `kubectl auth`, and a kind that is not served gets kubectl's own error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const TOKEN = 'api-groups-token';
const CLUSTER = '7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d';

const MANIFEST = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: reader
  namespace: default
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
  namespace: default
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: job
            image: busybox
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
provisioner: csi.example.com
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  clusterIP: 10.3.0.10
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`;

for (const dialect of DIALECTS) {
  describe(`the API groups of a real cluster (${dialect})`, { timeout: 90_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 0,
      nodeCount: 1,
      version: '1.32.13',
    });
    let harness: EmulatorHarness;
    const kubectl = (...args: string[]) => harness.kubectl(...args);

    before(() => {
      harness = suite.harness();
    });

    test('kubectl create -f, get, apply and delete kinds of other groups', async () => {
      const file = path.join(suite.dir, 'manifest.yaml');
      fs.writeFileSync(file, MANIFEST);
      assert.equal(
        await kubectl('create', '-f', file),
        'role.rbac.authorization.k8s.io/reader created\ncronjob.batch/nightly created\nstorageclass.storage.k8s.io/fast created\nservice/web created\n',
      );
      // kube-apiserver's columns for these kinds; NAME and AGE for kinds it prints no others for.
      assert.match(
        await kubectl('get', 'roles'),
        /^NAME\s+CREATED AT\nreader\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/,
      );
      assert.match(
        await kubectl('get', 'sc', 'fast'),
        /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE\nfast\s+csi\.example\.com\s+Delete\s+Immediate\s+false\s+\d+s\n$/,
      );
      assert.match(await kubectl('get', 'cj'), /^NAME\s+AGE\nnightly\s+\d+s\n$/);
      assert.match(
        await kubectl('get', 'svc', 'web', '-o', 'wide'),
        /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR\nweb\s+ClusterIP\s+10\.3\.0\.10\s+<none>\s+80\/TCP\s+\d+s\s+app=web\n$/,
      );
      const role = await harness.kube.json<{ rules: unknown[]; metadata: { uid?: string } }>(
        'get',
        'role',
        'reader',
      );
      assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]);
      assert.ok(role.metadata.uid);

      fs.writeFileSync(file, MANIFEST.replace('schedule: "0 3 * * *"', 'schedule: "0 4 * * *"'));
      assert.match(await kubectl('apply', '-f', file), /cronjob\.batch\/nightly configured/);
      const cronJob = await harness.kube.json<{
        spec: { schedule: string };
        metadata: { generation: number };
      }>('get', 'cj', 'nightly');
      assert.equal(cronJob.spec.schedule, '0 4 * * *');
      assert.equal(cronJob.metadata.generation, 2);

      // Kept with the cluster (each write is committed before kubectl gets its answer).
      const stored = await harness.database.db
        .selectFrom('emulator_objects' as never)
        .select(['resource' as never, 'name' as never])
        .where('cluster_id' as never, '=', CLUSTER as never)
        .where('name' as never, 'in', ['reader', 'nightly', 'fast'] as never)
        .orderBy('name' as never)
        .execute();
      assert.deepEqual(stored, [
        { resource: 'storageclasses.storage.k8s.io', name: 'fast' },
        { resource: 'cronjobs.batch', name: 'nightly' },
        { resource: 'roles.rbac.authorization.k8s.io', name: 'reader' },
      ]);

      assert.equal(
        await kubectl('delete', 'role', 'reader'),
        'role.rbac.authorization.k8s.io "reader" deleted\n',
      );
      const gone = await harness.kube.run(['get', 'role', 'reader']);
      assert.equal(gone.code, 1);
      assert.equal(
        gone.stderr,
        'Error from server (NotFound): roles.rbac.authorization.k8s.io "reader" not found\n',
      );
    });

    test('the kubectl create generators of RBAC (protobuf) create what they say', async () => {
      assert.equal(
        await kubectl('create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods'),
        'role.rbac.authorization.k8s.io/pod-reader created\n',
      );
      assert.equal(
        await kubectl('create', 'rolebinding', 'read-pods', '--role=pod-reader', '--user=jane'),
        'rolebinding.rbac.authorization.k8s.io/read-pods created\n',
      );
      assert.equal(
        await kubectl('create', 'clusterrole', 'node-viewer', '--verb=get', '--resource=nodes'),
        'clusterrole.rbac.authorization.k8s.io/node-viewer created\n',
      );
      assert.match(
        await kubectl('get', 'rolebinding', 'read-pods', '-o', 'wide'),
        /^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS\nread-pods\s+Role\/pod-reader\s+\d+s\s+jane\s*\n$/,
      );
      const role = await harness.kube.json<{ rules: unknown[] }>('get', 'role', 'pod-reader');
      assert.deepEqual(role.rules, [{ verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] }]);
      const binding = await harness.kube.json<{ subjects: unknown[]; roleRef: unknown }>(
        'get',
        'rolebinding',
        'read-pods',
      );
      assert.deepEqual(binding.subjects, [
        { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'jane' },
      ]);
      assert.deepEqual(binding.roleRef, {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'pod-reader',
      });
    });

    test('a new Service gets a cluster IP from the service range, and node ports', async () => {
      await kubectl('create', 'service', 'clusterip', 'api', '--tcp=80:8080');
      await kubectl('create', 'service', 'nodeport', 'np', '--tcp=443:8443');
      type Svc = {
        spec: {
          clusterIP: string;
          clusterIPs: string[];
          ipFamilies: string[];
          ports: Array<Record<string, unknown>>;
        };
      };
      const api = await harness.kube.json<Svc>('get', 'svc', 'api');
      const np = await harness.kube.json<Svc>('get', 'svc', 'np');
      for (const service of [api, np]) {
        assert.match(service.spec.clusterIP, /^10\.3\.\d+\.\d+$/);
        assert.deepEqual(service.spec.clusterIPs, [service.spec.clusterIP]);
        assert.deepEqual(service.spec.ipFamilies, ['IPv4']);
      }
      assert.notEqual(api.spec.clusterIP, np.spec.clusterIP);
      assert.deepEqual(api.spec.ports, [{ name: '80-8080', port: 80, protocol: 'TCP', targetPort: 8080 }]);
      const nodePort = Number(np.spec.ports[0]!.nodePort);
      assert.ok(nodePort >= 30000 && nodePort <= 32767, `node port ${nodePort}`);
      assert.match(
        await kubectl('get', 'svc', 'np'),
        new RegExp(
          `np\\s+NodePort\\s+${np.spec.clusterIP.replaceAll('.', '\\.')}\\s+<none>\\s+443:${nodePort}/TCP`,
        ),
      );
      // A replace that leaves the addresses out keeps them.
      const replaced = await harness.kube.core.replaceNamespacedService({
        name: 'api',
        namespace: 'default',
        body: {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'api' },
          spec: { ports: [{ port: 81 }] },
        },
      });
      assert.equal(replaced.spec?.clusterIP, api.spec.clusterIP);
    });

    test('kubectl auth can-i and whoami are answered for the admin token', async () => {
      assert.equal(await kubectl('auth', 'can-i', 'delete', 'nodes'), 'yes\n');
      assert.equal(await kubectl('auth', 'can-i', 'create', 'pods', '-n', 'kube-system'), 'yes\n');
      assert.match(
        await kubectl('auth', 'whoami'),
        /Username\s+kubernetes-admin\nGroups\s+\[system:masters system:authenticated\]/,
      );
      const list = await kubectl('auth', 'can-i', '--list');
      assert.match(list, /^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/m);
    });

    test('aggregated discovery answers kubectl 1.32 in one document per root', async () => {
      const accept =
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
      const get = (root: string, headers: Record<string, string>) =>
        harness.app.inject({
          method: 'GET',
          url: `/k8s/${CLUSTER}/${root}`,
          headers: { authorization: `Bearer ${TOKEN}`, ...headers },
        });
      const apis = await get('apis', { accept });
      assert.equal(apis.statusCode, 200);
      assert.equal(
        apis.headers['content-type'],
        'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
      );
      const list = apis.json() as {
        kind: string;
        items: Array<{
          metadata: { name: string };
          versions: Array<{ version: string; resources: Array<Record<string, unknown>> }>;
        }>;
      };
      assert.equal(list.kind, 'APIGroupDiscoveryList');
      assert.deepEqual(
        list.items.find((g) => g.metadata.name === 'autoscaling')?.versions.map((v) => v.version),
        ['v2', 'v1'],
      );
      const deployments = list.items
        .find((g) => g.metadata.name === 'apps')
        ?.versions[0]?.resources.find((r) => r.resource === 'deployments');
      assert.deepEqual(deployments?.subresources, [
        {
          subresource: 'status',
          responseKind: { group: 'apps', version: 'v1', kind: 'Deployment' },
          verbs: ['get', 'patch', 'update'],
        },
        {
          subresource: 'scale',
          responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
          verbs: ['get', 'patch', 'update'],
        },
      ]);
      const core = await get('api', { accept });
      assert.equal((core.json() as { items: unknown[] }).items.length, 1);
      // A client that does not ask for it gets the legacy documents.
      const legacy = await get('apis', { accept: 'application/json' });
      assert.equal((legacy.json() as { kind: string }).kind, 'APIGroupList');
    });

    test('verbs a kind does not have, and kinds not served, are refused as kube-apiserver does', async () => {
      const reviews = await harness.kube.run(['get', 'selfsubjectaccessreviews']);
      assert.equal(reviews.code, 1);
      assert.match(
        reviews.stderr,
        /\(MethodNotAllowed\): the server does not allow this method on the requested resource/,
      );
      const missing = await harness.kube.run(['get', 'widgets']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /error: the server doesn't have a resource type "widgets"/);
      const raw = await harness.kube.status('/apis/example.com/v1/widgets');
      assert.equal(raw.status, 404);
    });
  });
}
