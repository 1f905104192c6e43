/**
 * The reconciler's calls to the clusters this process serves, in memory (src/reconcile/kube/
 * local-kube.ts), against the same calls over HTTPS: the same answers, the same errors with the
 * same kinds (404, 409, 422, 401), the same field manager; a channel that closes or a call never
 * answered fails as a network error does ('transient'), within its bound, leaving nothing pending;
 * a cluster the serving side declines goes over HTTPS.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import type { CoreV1Event } from '@kubernetes/client-node';
import {
  type ClusterConnection,
  type ClusterKube,
  KubeClients,
  KubeError,
  MAX_CLIENTS,
} from '../../src/reconcile/kube/kube-client.ts';
import {
  directLocalKube,
  dispatchInto,
  LocalKubePort,
  type LocalKubeRequest,
  type LocalKubeServe,
  serveLocalKube,
} from '../../src/reconcile/kube/local-kube.ts';
import { servedConnection } from '../../src/reconcile/provider.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { GUIDE_CREATE } from '../support/fixtures.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

/** What a call gave: its answer, or its error's class, kind, status and message. */
async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { answer: await call() };
  } catch (error) {
    assert.ok(error instanceof KubeError, `a KubeError, not ${String(error)}`);
    return { kind: error.kind, status: error.status, message: error.message };
  }
}

const event = (name: string): CoreV1Event => ({
  metadata: { name, namespace: 'kube-system' },
  involvedObject: { apiVersion: 'apps/v1', kind: 'DaemonSet', namespace: 'kube-system', name: 'kube-proxy' },
  reason: 'Test',
  message: 'a call of local-kube.test.ts',
  type: 'Normal',
  source: { component: 'mks' },
  count: 1,
});

