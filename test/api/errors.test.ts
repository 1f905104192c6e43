/**
 * Errors fastify raises itself, before any route runs, answer in OVH's error body with the query
 * id, like every other refusal (docs/errors.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

for (const dialect of DIALECTS) {
  describe(`refusals before routing (${dialect})`, () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer(dialect);
    });
    after(async () => {
      await server?.close();
    });

    test('a bad URL, an over-long path parameter and an invalid media type answer in OVH’s body', async () => {
      const kube = `/1.0/cloud/project/${server.projectId}/kube`;
      const cases: Array<[string, string, Record<string, string>, number, string, RegExp]> = [
        ['GET', `${kube}/%E0%A4%A`, {}, 400, 'Client::BadRequest', /percent-encoding does not decode/],
        // No id is that long: OVH answers such paths as unknown ones.
        ['GET', `${kube}/${'x'.repeat(150)}`, {}, 404, 'Client::NotFound', /invalid \(or empty\) URL/],
        ['POST', kube, { 'content-type': 'json' }, 415, 'Client::UnsupportedMediaType', /application\/json/],
      ];
      for (const [method, url, headers, status, ovhClass, message] of cases) {
        const response = await server.app.inject({
          method: method as 'GET' | 'POST',
          url,
          headers,
          ...(method === 'POST' ? { payload: '{}' } : {}),
        });
        assert.equal(response.statusCode, status, url.slice(0, 80));
        assert.match(String(response.headers['content-type']), /^application\/json/);
        const body = response.json() as { class: string; message: string };
        assert.equal(body.class, ovhClass);
        assert.match(body.message, message);
        assert.match(String(response.headers['x-ovh-queryid']), /^EU\.ext-mks\./);
      }
    });
  });
}
