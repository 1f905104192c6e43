import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeClients, type KubeError } from './kube-client.ts';

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
    assert.match(
      await kinds(kube.readDaemonSet('kube-system', 'text')),
      /^transient undefined: read daemonset kube-system\/text: the answer is not JSON \(Content-Type text\/plain\)$/,
    );
  } finally {
    clients.close();
    server.close();
  }
});
