/**
 * Real processes on PostgreSQL — `mks serve`, `mks serve --no-worker` and `mks worker`.
 *
 * A deletion racing Kubernetes API calls that one process forwards to the other (the cluster's
 * owner): every call started after the deletion is accepted is refused (401), and nothing of the
 * cluster is stored again.
 *
 * PostgreSQL going down under write load never takes a process down: during the outage `/1.0` answers 503 in
 * OVH's body and the emulated clusters' API answers from memory or 503 as a `Status`; afterwards
 * everything resumes by itself. Both a fast and an immediate shutdown (no goodbye to clients:
 * connections die in use). SIGTERM ends every process within 10 s while the database is down, and
 * a database that refuses connections at start-up gives a clear message and a non-zero exit.
 * Runs against its own throwaway server (the shared one must not go down under other tests).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { openDatabase } from '../../src/db/database.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { KubeAccess } from '../support/kube.ts';
import { MksProcess } from '../support/mks-process.ts';
import { findPostgresBin, freePort, type PostgresServer, startPostgres } from '../support/postgres-server.ts';
import { cleanEnv } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';
import { kubeLoad, rawRequest, requestText, serverPath } from './raw-http.ts';

const available = process.env.MKS_TEST_POSTGRES_URL !== undefined && findPostgresBin() !== undefined;
const TIMEOUT = { timeoutMs: 60_000, intervalMs: 100 };

describe('real processes on PostgreSQL: a deletion race, outages, shutdown', {
  skip: available ? false : 'the PostgreSQL leg is off',
}, () => {
  let postgres: PostgresServer;
  const dataDirs: string[] = [];
  const processes: { name: string; process: MksProcess }[] = [];
  const apis: { name: string; client: ApiClient }[] = [];
  let kube: string;
  let clusterId: string;
  let access: KubeAccess;

  const ownDataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-outage-'));
    dataDirs.push(dir);
    return dir;
  };
  const explain = (error: unknown) => {
    if (error instanceof Error)
      error.message += processes
        .map(({ name, process }) => `\n--- ${name} (pid ${process.pid}) ---\n${process.output.slice(-3000)}`)
        .join('');
    return error;
  };
  const kubeGet = () =>
    rawRequest(
      access.server,
      requestText('GET', `${serverPath(access.server)}/api/v1/namespaces/kube-system/configmaps/kube-proxy`, {
        Authorization: `Bearer ${access.token}`,
      }),
      { ca: access.ca?.toString() },
    );

  before(async () => {
    postgres = await startPostgres();
    const env = cleanEnv({
      MKS_DATABASE_URL: postgres.url,
      MKS_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      MKS_POD_START_MS: '0',
      MKS_LEASE_MS: '1500',
      MKS_WORKER_POLL_MS: '100',
      MKS_LOG_LEVEL: 'warn',
    });
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const serve = (name: string, args: string[], i: number) => {
      const process = new MksProcess(
        [...args, '--listen', `127.0.0.1:${ports[2 * i]}`, '--kube-listen', `127.0.0.1:${ports[2 * i + 1]}`],
        { ...env, MKS_DATA_DIR: ownDataDir() },
      );
      processes.push({ name, process });
      return process;
    };
    try {
      // The first creates the credentials and publishes the CA; the others start after it.
      await serve('serve', ['serve'], 0).printed(/mks is serving/, 'mks serve to listen', 120_000);
      const worker = new MksProcess(['worker'], {
        ...env,
        MKS_DATA_DIR: ownDataDir(),
        MKS_KUBE_PUBLIC_URL: `https://127.0.0.1:${ports[3]}`,
      });
      processes.push({ name: 'worker', process: worker });
      await Promise.all([
        serve('serve --no-worker', ['serve', '--no-worker'], 1).printed(
          /mks is serving/,
          'the API process',
          120_000,
        ),
        worker.printed(/mks worker is reconciling/, 'mks worker to start', 120_000),
      ]);
      const credentials = readOvhConf(path.join(dataDirs[0]!, 'ovh.conf')) as OvhCredentials;
      for (const [i, name] of ['serve', 'serve --no-worker'].entries())
        apis.push({
          name,
          client: new ApiClient({ ...credentials, endpoint: `http://127.0.0.1:${ports[2 * i]}/1.0` }),
        });
      const [projectId] = await apis[0]!.client.call<string[]>('GET', '/cloud/project');
      kube = `/cloud/project/${projectId}/kube`;
      clusterId = (await apis[0]!.client.call<{ id: string }>('POST', kube, { region: 'GRA5' })).id;
      await untilClusterStatus(apis[0]!.client, kube, clusterId, 'READY', TIMEOUT.timeoutMs);
      const { content } = await apis[1]!.client.call<{ content: string }>(
        'POST',
        `${kube}/${clusterId}/kubeconfig`,
      );
      access = new KubeAccess(content);
    } catch (error) {
      throw explain(error);
    }
  });
  after(async () => {
    access?.close();
    await Promise.all(processes.map(({ process }) => process.kill('SIGKILL')));
    await postgres?.stop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a deletion racing calls forwarded between processes: 401 after it, nothing stored again', async () => {
    const sql = new pg.Client({ connectionString: postgres.url });
    await sql.connect();
    try {
      const [serve, apiOnly] = apis as [(typeof apis)[0], (typeof apis)[0]];
      const id = (await serve.client.call<{ id: string }>('POST', kube, { region: 'GRA5', name: 'doomed' }))
        .id;
      await untilClusterStatus(serve.client, kube, id, 'READY', TIMEOUT.timeoutMs);
      // One kubeconfig per process: whichever owns the cluster, the other forwards to it.
      const loads = await Promise.all(
        [serve, apiOnly].map(async ({ client }) => {
          const { content } = await client.call<{ content: string }>('POST', `${kube}/${id}/kubeconfig`);
          const through = new KubeAccess(content);
          return { through, load: kubeLoad(through, through.token) };
        }),
      );
      await waitFor(
        () => loads.every(({ load }) => load.calls.filter((call) => call.status === 201).length >= 2),
        { ...TIMEOUT, what: 'writes through both processes' },
      );
      assert.equal((await apiOnly.client.raw('DELETE', `${kube}/${id}`)).status, 200);
      const accepted = performance.now();
      const stored = async () =>
        Number(
          (
            await sql.query(
              'select (select count(*) from emulator_objects where cluster_id = $1) + (select count(*) from emulator_clusters where id = $1) as n',
              [id],
            )
          ).rows[0].n,
        );
      await waitFor(async () => (await serve.client.raw('GET', `${kube}/${id}`)).status === 404, {
        ...TIMEOUT,
        what: 'the cluster to be gone',
      });
      await waitFor(async () => (await stored()) === 0, { ...TIMEOUT, what: 'its objects to be erased' });
      const seen = loads.map(({ load }) => load.calls.length);
      await waitFor(() => loads.every(({ load }, i) => load.calls.length >= seen[i]! + 6), {
        ...TIMEOUT,
        what: 'more calls after the erasure',
      });
      for (const { through, load } of loads) {
        await load.stop();
        through.close();
        const late = load.calls.filter((call) => call.startedAt > accepted);
        assert.ok(late.length >= 6);
        for (const call of late)
          assert.equal(call.status, 401, `a call after the deletion answered ${call.status}`);
        assert.ok(
          load.calls.every((call) => call.status < 500),
          'no 5xx during the race',
        );
      }
      assert.equal(await stored(), 0, 'nothing of the cluster was stored again');
    } catch (error) {
      throw explain(error);
    } finally {
      await sql.end();
    }
  });

  for (const mode of ['fast', 'immediate'] as const) {
    test(`${mode === 'fast' ? 'a fast' : 'an immediate'} restart under write load: every process stays up, 503s meanwhile, then it resumes`, async () => {
      try {
        // Write load on both API processes: each answer is a 200 or a 503, never a lost connection.
        let running = true;
        const answers: number[] = [];
        const writer = async (client: ApiClient, n: number) => {
          for (let i = 0; running; i++) {
            const response = await client.raw('PUT', `${kube}/${clusterId}/customization`, {
              kubeProxy: { iptables: { syncPeriod: `PT${30 + ((i + n) % 30)}S` } },
            });
            answers.push(response.status);
          }
        };
        const writers = Promise.all(
          apis.flatMap(({ client }, n) => [writer(client, n), writer(client, n + 7)]),
        );
        await waitFor(() => answers.filter((status) => status === 200).length >= 4, {
          ...TIMEOUT,
          what: 'writes to be accepted',
        });

        await postgres.kill(mode);
        for (const { name, client } of apis) {
          const during = await waitFor(
            async () => {
              const response = await client.raw<{ class?: string; message?: string }>(
                'GET',
                `${kube}/${clusterId}`,
              );
              return response.status === 503 ? response : undefined;
            },
            { ...TIMEOUT, what: `${name} to answer 503` },
          );
          assert.equal(during.body.class, 'Server::ServiceUnavailable');
          assert.match(String(during.body.message), /temporarily unavailable.*retry/);
          assert.ok(during.queryId);
        }
        // The Kubernetes API answers from memory, or 503 as a Status.
        for (let i = 0; i < 5; i++) {
          const response = await kubeGet();
          assert.ok(
            [200, 503].includes(response.status),
            `Kubernetes API during the outage: ${response.status}`,
          );
          if (response.status === 503) assert.equal((response.json as { kind?: string }).kind, 'Status');
        }

        await postgres.restart();
        for (const { name, client } of apis) {
          await waitFor(async () => (await client.raw('GET', `${kube}/${clusterId}`)).status === 200, {
            ...TIMEOUT,
            what: `${name} to reconnect`,
          });
        }
        const resumed = answers.length;
        await waitFor(() => answers.slice(resumed).filter((status) => status === 200).length >= 4, {
          ...TIMEOUT,
          what: 'writes to be accepted again',
        });
        running = false;
        await writers;
        assert.deepEqual(
          [...new Set(answers)].filter((status) => status !== 200 && status !== 503),
          [],
          'every write answered 200 or 503',
        );
        // The worker reconciles again: the last write's change reaches the cluster.
        await untilClusterStatus(apis[0]!.client, kube, clusterId, 'READY', TIMEOUT.timeoutMs);
        assert.equal((await kubeGet()).status, 200);
        for (const { name, process } of processes) assert.ok(process.running, `${name} is still running`);
      } catch (error) {
        throw explain(error);
      }
    });
  }

  test('a connection lost in the middle of a transaction is an error of that transaction only', async () => {
    const database = await openDatabase({ kind: 'postgres', url: postgres.url }, { migrate: false });
    try {
      const failed = await database.db
        .transaction()
        .execute(async (trx) => {
          await trx.selectFrom('clusters').select('id').execute();
          // The server goes away while this transaction holds its connection.
          await postgres.kill('immediate');
          await trx.selectFrom('clusters').select('id').execute();
        })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      assert.ok(failed instanceof Error, 'the transaction failed');
    } finally {
      await postgres.restart();
      await database.close().catch(() => {});
    }
    // Still alive (an unhandled 'error' event would have ended this process), and usable again.
    const again = await openDatabase({ kind: 'postgres', url: postgres.url }, { migrate: false });
    try {
      assert.ok(Array.isArray(await again.db.selectFrom('clusters').select('id').execute()));
    } finally {
      await again.close();
    }
  });

  test('SIGTERM ends every process within 10 s while the database is down', async () => {
    await postgres.kill('immediate');
    try {
      await Promise.all(
        processes.map(async ({ name, process }) => {
          const started = Date.now();
          process.child.kill('SIGTERM');
          await Promise.race([
            process.exited,
            new Promise((_resolve, reject) =>
              setTimeout(
                () => reject(explain(new Error(`${name} still running 10 s after SIGTERM`))),
                10_000,
              ),
            ),
          ]);
          assert.ok(Date.now() - started < 10_000);
        }),
      );
    } finally {
      await postgres.restart();
    }
  });

  test('a database that refuses connections at start-up: a clear message and a non-zero exit', async () => {
    const refused = `postgres://mks:hunter2@127.0.0.1:${await freePort()}/postgres`;
    for (const args of [['serve', '--listen', '127.0.0.1:0', '--kube-listen', '127.0.0.1:0'], ['worker']]) {
      const process = new MksProcess(
        args,
        cleanEnv({ MKS_DATABASE_URL: refused, MKS_DATA_DIR: ownDataDir() }),
      );
      await waitFor(() => !process.running, { ...TIMEOUT, what: `mks ${args[0]} to exit` });
      assert.notEqual(process.child.exitCode, 0, process.output);
      assert.match(process.output, /database cannot be reached .*ECONNREFUSED/);
      assert.doesNotMatch(process.output, /^\s+at /m, 'no stack trace');
      assert.doesNotMatch(process.output, /hunter2/, 'no password');
    }
  });
});
