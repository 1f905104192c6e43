/**
 * Node pools end to end, on every engine: the `/nodepool` and `/node` calls through real HTTP, the
 * reconciler making the emulated cluster's Nodes follow the pools, and real kubectl and
 * client-node seeing them (names, pool labels, annotations, taints, unschedulable, one kube-proxy
 * pod per node running the current config). Bad input is refused with OVH's body and changes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { ApiError } from '../../src/client/api-client.ts';
import { configHash } from '../../src/customization/kube-proxy-config.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { clusterAccess, isRunning, type KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

const ENV = { MKS_POD_START_MS: '150', MKS_RESYNC_MS: '300', MKS_PROGRESS_MS: '50' };
const TIMEOUT = { timeoutMs: 20_000, intervalMs: 50 };

type Cluster = { id: string; status: string; statusMessage: string | null };
interface Pool {
  id: string;
  name: string;
  flavor: string;
  status: string;
  sizeStatus: string;
  desiredNodes: number;
  minNodes: number;
  maxNodes: number;
  currentNodes: number;
  availableNodes: number;
  template: { metadata: { labels: Record<string, string> }; spec: { unschedulable: boolean } };
}
interface Node {
  id: string;
  name: string;
  nodePoolId: string;
  status: string;
  flavor: string;
}

const FRONT_TEMPLATE = {
  metadata: {
    labels: { tier: 'front', 'example.com/team': 'web' },
    annotations: { 'example.com/owner': 'team-a' },
    finalizers: [],
  },
  spec: { taints: [{ key: 'dedicated', value: 'front', effect: 'NoSchedule' }], unschedulable: false },
};

for (const dialect of DIALECTS) {
  describe(`node pools (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    const opened: KubeAccess[] = [];

    before(async () => {
      server = await startTestServer(dialect, ENV);
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(async () => {
      for (const access of opened) access.close();
      await server.close();
    });

    const call = <T>(method: string, path: string, body?: unknown) =>
      server.client.call<T>(method, `${kube}${path}`, body);

    async function refused(method: string, path: string, body: unknown): Promise<ApiError> {
      const error = await call(method, path, body).then(
        () => assert.fail(`${method} ${path} ${JSON.stringify(body)} was accepted`),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof ApiError, String(error));
      return error;
    }

    const untilReady = (id: string) =>
      untilClusterStatus(server.client, kube, id, 'READY', TIMEOUT.timeoutMs) as Promise<Cluster>;

    async function untilPool(id: string, poolId: string, status: string): Promise<Pool> {
      return waitFor(
        async () => {
          const pool = await call<Pool>('GET', `/${id}/nodepool/${poolId}`);
          return pool.status === status ? pool : undefined;
        },
        { ...TIMEOUT, what: `node pool ${poolId} to be ${status}` },
      );
    }

    async function access(id: string): Promise<KubeAccess> {
      const result = await clusterAccess(server.client, kube, id);
      opened.push(result);
      return result;
    }

    const nodesOf = async (k: KubeAccess) => (await k.core.listNode()).items as V1Node[];

    /** Each Node has exactly one kube-proxy pod, running and loaded with the ConfigMap's config. */
    async function assertOneKubeProxyPerNode(k: KubeAccess): Promise<void> {
      const nodes = (await nodesOf(k)).map((node) => node.metadata!.name!).sort();
      const configMap = await k.core.readNamespacedConfigMap({
        name: 'kube-proxy',
        namespace: 'kube-system',
      });
      const hash = configHash(configMap.data!['config.conf']!);
      const pods = (await k.kubeProxyPods()) as V1Pod[];
      assert.deepEqual(pods.map((pod) => pod.spec!.nodeName!).sort(), nodes, 'one kube-proxy pod per node');
      for (const pod of pods) {
        assert.ok(isRunning(pod), `${pod.metadata?.name} runs`);
        assert.equal(pod.metadata?.annotations?.['mks.ovh/loaded-config-hash'], hash, pod.metadata?.name);
      }
    }

    test('a cluster created with nodepools has their nodes: names, labels, annotations, taints, and kube-proxy on each', async () => {
      const created = await call<Cluster>('POST', '', {
        region: 'GRA7',
        name: 'pools',
        nodepools: [
          { name: 'front', flavorName: 'b3-16', desiredNodes: 2, template: FRONT_TEMPLATE },
          { name: 'back', flavorName: 'b3-8', desiredNodes: 1, minNodes: 1, maxNodes: 3 },
        ],
      });
      await untilReady(created.id);
      const pools = await call<Pool[]>('GET', `/${created.id}/nodepool`);
      assert.deepEqual(
        pools.map((pool) => [pool.name, pool.flavor, pool.status, pool.sizeStatus, pool.currentNodes]),
        [
          ['front', 'b3-16', 'READY', 'CAPACITY_OK', 2],
          ['back', 'b3-8', 'READY', 'CAPACITY_OK', 1],
        ],
      );
      const nodes = await call<Node[]>('GET', `/${created.id}/node`);
      assert.equal(nodes.length, 3);
      assert.ok(nodes.every((node) => node.status === 'READY'));
      const front = pools[0]!;
      const frontNodes = await call<Node[]>('GET', `/${created.id}/nodepool/${front.id}/nodes`);
      assert.deepEqual(
        frontNodes.map((node) => node.nodePoolId),
        [front.id, front.id],
      );
      assert.ok(frontNodes.every((node) => /^front-node-[0-9a-f]{6}$/.test(node.name)));

      const k = await access(created.id);
      const shown = await k.kubectl('get', 'nodes', '--show-labels', '--no-headers');
      for (const node of frontNodes) {
        const line = shown.split('\n').find((row) => row.startsWith(`${node.name} `));
        assert.ok(line, `kubectl shows ${node.name}:\n${shown}`);
        assert.match(line, /\bnodepool=front\b/);
        assert.match(line, /\btier=front\b/);
        assert.match(line, /example\.com\/team=web/);
        assert.match(line, /node\.kubernetes\.io\/instance-type=b3-16/);
      }
      const byName = new Map((await nodesOf(k)).map((node) => [node.metadata!.name!, node]));
      const frontNode = byName.get(frontNodes[0]!.name)!;
      assert.equal(frontNode.metadata?.annotations?.['example.com/owner'], 'team-a');
      assert.deepEqual(
        frontNode.spec?.taints?.map((taint) => [taint.key, taint.value, taint.effect]),
        [['dedicated', 'front', 'NoSchedule']],
      );
      const backNode = nodes.find((node) => node.nodePoolId !== front.id)!;
      assert.equal(byName.get(backNode.name)?.metadata?.labels?.nodepool, 'back');
      assert.equal(byName.get(backNode.name)?.spec?.taints, undefined);
      await assertOneKubeProxyPerNode(k);
    });

    test('create, scale up, change the template, remove a named node, delete a node, delete the pool: the Nodes follow', async () => {
      const created = await call<Cluster>('POST', '', { region: 'GRA7', nodepool: { desiredNodes: 1 } });
      await untilReady(created.id);
      const k = await access(created.id);
      assert.equal((await nodesOf(k)).length, 1);

      const pool = await call<Pool>('POST', `/${created.id}/nodepool`, {
        name: 'workers',
        flavorName: 'c3-8',
        desiredNodes: 1,
        minNodes: 0,
        maxNodes: 5,
      });
      assert.equal(pool.status, 'INSTALLING');
      assert.equal(pool.name, 'workers');
      await untilPool(created.id, pool.id, 'READY');
      assert.equal((await nodesOf(k)).length, 2);

      await call('PUT', `/${created.id}/nodepool/${pool.id}`, { desiredNodes: 3 });
      const scaling = await call<Pool>('GET', `/${created.id}/nodepool/${pool.id}`);
      assert.ok(['UPSCALING', 'READY'].includes(scaling.status), scaling.status);
      const scaled = await untilPool(created.id, pool.id, 'READY');
      assert.equal(scaled.currentNodes, 3);
      assert.equal(scaled.availableNodes, 3);
      assert.equal((await nodesOf(k)).length, 4);
      await waitFor(async () => (await k.kubeProxyPods()).filter(isRunning).length === 4, TIMEOUT);
      await assertOneKubeProxyPerNode(k);

      await call('PUT', `/${created.id}/nodepool/${pool.id}`, {
        template: { metadata: { labels: { role: 'batch' } }, spec: { unschedulable: true } },
      });
      await untilPool(created.id, pool.id, 'READY');
      const workers = (await nodesOf(k)).filter((node) => node.metadata?.labels?.nodepool === 'workers');
      assert.equal(workers.length, 3);
      for (const node of workers) {
        assert.equal(node.metadata?.labels?.role, 'batch');
        assert.equal(node.spec?.unschedulable, true);
      }
      const table = await k.kubectl('get', 'nodes', '--no-headers');
      assert.equal(table.split('\n').filter((line) => /SchedulingDisabled/.test(line)).length, 3, table);

      const [first, second] = await call<Node[]>('GET', `/${created.id}/nodepool/${pool.id}/nodes`);
      await call('PUT', `/${created.id}/nodepool/${pool.id}`, { nodesToRemove: [first!.name] });
      const shrunk = await untilPool(created.id, pool.id, 'READY');
      assert.equal(shrunk.desiredNodes, 2);
      let names = (await nodesOf(k)).map((node) => node.metadata!.name!);
      assert.ok(!names.includes(first!.name), `${first!.name} left`);
      assert.ok(names.includes(second!.name));

      await call('DELETE', `/${created.id}/node/${second!.id}`);
      assert.equal((await call<Pool>('GET', `/${created.id}/nodepool/${pool.id}`)).desiredNodes, 1);
      await untilPool(created.id, pool.id, 'READY');
      names = (await nodesOf(k)).map((node) => node.metadata!.name!);
      assert.ok(!names.includes(second!.name), `${second!.name} left`);
      await assertOneKubeProxyPerNode(k);

      await call('DELETE', `/${created.id}/nodepool/${pool.id}`);
      const late = await refused('PUT', `/${created.id}/nodepool/${pool.id}`, { desiredNodes: 2 });
      assert.ok(
        late.status === 409 || late.status === 404,
        `a pool being deleted takes no change (${late.status})`,
      );
      await waitFor(
        async () =>
          call('GET', `/${created.id}/nodepool/${pool.id}`).then(
            () => false,
            (error: unknown) => error instanceof ApiError && error.status === 404,
          ),
        { ...TIMEOUT, what: 'the pool to be gone' },
      );
      assert.equal((await call<Pool[]>('GET', `/${created.id}/nodepool`)).length, 1);
      await waitFor(async () => (await nodesOf(k)).length === 1, { ...TIMEOUT, what: 'the Nodes to leave' });
      await assertOneKubeProxyPerNode(k);
    });

    test('a pool scaled while kube-proxy rolls out a new config: every node ends with one pod of the new config', async () => {
      const created = await call<Cluster>('POST', '', { region: 'GRA7', nodepool: { desiredNodes: 2 } });
      await untilReady(created.id);
      const [pool] = await call<Pool[]>('GET', `/${created.id}/nodepool`);
      const k = await access(created.id);
      await call('PUT', `/${created.id}/customization`, {
        kubeProxy: { iptables: { minSyncPeriod: 'PT2S', syncPeriod: 'PT40S' } },
      });
      await call('PUT', `/${created.id}/nodepool/${pool!.id}`, { desiredNodes: 4 });
      await untilReady(created.id);
      await untilPool(created.id, pool!.id, 'READY');
      await waitFor(async () => (await k.kubeProxyPods()).filter(isRunning).length === 4, TIMEOUT);
      assert.equal((await nodesOf(k)).length, 4);
      await assertOneKubeProxyPerNode(k);
      const history = await server.services.clusterStore.history(created.id);
      assert.deepEqual(
        history.map((row) => row.action),
        ['create', 'customize', 'nodepool'],
      );
    });

    test('bad input is refused with a clear message and changes nothing', async () => {
      const created = await call<Cluster>('POST', '', {
        region: 'GRA7',
        nodepools: [
          { name: 'one', desiredNodes: 1, minNodes: 1, maxNodes: 2 },
          { name: 'two', desiredNodes: 1 },
        ],
      });
      await untilReady(created.id);
      const [one, two] = await call<Pool[]>('GET', `/${created.id}/nodepool`);
      const [twoNode] = await call<Node[]>('GET', `/${created.id}/nodepool/${two!.id}/nodes`);
      const before = JSON.stringify(await call('GET', `/${created.id}/nodepool`));
      const generation = async () => (await server.services.clusterStore.get(created.id))!.generation;
      const generationBefore = await generation();

      const cases: Array<[string, string, unknown, RegExp]> = [
        [
          'PUT',
          `/nodepool/${one!.id}`,
          { desiredNodes: 3 },
          /desiredNodes: 3 is outside \[minNodes, maxNodes\] = \[1, 2\]/,
        ],
        ['PUT', `/nodepool/${one!.id}`, { minNodes: 3 }, /minNodes: 3 is greater than maxNodes 2/],
        [
          'PUT',
          `/nodepool/${one!.id}`,
          { nodesToRemove: [twoNode!.id] },
          /is a node of node pool two, not of one/,
        ],
        ['PUT', `/nodepool/${one!.id}`, { nodesToRemove: ['nope'] }, /'nope' is not a node of node pool one/],
        ['PUT', `/nodepool/${one!.id}`, { desiredNodes: -1 }, /desiredNodes/],
        [
          'POST',
          '/nodepool',
          { flavorName: 'x9-999' },
          /flavorName: 'x9-999' is not offered; available flavors/,
        ],
        ['POST', '/nodepool', { name: 'Bad_Name' }, /'Bad_Name' is not a valid node pool name/],
        ['POST', '/nodepool', { name: 'one' }, /already has a node pool named 'one'/],
        ['POST', '/nodepool', { desiredNodes: 5, maxNodes: 2 }, /desiredNodes: 5 is outside/],
        [
          'POST',
          '/nodepool',
          { template: { metadata: { labels: { 'bad key!': 'x' } } } },
          /'bad key!' is not a valid Kubernetes key/,
        ],
        [
          'POST',
          '/nodepool',
          { template: { spec: { taints: [{ key: 'k', effect: 'Sometimes' }] } } },
          /effect/,
        ],
      ];
      for (const [method, path, body, message] of cases) {
        const error = await refused(method, `/${created.id}${path}`, body);
        assert.equal(error.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
        assert.equal((error.body as { class: string }).class, 'Client::BadRequest');
        assert.match(error.message, message);
      }
      assert.equal((await refused('GET', `/${created.id}/nodepool/not-a-pool`, undefined)).status, 404);
      assert.equal((await refused('DELETE', `/${created.id}/node/not-a-node`, undefined)).status, 404);
      assert.equal(JSON.stringify(await call('GET', `/${created.id}/nodepool`)), before);
      assert.equal(await generation(), generationBefore);

      const creation = await refused('POST', '', {
        region: 'GRA7',
        nodepools: [{ name: 'a', flavorName: 'nope' }],
      });
      assert.equal(creation.status, 400);
      assert.match(creation.message, /nodepools\[0\]\.flavorName: 'nope' is not offered/);
    });

    test('GET capabilities/kube/flavors lists the flavors a pool may use; an unknown region is refused', async () => {
      const path = `/cloud/project/${server.projectId}/capabilities/kube/flavors`;
      const flavors = await server.client.call<
        Array<{ name: string; state: string; vCPUs: number; ram: number }>
      >('GET', `${path}?region=GRA7`);
      const b38 = flavors.find((flavor) => flavor.name === 'b3-8');
      assert.deepEqual(b38 && [b38.state, b38.vCPUs, b38.ram], ['available', 2, 8]);
      const error = await server.client
        .call('GET', `${path}?region=NOWHERE`)
        .catch((caught: unknown) => caught);
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.match(error.message, /region: 'NOWHERE' is not offered/);
    });

    test('an OVH cloud path mks does not serve is refused naming it as not provided, never as a 404', async () => {
      const created = await call<Cluster>('POST', '', { region: 'GRA7', nodepool: { desiredNodes: 1 } });
      for (const [method, path] of [
        ['GET', `/${created.id}/log/subscription`],
        ['POST', `/${created.id}/log/kind/audit/forward`],
      ] as const) {
        const reply = await server.client.raw<{ class: string; message: string }>(method, `${kube}${path}`);
        assert.equal(reply.status, 400, `${method} ${path}`);
        assert.equal(reply.body.class, 'Client::BadRequest');
        assert.equal(
          reply.body.message,
          `${method} ${kube}${path} is not provided by mks: it serves the OVH kube calls listed in its API reference (GET /1.0/openapi.json)`,
        );
      }
      const other = await server.client.raw<{ class: string }>('GET', '/no/such/route');
      assert.equal(other.status, 404);
    });
  });
}
