/**
 * Slow, idle and numerous clients cannot pin either listener (headers timeout, keep-alive timeout,
 * connection limit), and a credential past its rate gets 429 in OVH's body with Retry-After.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** A connection to `url`'s listener; resolves when connected. */
function connect(url: string): Promise<net.Socket> {
  const { hostname, port, protocol } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket =
      protocol === 'https:'
        ? tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () =>
            resolve(socket),
          )
        : net.connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves with what the server sent once it closes the connection (or rejects after `ms`). */
function closedBy(socket: net.Socket, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk;
    });
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

describe('listener limits', () => {
  let server: TestServer;
  let listeners: { name: string; url: string }[];

  before(async () => {
    server = await startTestServer('sqlite', {
      MKS_WORKER: 'false',
      MKS_HEADERS_TIMEOUT_MS: '400',
      MKS_KEEP_ALIVE_TIMEOUT_MS: '300',
      MKS_MAX_CONNECTIONS: '3',
      MKS_RATE_LIMIT_PER_SECOND: '1',
      MKS_RATE_LIMIT_BURST: '5',
    });
    listeners = [
      { name: '/1.0', url: server.baseUrl },
      { name: 'Kubernetes API', url: server.config.kubePublicUrl },
    ];
  });
  after(() => server?.close());

  test('a client that never finishes its headers is answered 408 in the surface’s format and cut off', async () => {
    for (const { name, url } of listeners) {
      const socket = await connect(url);
      socket.write('GET /1.0/auth/time HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const answer = await closedBy(socket, 5_000);
      assert.match(answer, /^HTTP\/1.1 408 /, name);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
      if (name === '/1.0') assert.equal(body.class, 'Client::RequestTimeout');
      else assert.equal(body.kind, 'Status');
    }
  });

  test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    for (const { name, url } of listeners) {
      const socket = await connect(url);
      socket.write('GET /1.0/auth/time HTTP/1.1\r\nHost: x\r\n\r\n');
      const answer = await closedBy(socket, 5_000);
      assert.match(answer, /^HTTP\/1.1 (200|404) /, `${name} answered, then closed the idle connection`);
    }
  });

  test('connections past the limit are closed at once, and accepted again when others close', async () => {
    for (const { name, url } of listeners) {
      const held = await Promise.all([1, 2, 3].map(() => connect(url)));
      // Keep them busy past the keep-alive timeout: half-sent headers until the headers timeout.
      for (const socket of held) socket.write('GET / HTTP/1.1\r\n');
      const extra = await connect(url).catch(() => undefined);
      if (extra !== undefined) await closedBy(extra, 2_000);
      for (const socket of held) socket.destroy();
      await waitFor(
        async () => {
          const socket = await connect(url);
          socket.write('GET /1.0/auth/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
          return /^HTTP\/1.1/.test(await closedBy(socket, 2_000));
        },
        { timeoutMs: 10_000, what: `${name} to accept connections again` },
      );
    }
  });

  test('a credential past its rate gets 429 in OVH’s body with Retry-After', async () => {
    const path = `/cloud/project/${server.projectId}/kube`;
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof server.client.raw>> | undefined;
    for (let i = 0; i < 10 && refused === undefined; i++) {
      const response = await server.client.raw('GET', path);
      statuses.push(response.status);
      if (response.status === 429) refused = response;
    }
    assert.ok(refused !== undefined, `a 429 within 10 calls, got ${statuses.join(',')}`);
    assert.deepEqual(refused.body, {
      class: 'Client::TooManyRequests',
      message: 'Too many requests for this credential; retry in 1 s',
    });
    assert.ok(refused.queryId);
    const time = await fetch(`${server.baseUrl}/1.0/auth/time`);
    assert.equal(time.status, 200, 'unauthenticated calls are not counted against the credential');
  });
});
