import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadOrCreateLocalTls } from '../../tls/local-ca.ts';
import { FIELD_MANAGER, KubeClients, type KubeError } from './kube-client.ts';

const connection = (id: string) => ({ server: 'https://127.0.0.1:1', token: `mks.${id}.token` });

test('KubeClients keeps the most recently used clients only', () => {
  const clients = new KubeClients(2);
  try {
    const a = clients.for('a', connection('a'));
    const b = clients.for('b', connection('b'));
    assert.equal(clients.for('a', connection('a')), a, 'a kept client is reused');
    clients.for('c', connection('c'));
    assert.equal(clients.size, 2);
    // b was the least recently used: it made room for c, while a stayed.
    assert.equal(clients.for('a', connection('a')), a);
    assert.notEqual(clients.for('b', connection('b')), b, 'b is built again');
    assert.equal(clients.size, 2);
  } finally {
    clients.close();
  }
});

test('KubeClients builds a new client when the connection changes', () => {
  const clients = new KubeClients(2);
  try {
    const first = clients.for('a', connection('a'));
    assert.notEqual(clients.for('a', { ...connection('a'), token: 'mks.a.other' }), first);
    assert.equal(clients.size, 1);
  } finally {
    clients.close();
  }
});

test('answers are decoded as JSON, time stamps as their text; statuses keep their meaning', async () => {
  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {
      name: 'kube-proxy',
      namespace: 'kube-system',
      uid: 'u1',
      creationTimestamp: '2026-01-01T00:00:00Z',
      managedFields: [{ manager: 'mks', operation: 'Update', time: '2026-01-01T00:00:00Z' }],
    },
    status: { desiredNumberScheduled: 3, numberAvailable: 3, updatedNumberScheduled: 3 },
  };
  const seen: { method: string; url: string; authorization: string | undefined; body: string }[] = [];
  const server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
        body,
      });
      const name = request.url?.split('?')[0]?.split('/').at(-1);
      const answer = (status: number, type: string, text: string) => {
        response.writeHead(status, { 'Content-Type': type });
        response.end(text);
      };
      if (name === 'kube-proxy') answer(200, 'application/json', JSON.stringify(daemonSet));
      else if (name === 'absent') {
        answer(404, 'application/json', JSON.stringify({ kind: 'Status', message: 'not found', code: 404 }));
      } else if (name === 'conflicting')
        answer(409, 'application/json', JSON.stringify({ message: 'conflict' }));
      else if (name === 'forbidden') answer(401, 'application/json', '{}');
      else answer(200, 'text/plain', 'not an object');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const clients = new KubeClients(2);
  try {
    const port = (server.address() as AddressInfo).port;
    const kube = clients.for('a', { server: `http://127.0.0.1:${port}`, token: 'mks.a.token' });
    assert.deepEqual(await kube.readDaemonSet('kube-system', 'kube-proxy'), daemonSet);
    assert.deepEqual(seen[0], {
      method: 'GET',
      url: '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy',
      authorization: 'Bearer mks.a.token',
      body: '',
    });
    assert.equal(await kube.readDaemonSet('kube-system', 'absent'), undefined);
    const kinds = async (promise: Promise<unknown>) =>
      promise.then(
        () => 'answered',
        (error: KubeError) => `${error.kind} ${error.status}: ${error.message}`,
      );
    assert.equal(
      await kinds(kube.patchDaemonSetTemplateAnnotations('kube-system', 'conflicting', { a: 'b' })),
      'conflict 409: patch daemonset kube-system/conflicting: HTTP 409: conflict',
    );
    assert.equal(seen.at(-1)?.body, '{"spec":{"template":{"metadata":{"annotations":{"a":"b"}}}}}');
    assert.match(await kinds(kube.readDaemonSet('kube-system', 'forbidden')), /^terminal 401: /);
    // A write whose answer the reconciler does not read: its success, nothing decoded; a 2xx answer
    // that is not JSON is still refused.
    assert.equal(
      await kube.patchDaemonSetTemplateAnnotations('kube-system', 'kube-proxy', { a: 'b' }),
      undefined,
    );
    assert.match(
      await kinds(kube.patchDaemonSetTemplateAnnotations('kube-system', 'text', { a: 'b' })),
      /^transient undefined: patch daemonset kube-system\/text: the answer is not JSON/,
    );
    assert.match(
      await kinds(kube.patchDaemonSetTemplateAnnotations('kube-system', 'forbidden', {})),
      /^terminal 401: /,
    );
    assert.match(
      await kinds(kube.readDaemonSet('kube-system', 'text')),
      /^transient undefined: read daemonset kube-system\/text: the answer is not JSON \(Content-Type text\/plain\)$/,
    );
  } finally {
    clients.close();
    server.close();
  }
});

