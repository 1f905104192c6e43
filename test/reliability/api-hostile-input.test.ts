/**
 * `/1.0` answers whatever arrives in OVH's error body, with a fitting 4xx and a query id, and a
 * refused request changes nothing: malformed percent-encoding, over-long path parameters, unknown
 * and lower-case methods, bytes the HTTP parser rejects, duplicated headers, deeply nested JSON,
 * wrong content types, oversize bodies and over-long values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { ovhAuthHeaders } from '../support/ovh-headers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { type RawResponse, rawRequest, requestText } from './raw-http.ts';

/** OVH's business error body, or its authentication-layer one. */
function assertOvhError(response: RawResponse, status: number, message?: RegExp): void {
  assert.equal(response.status, status, `status of ${response.body}`);
  const body = response.json as Record<string, unknown>;
  assert.equal(typeof body, 'object', `JSON body: ${response.body}`);
  assert.equal(typeof body.message, 'string');
  if (body.errorCode === undefined) assert.match(String(body.class), /^Client::[A-Za-z]+$/);
  else assert.match(String(body.httpCode), new RegExp(`^${status} `));
  assert.ok(response.headers['x-ovh-queryid'], 'an X-Ovh-QueryID header');
  assert.match(response.headers['content-type'] ?? '', /^application\/json/);
  if (message !== undefined) assert.match(String(body.message), message);
}