for (const dialect of DIALECTS) {
  describe(`the reconciler's calls in memory and over HTTPS (${dialect})`, () => {
    let server: TestServer;
    let clusterId: string;
    let connection: ClusterConnection;
    let origin: string;
    const clients: KubeClients[] = [];
    const channels: LocalKubePort[] = [];
    /** Requests the in-memory side served. */
    const served: LocalKubeRequest[] = [];
    /** TLS connections the clusters' HTTPS listener accepted while the cluster was created. */
    let handshakes = 0;
    let handshakesAtReady = 0;

    before(async () => {
      server = await startTestServer(dialect);
      server.runtime.kubeApp.server.on('secureConnection', () => {
        handshakes += 1;
      });
      const kubePath = `/cloud/project/${server.projectId}/kube`;
      clusterId = (await server.client.call<{ id: string }>('POST', kubePath, GUIDE_CREATE)).id;
      await untilClusterStatus(server.client, kubePath, clusterId, 'READY', 30_000);
      handshakesAtReady = handshakes;
      connection = servedConnection(
        server.config.kubePublicUrl,
        server.services.clusterToken,
        fs.readFileSync(server.runtime.kubeCaFile, 'utf8'),
      )({ id: clusterId, tokenEpoch: 0 });
      origin = new URL(connection.server).origin;
    });
    after(async () => {
      for (const channel of channels) channel.close();
      for (const client of clients) client.close();
      await server.close();
    });

    /** A client through a MessagePort to the runtime's clusters' API, as the reconciler thread's. */
    function overPort(serve: LocalKubeServe, timeoutMs?: number): { kube: KubeClients; port: LocalKubePort } {
      const { port1, port2 } = new MessageChannel();
      serveLocalKube(port1, serve);
      const port = new LocalKubePort(port2, origin, timeoutMs);
      channels.push(port);
      const kube = new KubeClients(MAX_CLIENTS, port);
      clients.push(kube);
      return { kube, port };
    }

    const dispatching = (): LocalKubeServe => {
      const dispatch = dispatchInto(server.runtime.kubeApp);
      return (request) => {
        served.push(request);
        return dispatch(request);
      };
    };

    function both(token?: string): { https: ClusterKube; local: ClusterKube } {
      const https = new KubeClients();
      clients.push(https);
      const to = token === undefined ? connection : { ...connection, token };
      return {
        https: https.for(clusterId, to),
        local: overPort(dispatching()).kube.for(clusterId, to),
      };
    }

    /**
     * A server started with `env` creates a cluster until READY: its config, and the TLS
     * connections its clusters' listener accepted meanwhile.
     */
    async function createCounted(env: Record<string, string>) {
      const server = await startTestServer(dialect, env);
      try {
        let accepted = 0;
        server.runtime.kubeApp.server.on('secureConnection', () => {
          accepted += 1;
        });
        const kubePath = `/cloud/project/${server.projectId}/kube`;
        const { id } = await server.client.call<{ id: string }>('POST', kubePath, GUIDE_CREATE);
        await untilClusterStatus(server.client, kubePath, id, 'READY', 30_000);
        return { config: server.config, accepted };
      } finally {
        await server.close();
      }
    }

    test("the runtime's reconciler calls its clusters in memory, over HTTPS when told to", async () => {
      assert.equal(handshakesAtReady, 0, 'the cluster was created without a TLS connection to the listener');
      const overHttps = await createCounted({ MKS_RECONCILER_HTTPS: 'true' });
      assert.equal(overHttps.config.reconcile.https, true);
      assert.ok(overHttps.accepted > 0, 'the reconciler connected to the listener');
    });

    test('passes on the main thread call their clusters in memory too', async () => {
      const mainThread = await createCounted({ MKS_RECONCILER_THREAD: 'false' });
      assert.equal(mainThread.config.reconcile.thread, false);
      assert.equal(mainThread.accepted, 0, 'no TLS connection to the listener');
    });

    test('reads answer the same objects', async () => {
      const { https, local } = both();
      const before = served.length;
      for (const [what, read] of [
        ['configmap', (kube: ClusterKube) => kube.readConfigMap('kube-system', 'kube-proxy')],
        ['daemonset', (kube: ClusterKube) => kube.readDaemonSet('kube-system', 'kube-proxy')],
        ['pods', (kube: ClusterKube) => kube.listPods('kube-system', 'k8s-app=kube-proxy')],
        ['nodes', (kube: ClusterKube) => kube.listNodes()],
        ['all pods', (kube: ClusterKube) => kube.listAllPods()],
        ['absent configmap', (kube: ClusterKube) => kube.readConfigMap('kube-system', 'absent')],
      ] as const) {
        const overHttps = await outcome(() => read(https));
        assert.deepEqual(await outcome(() => read(local)), overHttps, what);
      }
      assert.equal(served.length - before, 6, 'each local read went through the in-memory channel');
      const request = served.at(-1)!;
      assert.equal(request.method, 'GET');
      assert.equal(request.path, `/k8s/${clusterId}/api/v1/namespaces/kube-system/configmaps/absent`);
      assert.equal(request.headers.authorization, `Bearer ${connection.token}`);
      assert.equal(request.headers['user-agent'], 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)');
      assert.equal(request.headers.host, new URL(origin).host);
    });

    test("the clusters' JSON answers cross in memory as their text, the text the listener sends as bytes", async () => {
      const dispatch = dispatchInto(server.runtime.kubeApp);
      const headers = { authorization: `Bearer ${connection.token}`, host: new URL(origin).host };
      const path = `/k8s/${clusterId}/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy`;
      for (const [what, url, status] of [
        ['an object', path, 200],
        ['a Status', `${path}-absent`, 404],
      ] as const) {
        const answer = (await dispatch({ method: 'GET', path: url, headers }))!;
        assert.equal(answer.status, status, what);
        assert.equal(typeof answer.body, 'string', `${what}: text, not bytes`);
        const text = answer.body as string;
        assert.equal(answer.headers['content-length'], String(Buffer.byteLength(text)), what);
        assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8', what);
        // The same answer through node's ServerResponse, as the HTTPS listener writes it.
        const written = await server.runtime.kubeApp.inject({ method: 'GET', url, headers });
        assert.equal(written.statusCode, status, what);
        assert.equal(text, written.body, `${what}: the text the listener sends`);
      }
      assert.match(
        (await dispatch({ method: 'GET', path, headers }))!.body as string,
        /}\n$/,
        "an object's JSON and its newline, as kube-apiserver writes it",
      );
      // Through the channel, as the reconciler thread reads it.
      const { port1, port2 } = new MessageChannel();
      serveLocalKube(port1, dispatch);
      const port = new LocalKubePort(port2, origin);
      channels.push(port);
      const crossed = (await port.send({ method: 'GET', path, headers }))!;
      assert.equal(typeof crossed.body, 'string');
      assert.equal(
        (JSON.parse(crossed.body as string) as { metadata: { name: string } }).metadata.name,
        'kube-proxy',
      );
    });

    test('writes succeed alike, and their Events keep the field manager', async () => {
      const { https, local } = both();
      const read = () => https.readConfigMap('kube-system', 'kube-proxy');
      const configMap = (await read())!;
      const apply = (marker: string) => ({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        data: { 'config.conf': `${configMap.data!['config.conf']}\n# ${marker}` },
      });
      await local.applyConfigMap(apply('local'));
      assert.match((await read())!.data!['config.conf']!, /# local$/);
      await https.applyConfigMap(apply('https'));
      assert.match((await read())!.data!['config.conf']!, /# https$/);
      await local.patchDaemonSetTemplateAnnotations('kube-system', 'kube-proxy', { 'test/by': 'local' });
      const daemonSet = await https.readDaemonSet('kube-system', 'kube-proxy');
      assert.equal(daemonSet?.spec?.template.metadata?.annotations?.['test/by'], 'local');
      await local.createEvent('kube-system', event('written.local'));
      await https.createEvent('kube-system', event('written.https'));
      const managers = async (name: string) => {
        const answer = await server.runtime.kubeApp.inject({
          method: 'GET',
          url: `/k8s/${clusterId}/api/v1/namespaces/kube-system/events/${name}`,
          headers: { authorization: `Bearer ${connection.token}` },
        });
        assert.equal(answer.statusCode, 200, answer.body);
        return (
          answer.json() as { metadata: { managedFields: { manager: string }[] } }
        ).metadata.managedFields.map((field) => field.manager);
      };
      assert.deepEqual(await managers('written.local'), await managers('written.https'));
      // The config is restored for the cluster's reconciler.
      await https.applyConfigMap({ ...apply(''), data: configMap.data! });
    });

    test('errors have the same kind, status and message: 404, 409, 422, 401', async () => {
      const { https, local } = both();
      const cases: [string, (kube: ClusterKube) => Promise<unknown>, number][] = [
        ['404', (kube) => kube.patchDaemonSetTemplateAnnotations('kube-system', 'absent', { a: 'b' }), 404],
        ['409', (kube) => kube.createEvent('kube-system', event('twice')), 409],
        ['422', (kube) => kube.createEvent('kube-system', event('Not_A_Name')), 422],
      ];
      // The first create succeeds; the same name again conflicts, over either path.
      await https.createEvent('kube-system', event('twice'));
      for (const [what, call, status] of cases) {
        const overHttps = await outcome(() => call(https));
        assert.equal((overHttps as { status?: number }).status, status, `${what} over HTTPS`);
        assert.deepEqual(await outcome(() => call(local)), overHttps, what);
      }
      const refused = both(`${connection.token}x`);
      // client-node's message for a 401 ends with the answer's headers, whose Date moves: compared without.
      const withoutHeaders = (result: unknown) => ({
        ...(result as object),
        message: (result as { message: string }).message.replace(/\nHeaders: .*$/s, ''),
      });
      const overHttps = withoutHeaders(
        await outcome(() => refused.https.readDaemonSet('kube-system', 'kube-proxy')),
      );
      assert.deepEqual(overHttps, {
        kind: 'terminal',
        status: 401,
        message:
          'read daemonset kube-system/kube-proxy: HTTP 401: HTTP-Code: 401\nMessage: Unauthorized\nBody: undefined',
      });
      assert.deepEqual(
        withoutHeaders(await outcome(() => refused.local.readDaemonSet('kube-system', 'kube-proxy'))),
        overHttps,
      );
    });

    test('a closed channel and an unanswered call fail as network errors, within their bound', async () => {
      const closed = overPort(dispatching());
      closed.port.close();
      const refused = await outcome(() => closed.kube.for(clusterId, connection).listNodes());
      assert.equal((refused as { kind?: string }).kind, 'transient');
      assert.equal((refused as { status?: number }).status, undefined);

      const silent = overPort(() => new Promise(() => {}), 300);
      const started = Date.now();
      const timedOut = await outcome(() => silent.kube.for(clusterId, connection).listNodes());
      assert.equal((timedOut as { kind?: string }).kind, 'transient');
      assert.match((timedOut as { message: string }).message, /no answer within 0.3 s/);
      assert.ok(Date.now() - started < 5_000, 'the bound holds');
      assert.equal(silent.port.pending, 0, 'nothing left pending');
      // Called directly (a pass on the main thread), the same bound.
      const direct = new KubeClients(
        MAX_CLIENTS,
        directLocalKube(origin, () => new Promise(() => {}), 300),
      );
      clients.push(direct);
      const directly = await outcome(() => direct.for(clusterId, connection).listNodes());
      assert.equal((directly as { kind?: string }).kind, 'transient');
      assert.match((directly as { message: string }).message, /no answer within 0.3 s/);

      // Calls in flight when the channel closes fail at once, and none stays pending.
      const stuck = overPort(() => new Promise(() => {}));
      const kube = stuck.kube.for(clusterId, connection);
      const calls = [kube.listNodes(), kube.readDaemonSet('kube-system', 'kube-proxy')].map((call) =>
        outcome(() => call),
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(stuck.port.pending, 2);
      stuck.port.close();
      for (const failed of await Promise.all(calls))
        assert.equal((failed as { kind?: string }).kind, 'transient');
      assert.equal(stuck.port.pending, 0);
    });

    test('a cluster the serving side declines is called over HTTPS', async () => {
      let declined = 0;
      const { kube } = overPort(async () => {
        declined += 1;
        return undefined;
      });
      const overHttps = new KubeClients();
      clients.push(overHttps);
      const nodes = await kube.for(clusterId, connection).listNodes();
      assert.equal(declined, 1);
      assert.deepEqual(nodes, await overHttps.for(clusterId, connection).listNodes());
    });
  });
}

describe('answers in memory keep the form the handler wrote', () => {
  test('text crosses the channel as text, bytes as bytes, each whole', async () => {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    const text = JSON.stringify({ kind: 'Status', message: 'déjà vu: ü, €, 𝄞' });
    const bytes = Buffer.from([0x6b, 0x38, 0x73, 0x00, 0xff, 0x80]);
    app.get('/text', (_request, reply) => reply.type('application/json').send(text));
    app.get('/bytes', (_request, reply) => reply.type('application/octet-stream').send(bytes));
    app.get('/latin1', (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain' });
      reply.raw.write('caf', 'utf8');
      reply.raw.end('\xe9', 'latin1');
    });
    app.get('/empty', (_request, reply) => reply.code(204).send());
    const { port1, port2 } = new MessageChannel();
    serveLocalKube(port1, dispatchInto(app));
    const port = new LocalKubePort(port2, 'https://127.0.0.1:1');
    try {
      const get = (path: string) => port.send({ method: 'GET', path, headers: {} });
      const textAnswer = (await get('/text'))!;
      assert.equal(textAnswer.status, 200);
      assert.equal(textAnswer.body, text, 'the JSON as its text, not its UTF-8 bytes');
      assert.equal(textAnswer.headers['content-length'], String(Buffer.byteLength(text)));

      const bytesAnswer = (await get('/bytes'))!;
      assert.ok(bytesAnswer.body instanceof Uint8Array, 'bytes stay bytes');
      assert.deepEqual(Buffer.from(bytesAnswer.body), bytes);

      // Text written in another encoding is sent as the bytes that encoding gives.
      const latin1 = (await get('/latin1'))!;
      assert.ok(latin1.body instanceof Uint8Array);
      assert.deepEqual(Buffer.from(latin1.body), Buffer.from([0x63, 0x61, 0x66, 0xe9]));

      const empty = (await get('/empty'))!;
      assert.equal(empty.status, 204);
      assert.equal(empty.body.length, 0);
    } finally {
      port.close();
      await app.close();
    }
  });
});
