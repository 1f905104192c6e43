/**
 * Nothing acknowledged is lost: `mks serve` runs as a real process, concurrent writers PUT
 * customizations on a few clusters (on SQLite, concurrent changes share one commit: group commit),
 * the process is SIGKILLed in the middle of the load, and started again on the same data. Every
 * change answered 200 before the kill must be in the history with the generation its answer
 * named and the body it sent; the generations of each cluster stay 1, 2, 3, … without a gap.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';
import { MksProcess } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';
import { cleanEnv } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const CLUSTERS = 3;
const WRITERS = 12;
/** Acknowledged changes to wait for before the kill. */
const ACKNOWLEDGED_BEFORE_KILL = 120;

interface Acknowledged {
  readonly clusterId: string;
  readonly generation: number;
  readonly syncPeriod: string;
}

interface HistoryEntry {
  generation: number;
  action: string;
  customization: { kubeProxy?: { iptables?: { syncPeriod?: string } } };
}

for (const dialect of DIALECTS) {
  describe(`SIGKILL under concurrent writers (${dialect})`, () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-crash-writes-'));
    let database: TestDatabase | undefined;
    let serve: MksProcess | undefined;

    after(async () => {
      await serve?.kill('SIGTERM');
      await database?.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    test('every change answered 200 before the kill is there after a restart', async () => {
      database = await createTestDatabase(dialect);
      const [port, kubePort] = [await freePort(), await freePort()];
      const baseUrl = `http://127.0.0.1:${port}`;
      const args = [
        'serve',
        '--no-worker',
        '--listen',
        `127.0.0.1:${port}`,
        '--kube-listen',
        `127.0.0.1:${kubePort}`,
      ];
      const env = cleanEnv({
        MKS_DATA_DIR: dataDir,
        MKS_LOG_LEVEL: 'warn',
        MKS_RATE_LIMIT_PER_SECOND: '0',
        ...(dialect === 'postgres'
          ? { MKS_DATABASE_URL: database.url, MKS_SECRET_KEY: crypto.randomBytes(32).toString('base64') }
          : {}),
      });
      const start = async (): Promise<ApiClient> => {
        const current = new MksProcess(args, env);
        serve = current;
        const conf = path.join(dataDir, 'ovh.conf');
        await waitFor(
          async () => {
            if (!current.running) throw new Error(`mks serve exited:\n${current.output}`);
            if (!fs.existsSync(conf)) return false;
            return (await fetch(`${baseUrl}/1.0/auth/time`).catch(() => undefined))?.ok === true;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'mks serve to listen' },
        );
        return new ApiClient(readOvhConf(conf) as OvhCredentials);
      };

      let client = await start();
      const projectId = (await client.call<string[]>('GET', '/cloud/project'))[0]!;
      const kube = `/cloud/project/${projectId}/kube`;
      const clusterIds: string[] = [];
      for (let index = 0; index < CLUSTERS; index++) {
        const created = await client.call<{ id: string }>('POST', kube, {
          name: `crash-${index}`,
          region: 'GRA7',
        });
        clusterIds.push(created.id);
      }

      const acknowledged: Acknowledged[] = [];
      let next = 2;
      let killed = false;
      const writer = async (index: number) => {
        const clusterId = clusterIds[index % CLUSTERS]!;
        while (!killed) {
          const syncPeriod = `PT${next++}S`;
          let answer: { message: string };
          try {
            answer = await client.call<{ message: string }>('PUT', `${kube}/${clusterId}/customization`, {
              kubeProxy: { iptables: { syncPeriod } },
            });
          } catch (error) {
            if (killed) return; // the answer never came: the change may or may not be kept
            throw error;
          }
          const generation = Number(/generation (\d+)/.exec(answer.message)?.[1]);
          assert.ok(generation > 1, answer.message);
          acknowledged.push({ clusterId, generation, syncPeriod });
        }
      };
      const writers = Array.from({ length: WRITERS }, (_, index) => writer(index));
      await waitFor(() => acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL, {
        timeoutMs: 60_000,
        intervalMs: 5,
        what: `${ACKNOWLEDGED_BEFORE_KILL} acknowledged changes`,
      });
      killed = true;
      await serve!.kill('SIGKILL');
      await Promise.all(writers);
      const before = [...acknowledged];

      client = await start();
      for (const clusterId of clusterIds) {
        const history = await client.call<HistoryEntry[]>(
          'GET',
          `${kube}/${clusterId}/customization/history`,
        );
        const byGeneration = new Map(history.map((entry) => [entry.generation, entry]));
        const generations = [...byGeneration.keys()].sort((a, b) => a - b);
        assert.deepEqual(
          generations,
          Array.from({ length: generations.length }, (_, index) => index + 1),
          'generations 1, 2, 3, … without a gap',
        );
        const mine = before.filter((change) => change.clusterId === clusterId);
        assert.ok(mine.length > 0, 'the cluster had acknowledged changes');
        for (const change of mine) {
          const entry = byGeneration.get(change.generation);
          assert.ok(
            entry !== undefined,
            `acknowledged generation ${change.generation} of ${clusterId} is kept`,
          );
          assert.equal(entry.action, 'customize');
          assert.equal(entry.customization.kubeProxy?.iptables?.syncPeriod, change.syncPeriod);
        }
        const cluster = await client.call<{ id: string }>('GET', `${kube}/${clusterId}`);
        assert.equal(cluster.id, clusterId);
      }
    });
  });
}