test('calls go over HTTPS verified with the cluster CA, on one kept-alive connection; network errors are transient', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-kube-client-'));
  const tls = loadOrCreateLocalTls(dir, ['127.0.0.1']);
  const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  let connections = 0;
  let closed = 0;
  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      response.writeHead(request.method === 'POST' ? 201 : 200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify({ metadata: { name: 'kube-proxy', uid: 'u1' }, items: [] }));
    });
  });
  server.on('secureConnection', (socket) => {
    connections += 1;
    socket.on('close', () => {
      closed += 1;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const clients = new KubeClients(4);
  try {
    const connection = {
      server: `https://127.0.0.1:${port}/clusters/a`,
      token: 'mks.a.token',
      caPem: tls.caPem,
    };
    const kube = clients.for('a', connection);
    assert.deepEqual(await kube.readDaemonSet('kube-system', 'kube-proxy'), {
      metadata: { name: 'kube-proxy', uid: 'u1' },
      items: [],
    });
    await kube.readDaemonSet('kube-system', 'kube-proxy');
    // undici's pool takes a connection still finishing its first exchange for busy, and may open a
    // second one for the next call; after that the calls go on the connections it holds.
    const opened = connections;
    assert.ok(opened <= 2, `${opened} connections for two calls one after the other`);
    await kube.applyConfigMap({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      data: { 'config.conf': 'mode: é' },
    });
    await kube.createEvent('kube-system', { metadata: { name: 'e' }, involvedObject: {} });
    assert.deepEqual(await kube.listPods('kube-system', 'component=kube-apiserver'), []);
    assert.deepEqual(
      seen.map(({ method, url }) => `${method} ${url}`),
      [
        'GET /clusters/a/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy',
        'GET /clusters/a/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy',
        `PATCH /clusters/a/api/v1/namespaces/kube-system/configmaps/kube-proxy?fieldManager=${FIELD_MANAGER}&force=true`,
        'POST /clusters/a/api/v1/namespaces/kube-system/events',
        'GET /clusters/a/api/v1/namespaces/kube-system/pods?labelSelector=component%3Dkube-apiserver',
      ],
    );
    for (const { headers } of seen) {
      assert.equal(headers.authorization, 'Bearer mks.a.token');
      // A Kubernetes API names the field manager of a write that names none (the Events) after it.
      assert.equal(headers['user-agent'], 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)');
      assert.equal(headers.accept, 'application/json, */*;q=0.8');
    }
    assert.equal(seen[2]?.headers['content-type'], 'application/apply-patch+yaml');
    assert.equal(seen[2]?.headers['content-length'], String(Buffer.byteLength(seen[2]?.body ?? '')));
    assert.match(seen[2]?.body ?? '', /mode: é/);
    assert.equal(seen[3]?.headers['content-type'], 'application/json');
    assert.equal(connections, opened, 'the TLS connections are kept alive across the calls');

    // Another cluster on the same origin and CA shares the pool's connection.
    await clients.for('b', { ...connection, server: `https://127.0.0.1:${port}/clusters/b` }).listNodes();
    assert.equal(connections, opened);

    // The system's CAs do not know this one: the TLS error rejects, as a transient error.
    const unverified = clients.for('c', { server: connection.server, token: 'mks.c.token' });
    await assert.rejects(unverified.listNodes(), (error: KubeError) => {
      assert.equal(error.kind, 'transient');
      assert.equal(error.status, undefined);
      return true;
    });
    // Nothing listens: a network error, transient too.
    const closedPort = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    await assert.rejects(
      clients.for('d', { server: `http://127.0.0.1:${closedPort}`, token: 't' }).listNodes(),
      (error: KubeError) => error.kind === 'transient' && /^list nodes: /.test(error.message),
    );

    // The last client of a pool forgotten, its connections close.
    clients.forget('a');
    assert.equal(closed, 0, 'b still uses the pool');
    clients.forget('b');
    const deadline = Date.now() + 5_000;
    while (closed < opened && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(closed, opened);
  } finally {
    clients.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
