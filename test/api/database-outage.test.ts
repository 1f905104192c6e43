/**
 * A PostgreSQL restart under an API process: requests during the outage get a clear 503 in OVH's
 * error body, the process reconnects by itself afterwards, and no accepted change is lost.
 * Runs against its own throwaway server (the shared one must not go down under other tests).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type Runtime, startRuntime } from '../../src/server.ts';
import { findPostgresBin, freePort, type PostgresServer, startPostgres } from '../support/postgres-server.ts';
import { waitFor } from '../support/wait.ts';

const available = process.env.MKS_TEST_POSTGRES_URL !== undefined && findPostgresBin() !== undefined;

describe('PostgreSQL outage', { skip: available ? false : 'the PostgreSQL leg is off' }, () => {
  let postgres: PostgresServer;
  let runtime: Runtime;
  let client: ApiClient;
  let kube: string;
  let dataDir: string;

  before(async () => {
    postgres = await startPostgres();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-outage-'));
    const config = loadConfig(
      {
        dataDir,
        listen: `127.0.0.1:${await freePort()}`,
        kubeListen: `127.0.0.1:${await freePort()}`,
        databaseUrl: postgres.url,
      },
      { MKS_WORKER: 'false' },
    );
    runtime = await startRuntime(config, createLogger('silent'));
    client = new ApiClient(readOvhConf(runtime.first.file) as OvhCredentials);
    kube = `/cloud/project/${runtime.first.projectId}/kube`;
  });
  after(async () => {
    await runtime?.close();
    await postgres?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('requests during the outage answer 503, and accepted changes survive the restart', async () => {
    const cluster = await client.call<{ id: string }>('POST', kube, {
      region: 'GRA5',
      name: 'before-outage',
    });
    await client.call('PUT', `${kube}/${cluster.id}/customization`, {
      kubeProxy: { iptables: { syncPeriod: 'PT45S' } },
    });

    await postgres.kill();
    const during = await client.raw<{ class?: string; message?: string }>('GET', `${kube}/${cluster.id}`);
    assert.equal(during.status, 503);
    assert.equal(during.body.class, 'Server::ServiceUnavailable');
    assert.match(String(during.body.message), /temporarily unavailable.*retry/);
    assert.ok(during.queryId);
    const write = await client.raw('PUT', `${kube}/${cluster.id}/customization`, { kubeProxy: {} });
    assert.equal(write.status, 503);

    await postgres.restart();
    const customization = await waitFor(
      async () => {
        const response = await client.raw<{ kubeProxy: unknown }>(
          'GET',
          `${kube}/${cluster.id}/customization`,
        );
        return response.status === 200 ? response.body : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the API to reconnect' },
    );
    assert.deepEqual(
      customization.kubeProxy,
      { iptables: { syncPeriod: 'PT45S' } },
      'the change accepted before the outage is kept',
    );
  });
});
