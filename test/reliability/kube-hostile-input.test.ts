/**
 * The emulated clusters' Kubernetes API answers whatever arrives with a Kubernetes `Status`, and
 * holds kube-apiserver's limits: request bodies over 3 MiB and objects over 1.5 MiB (413, its
 * texts), watches without `timeoutSeconds` closed after [min-request-timeout, 2×) s, and a bound
 * on concurrent watches per cluster (429 with Retry-After).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeAccess } from '../support/kube.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { openWatch, type RawResponse, rawRequest, requestText } from './raw-http.ts';
import { readyCluster } from './ready-cluster.ts';

function assertStatus(response: RawResponse, code: number, message?: RegExp): void {
  assert.equal(response.status, code, `status of ${response.body.slice(0, 300)}`);
  const body = response.json as Record<string, unknown>;
  assert.equal(body?.kind, 'Status', `a Status: ${response.body.slice(0, 300)}`);
  assert.equal(body.apiVersion, 'v1');
  assert.equal(body.status, 'Failure');
  assert.equal(body.code, code);
  assert.equal(typeof body.reason, 'string');
  if (message !== undefined) assert.match(String(body.message), message);
}

describe('hostile input and limits on the Kubernetes API', () => {
  let server: TestServer;
  let kube: KubeAccess;
  let prefix: string;

  const send = (method: string, path: string, headers: Record<string, string> = {}, body = '') =>
    rawRequest(
      kube.server,
      requestText(method, path, { Authorization: `Bearer ${kube.token}`, ...headers }, body),
      { ca: kube.ca?.toString() },
    );
  const configMap = (name: string, size: number) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name },
      data: { blob: 'x'.repeat(size) },
    });

  before(async () => {
    server = await startTestServer('sqlite', {
      MKS_MIN_REQUEST_TIMEOUT: '1',
      MKS_KUBE_MAX_WATCHES: '3',
    });
    ({ access: kube, prefix } = await readyCluster(server.client, `/cloud/project/${server.projectId}/kube`));
  });
  after(async () => {
    await server?.close();
  });

  test('malformed URLs, methods and bytes answer a Status', async () => {
    assertStatus(await send('GET', `${prefix}/api/v1/namespaces/%ZZ/configmaps`), 400, /percent-encoding/);
    assertStatus(await send('GET', `/k8s/${'a'.repeat(500)}/api`), 404);
    assertStatus(await send('GET', '/nothing/here'), 404);
    assertStatus(await send('PROPFIND', `${prefix}/api/v1/namespaces`), 404);
    assertStatus(await send('get', `${prefix}/api`), 400, /method/);
    const ca = kube.ca?.toString();
    assertStatus(
      await rawRequest(kube.server, `GET ${prefix}/api HTTP/1.1\r\nHost: x\r\nX: \x01\r\n\r\n`, { ca }),
      400,
    );
    assertStatus(
      await rawRequest(
        kube.server,
        `GET ${prefix}/api HTTP/1.1\r\nHost: x\r\nX: ${'a'.repeat(40_000)}\r\n\r\n`,
        { ca },
      ),
      431,
    );
  });

  test('deeply nested bodies are refused with 400, never a stack overflow', async () => {
    const json = { 'Content-Type': 'application/json' };
    const deep = `${'{"metadata":'.repeat(5000)}{}${'}'.repeat(5000)}`;
    assertStatus(
      await send('POST', `${prefix}/api/v1/namespaces/default/configmaps`, json, deep),
      400,
      /max depth/,
    );
    assertStatus(
      await send(
        'PATCH',
        `${prefix}/api/v1/namespaces/kube-system/configmaps/kube-proxy`,
        { 'Content-Type': 'application/merge-patch+json' },
        `${'{"data":'.repeat(5000)}{}${'}'.repeat(5000)}`,
      ),
      400,
      /max depth/,
    );
    // Fields read as strings, sent as anything else (an object that cannot even be made a string).
    assertStatus(
      await send(
        'POST',
        `${prefix}/api/v1/namespaces/default/configmaps`,
        json,
        JSON.stringify({ apiVersion: { toString: null }, kind: 'ConfigMap', metadata: { name: 'x' } }),
      ),
      400,
      /cannot unmarshal object/,
    );
    assertStatus(
      await send(
        'POST',
        `${prefix}/api/v1/namespaces/default/configmaps`,
        json,
        JSON.stringify({ metadata: { name: ['x'] } }),
      ),
      400,
      /cannot unmarshal array/,
    );
    // A YAML alias that contains itself is a cycle, not a deep document.
    assertStatus(
      await send(
        'PATCH',
        `${prefix}/api/v1/namespaces/default/configmaps/cycle?fieldManager=fuzz`,
        { 'Content-Type': 'application/apply-patch+yaml' },
        'a: &a [*a]',
      ),
      400,
    );
    const proxy = await send('GET', `${prefix}/api/v1/namespaces/kube-system/configmaps/kube-proxy`);
    assert.equal(proxy.status, 200, 'the API still serves');
  });

  test('objects over 1.5 MiB and bodies over 3 MiB answer 413 with kube-apiserver’s texts', async () => {
    const json = { 'Content-Type': 'application/json' };
    const path = `${prefix}/api/v1/namespaces/default/configmaps`;
    assertStatus(
      await send('POST', path, json, configMap('big', 2 * 1024 * 1024)),
      413,
      /^Request entity too large: etcdserver: request is too large$/,
    );
    assertStatus(
      await send('POST', path, json, configMap('huge', 4 * 1024 * 1024)),
      413,
      /^Request entity too large: limit is 3145728$/,
    );
    // Grown past the limit by a patch: refused too, and the stored object is unchanged.
    const created = await send('POST', path, json, configMap('grows', 1024 * 1024));
    assert.equal(created.status, 201);
    const patched = await send(
      'PATCH',
      `${path}/grows`,
      { 'Content-Type': 'application/merge-patch+json' },
      JSON.stringify({ data: { more: 'y'.repeat(1024 * 1024) } }),
    );
    assertStatus(patched, 413, /etcdserver: request is too large/);
    const stored = await send('GET', `${path}/grows`);
    assert.deepEqual(Object.keys((stored.json as { data: object }).data), ['blob']);
    assert.equal((await send('GET', `${path}/big`)).status, 404, 'the refused object was not stored');
  });

  test('a watch without timeoutSeconds ends after [min-request-timeout, 2×) seconds', async () => {
    const started = Date.now();
    const response = await fetchWatch(kube, `${prefix}/api/v1/namespaces/default/configmaps?watch=true`);
    const elapsed = Date.now() - started;
    assert.equal(response.status, 200);
    assert.ok(elapsed >= 900 && elapsed < 5_000, `closed after ${elapsed} ms (expected 1-2 s)`);
  });

  test('concurrent watches per cluster are bounded: 429 with Retry-After, in a Status', async () => {
    const path = `${prefix}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=30`;
    const open = await Promise.all([1, 2, 3].map(() => openWatch(kube, path)));
    try {
      for (const watch of open) assert.equal(watch.status, 200);
      const refused = await send('GET', path);
      assertStatus(refused, 429, /Too many requests/);
      assert.equal(refused.headers['retry-after'], '1');
    } finally {
      for (const watch of open) watch.close();
    }
    // Closing them frees their places (once the server has seen the connections close).
    const path1s = `${prefix}/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1`;
    await waitFor(async () => (await fetchWatch(kube, path1s)).status === 200, {
      timeoutMs: 10_000,
      what: 'a watch to be accepted again',
    });
  });
});

/** Runs a watch to its end (the server closes it) and returns its status. */
async function fetchWatch(kube: KubeAccess, path: string): Promise<{ status: number }> {
  const watch = await openWatch(kube, path);
  const timer = setTimeout(() => watch.close(), 20_000);
  await watch.ended;
  clearTimeout(timer);
  return { status: watch.status };
}
