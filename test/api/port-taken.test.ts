/**
 * A runtime whose port is taken fails with EADDRINUSE and leaves nothing open: the port it had
 * already bound is free again, and the same data directory and database start again on free
 * ports (what the tests' runtimes do when another process took their port meanwhile).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { startRuntime } from '../../src/server.ts';
import { createTestDatabase, DIALECTS } from '../support/dialects.ts';
import { closeServer as close, freePort, listenOn } from '../support/postgres-server.ts';

for (const dialect of DIALECTS) {
  describe(`a runtime whose port is taken (${dialect})`, () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-data-'));
    const drops: (() => Promise<void>)[] = [];
    after(async () => {
      for (const drop of drops) await drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    test('fails with EADDRINUSE, closes what it opened, and starts again on free ports', async () => {
      const database = await createTestDatabase(dialect);
      drops.push(() => database.drop());
      const taken = await listenOn(0);
      const kubePort = (taken.address() as net.AddressInfo).port;
      const apiPort = await freePort();
      const configOn = (api: number, kube: number) =>
        loadConfig(
          {
            dataDir,
            listen: `127.0.0.1:${api}`,
            kubeListen: `127.0.0.1:${kube}`,
            databaseUrl: database.url,
            logLevel: 'silent',
          },
          { MKS_POD_START_MS: '0' },
        );
      try {
        // The API listens first, then the clusters' API finds its port taken.
        await assert.rejects(startRuntime(configOn(apiPort, kubePort), createLogger('silent')), {
          code: 'EADDRINUSE',
        });
      } finally {
        await close(taken);
      }
      // The API's listener was closed: its port can be bound again.
      await close(await listenOn(apiPort));

      const runtime = await startRuntime(
        configOn(await freePort(), await freePort()),
        createLogger('silent'),
      );
      try {
        assert.equal(runtime.first.created, false, 'the first start bootstrapped the installation');
        const client = new ApiClient(readOvhConf(runtime.first.file) as OvhCredentials);
        const projects = await client.call<string[]>('GET', '/cloud/project');
        assert.equal(projects.length, 1);
      } finally {
        await runtime.close();
      }
    });
  });
}