for (const dialect of DIALECTS)
  describe(`hostile input on /1.0 (${dialect})`, () => {
    let server: TestServer;
    let kube: string;
    let clusterId: string;
    let before_: string;

    /** Every cluster with its customization: what a refused request must leave as it was. */
    const snapshot = async () => {
      const ids = await server.client.call<string[]>('GET', kube);
      const clusters = await Promise.all(
        ids.sort().map(async (id) => {
          const {
            status: _status,
            updatedAt: _updatedAt,
            ...cluster
          } = await server.client.call<Record<string, unknown>>('GET', `${kube}/${id}`);
          return cluster;
        }),
      );
      return JSON.stringify(clusters);
    };
    const send = (
      method: string,
      path: string,
      options: { headers?: Record<string, string>; body?: string } = {},
    ) =>
      rawRequest(
        server.baseUrl,
        requestText(
          method,
          path,
          {
            ...ovhAuthHeaders(server.credentials, method, `${server.baseUrl}${path}`, options.body ?? ''),
            ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...options.headers,
          },
          options.body,
        ),
      );

    before(async () => {
      server = await startTestServer(dialect, { MKS_WORKER: 'false' });
      kube = `/1.0/cloud/project/${server.projectId}/kube`;
      clusterId = (await server.client.call<{ id: string }>('POST', kube, { region: 'GRA5', name: 'kept' }))
        .id;
      before_ = await snapshot();
    });
    after(async () => {
      if (server !== undefined)
        assert.equal(await snapshot(), before_, 'no refused request changed a cluster');
      await server?.close();
    });

    test('a URL whose percent-encoding does not decode answers 400 in OVH form', async () => {
      assertOvhError(await send('GET', `${kube}/%E0%A4%A`), 400, /percent-encoding/);
      assertOvhError(await send('DELETE', `${kube}/%ZZ`), 400, /percent-encoding/);
    });

    test('an over-long path parameter answers 404, as OVH does', async () => {
      const long = `${kube}/${'a'.repeat(5000)}`;
      assertOvhError(await send('GET', long), 404);
      assertOvhError(await send('DELETE', long), 404);
      assertOvhError(await send('GET', `/1.0/cloud/project/${'p'.repeat(300)}/kube`), 404);
    });

    test('unknown and lower-case methods answer 4xx in OVH form', async () => {
      assertOvhError(await send('get', kube), 400, /method/);
      assertOvhError(await send('FOO', kube), 400, /method/);
      assertOvhError(await send('PROPFIND', `${kube}/${clusterId}`), 404);
    });

    test('bytes the HTTP parser rejects answer 4xx in OVH form, never fastify’s body', async () => {
      const cases: [string, number][] = [
        ['GET /1.0/auth/time HTTP/1.1\r\nHost: x\r\nX-Bad: \x01\x02\r\n\r\n', 400],
        [`POST ${kube} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400],
        [`POST ${kube} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
        ['GARBAGE\r\n\r\n', 400],
        [`GET /1.0/auth/time HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(40_000)}\r\n\r\n`, 431],
      ];
      for (const [text, status] of cases) assertOvhError(await rawRequest(server.baseUrl, text), status);
    });

    test('duplicated authentication headers are refused in the authentication layer’s form', async () => {
      const auth = ovhAuthHeaders(server.credentials, 'DELETE', `${server.baseUrl}${kube}/${clusterId}`);
      const text = requestText('DELETE', `${kube}/${clusterId}`, auth).replace(
        '\r\n\r\n',
        `\r\nX-Ovh-Application: ${auth['X-Ovh-Application']}\r\nX-Ovh-Signature: $1$0\r\n\r\n`,
      );
      const response = await rawRequest(server.baseUrl, text);
      assert.ok(response.status >= 400 && response.status < 500, `4xx, got ${response.status}`);
      assertOvhError(response, response.status);
    });

    test('deeply nested JSON is refused with 400 (a depth limit), never a stack overflow', async () => {
      for (const body of [
        `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
        `${'{"a":'.repeat(8_000)}1${'}'.repeat(8_000)}`,
        `{"kubeProxy":${'{"iptables":'.repeat(100)}{}${'}'.repeat(100)}}`,
      ]) {
        assertOvhError(await send('POST', kube, { body }), 400, /nested deeper than \d+ levels/);
        assertOvhError(await send('PUT', `${kube}/${clusterId}/customization`, { body }), 400, /nested/);
      }
    });

    test('a NUL character (which PostgreSQL cannot store) is refused with 400, in the path and the body', async () => {
      assertOvhError(await send('GET', '/1.0/cloud/project/%00'), 400, /NUL/);
      assertOvhError(await send('GET', `${kube}/a%00b`), 400, /NUL/);
      assertOvhError(await send('PUT', `${kube}/${clusterId}`, { body: '{"name":"a\\u0000b"}' }), 400, /NUL/);
      assertOvhError(await send('POST', kube, { body: '{"region":"GRA5","name":"\\u0000"}' }), 400, /NUL/);
    });

    test('wrong content types and oversize bodies answer 4xx in OVH form', async () => {
      assertOvhError(
        await send('PUT', `${kube}/${clusterId}`, {
          body: '<name>x</name>',
          headers: { 'Content-Type': 'text/xml' },
        }),
        400,
        /Malformed JSON/,
      );
      assertOvhError(
        await send('PUT', `${kube}/${clusterId}`, {
          body: '\u0000\u0001binary',
          headers: { 'Content-Type': 'application/octet-stream' },
        }),
        400,
      );
      const huge = JSON.stringify({ name: 'x'.repeat(200_000) });
      assertOvhError(await send('PUT', `${kube}/${clusterId}`, { body: huge }), 413);
    });

    test('error messages quote only a short excerpt of a rejected value', async () => {
      const long = 'Z'.repeat(5000);
      const bodies: [string, unknown][] = [
        [kube, { region: long }],
        [kube, { region: 'GRA5', version: long }],
        [kube, { region: 'GRA5', [long]: 1 }],
        [`${kube}/${clusterId}/customization`, { kubeProxy: { iptables: { syncPeriod: long } } }],
        [`${kube}/${clusterId}/customization`, { kubeProxy: { iptables: { syncPeriod: [long, long] } } }],
        [`${kube}/${clusterId}`, { updatePolicy: long }],
      ];
      for (const [path, body] of bodies) {
        const method = path === kube ? 'POST' : 'PUT';
        const response = await send(method, path, { body: JSON.stringify(body) });
        assertOvhError(response, 400);
        const message = String((response.json as { message: string }).message);
        assert.ok(
          message.length < 600,
          `a short message, got ${message.length} characters: ${message.slice(0, 200)}`,
        );
        assert.ok(!message.includes('Z'.repeat(100)), 'the value is not quoted whole');
      }
    });
  });
