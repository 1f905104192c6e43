/**
 * The control endpoint other mks processes call (`POST /internal/emulator/:id/:operation` on the
 * Kubernetes API listener): only where clusters are shared between processes (PostgreSQL), only
 * with the installation's internal token, and bad bodies never reach the emulator.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { indexedNodes } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { DIALECTS } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

for (const dialect of DIALECTS) {
  describe(`internal control endpoint (${dialect})`, () => {
    let server: TestServer;
    let ca: string;

    before(async () => {
      server = await startTestServer(dialect, { MKS_WORKER: 'false' });
      ca = fs.readFileSync(server.runtime.kubeCaFile, 'utf8');
    });
    after(async () => {
      await server.close();
    });

    const post = (path: string, token: string | undefined, body: unknown) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const text = JSON.stringify(body);
        const request = https.request(
          new URL(path, server.config.kubePublicUrl),
          {
            method: 'POST',
            ca,
            headers: {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(text)),
              ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
            },
          },
          (response) => {
            let answer = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              answer += chunk;
            });
            response.on('end', () => resolve({ status: response.statusCode ?? 0, body: answer }));
          },
        );
        request.on('error', reject);
        request.end(text);
      });

    if (dialect === 'sqlite') {
      test('the embedded default does not serve it', async () => {
        const answer = await post('/internal/emulator/c1/ensureCluster', server.services.internalToken, {
          nodes: indexedNodes('c1', 3),
          version: '1.32',
        });
        assert.equal(answer.status, 404);
      });
      return;
    }

    test('without the internal token: 401, whatever the body', async () => {
      assert.equal((await post('/internal/emulator/c1/ensureCluster', undefined, { nodes: -1 })).status, 401);
      assert.equal((await post('/internal/emulator/c1/ensureCluster', 'mks-internal.wrong', {})).status, 401);
    });

    test('bad operations and bodies get 400 and create nothing', async () => {
      const token = server.services.internalToken;
      for (const [path, body] of [
        ['/internal/emulator/c1/bogus', {}],
        ['/internal/emulator/c1/ensureCluster', { nodes: -1, version: '1.32' }],
        ['/internal/emulator/c1/ensureCluster', { nodes: 'three', version: '1.32' }],
        ['/internal/emulator/c1/ensureCluster', { nodes: [{ name: 'n' }], version: '1.32' }],
        ['/internal/emulator/c1/ensureCluster', { version: '1.32' }],
        ['/internal/emulator/c1/setApiServerFlags', { flags: [{ name: 'NodeRestriction' }] }],
      ] as const) {
        const answer = await post(path, token, body);
        assert.equal(answer.status, 400, `${path} ${JSON.stringify(body)}: ${answer.body}`);
      }
      const rows = await server.services.database.db
        .selectFrom('emulator_clusters' as never)
        .select('id' as never)
        .execute();
      assert.deepEqual(rows, []);
    });

    test('with the token, a cluster the emulator does not know is 404; ensure creates it', async () => {
      assert.equal(
        (await post('/internal/emulator/c2/setApiServerFlags', server.services.internalToken, { flags: [] }))
          .status,
        404,
      );
      const answer = await post('/internal/emulator/c2/ensureCluster', server.services.internalToken, {
        nodes: indexedNodes('c2', 2),
        version: '1.32',
      });
      assert.equal(answer.status, 200, answer.body);
      const rows = await server.services.database.db
        .selectFrom('emulator_clusters' as never)
        .select(['id', 'node_count'] as never)
        .execute();
      assert.deepEqual(
        (rows as Array<{ id: string; node_count: number | string }>).map((row) => [
          row.id,
          Number(row.node_count),
        ]),
        [['c2', 2]],
      );
    });
  });
}
