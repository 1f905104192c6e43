/**
 * A 5xx that does happen (a fault no client input causes) answers OVH's generic body with the
 * query id, and is logged at error level with that same query id, so an operator finds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startTestServer, type TestServer } from '../support/server.ts';

describe('server errors', () => {
  let server: TestServer;
  const lines: Record<string, unknown>[] = [];

  before(async () => {
    server = await startTestServer('sqlite', { MKS_WORKER: 'false' });
    // Capture what the API logs from now on (request loggers are children made per request).
    const log = server.app.log as unknown as Record<symbol, unknown> & { level: string };
    log[pino.symbols.streamSym] = { write: (line: string) => lines.push(JSON.parse(line)) };
    log.level = 'info';
  });
  after(() => server?.close());

  test('a fault answers 500 with the query id, and is logged at error with it', async () => {
    const clusters = server.services.clusters;
    const listIds = clusters.listIds;
    clusters.listIds = async () => {
      throw new Error('disk on fire');
    };
    try {
      const response = await server.client.raw<{ class: string; message: string }>(
        'GET',
        `/cloud/project/${server.projectId}/kube`,
      );
      assert.equal(response.status, 500);
      assert.ok(response.queryId);
      assert.deepEqual(response.body, {
        class: 'Server::InternalServerError',
        message: `Internal server error (query id ${response.queryId})`,
      });
      const logged = lines.find((line) => line.queryId === response.queryId && line.level === 50);
      assert.ok(logged, `an error line with query id ${response.queryId}: ${JSON.stringify(lines)}`);
      assert.match(JSON.stringify(logged.err), /disk on fire/);
    } finally {
      clusters.listIds = listIds;
    }
  });
});
