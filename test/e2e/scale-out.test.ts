/**
 * Scale-out on PostgreSQL with real processes: two API processes (`mks serve --no-worker`) and two
 * workers (`mks worker`) on one database, sharing only the installation key (MKS_SECRET_KEY), each
 * with a data directory of its own (the CA comes from the database). No load balancer: each worker
 * drives the clusters through a different API process, and tests call both APIs. Emulated
 * clusters are owned by one process at a time; the other forwards to it.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import pg from 'pg';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { configHash } from '../../src/customization/kube-proxy-config.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { createTestDatabase, type TestDatabase } from '../support/dialects.ts';
import { isRunning, KubeAccess } from '../support/kube.ts';
import { MksProcess } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';
import { cleanEnv } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG_HASH = 'mks.ovh/config-hash';
type Cluster = { id: string; status: string; statusMessage: string | null };

const postgres = process.env.MKS_TEST_POSTGRES_URL !== undefined;

describe('scale-out: two API processes and two workers on PostgreSQL', {
  skip: !postgres && 'no PostgreSQL',
}, () => {
  // Every process has a data directory of its own: they share only the database URL and the
  // installation key (MKS_SECRET_KEY); the CA comes from the database.
  const dataDirs: string[] = [];
  const ownDataDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-e2e-scale-'));
    dataDirs.push(dir);
    return dir;
  };
  let database: TestDatabase;
  let sql: pg.Client;
  const processes: MksProcess[] = [];
  const apis: { client: ApiClient; kubeUrl: string; process: MksProcess }[] = [];
  const workers: MksProcess[] = [];
  const kubes: KubeAccess[] = [];
  let kube: string;
  let env: NodeJS.ProcessEnv;
  let workerEnv: NodeJS.ProcessEnv;

  before(async () => {
    database = await createTestDatabase('postgres');
    sql = new pg.Client({ connectionString: database.url });
    await sql.connect();
    env = cleanEnv({
      MKS_DATABASE_URL: database.url,
      MKS_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      // Three pods of 400 ms: a rollout lasts over a second, long enough to kill a worker in it.
      MKS_POD_START_MS: '400',
      MKS_LEASE_MS: '1500',
      MKS_PROGRESS_MS: '50',
      MKS_RESYNC_MS: '1000',
      MKS_WORKER_POLL_MS: '100',
      MKS_LOG_LEVEL: 'info',
    });
    // The first API process creates the credentials (in its data directory) and publishes the CA;
    // the others start together.
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const startApi = async (i: number) => {
      const [port, kubePort] = [ports[2 * i]!, ports[2 * i + 1]!];
      const api = new MksProcess(
        ['serve', '--no-worker', '--listen', `127.0.0.1:${port}`, '--kube-listen', `127.0.0.1:${kubePort}`],
        { ...env, MKS_DATA_DIR: ownDataDir() },
      );
      processes[i] = api;
      await api.printed(/mks is serving/, `API process ${i + 1} to listen`, 120_000);
      const credentials = readOvhConf(path.join(dataDirs[0]!, 'ovh.conf')) as OvhCredentials;
      apis[i] = {
        client: new ApiClient({ ...credentials, endpoint: `http://127.0.0.1:${port}/1.0` }),
        kubeUrl: `https://127.0.0.1:${kubePort}`,
        process: api,
      };
    };
    workerEnv = env;
    const startWorker = async (i: number) => {
      const worker = new MksProcess(['worker'], {
        ...env,
        MKS_DATA_DIR: ownDataDir(),
        MKS_KUBE_PUBLIC_URL: `https://127.0.0.1:${ports[2 * i + 1]}`,
      });
      processes[2 + i] = worker;
      workers[i] = worker;
      await worker.printed(/mks worker is reconciling/, `worker ${i + 1} to start`, 120_000);
    };
    await startApi(0);
    await Promise.all([startApi(1), startWorker(0), startWorker(1)]);
    const [projectId] = await apis[0]!.client.call<string[]>('GET', '/cloud/project');
    kube = `/cloud/project/${projectId}/kube`;
  });

  after(async () => {
    for (const access of kubes) access.close();
    await Promise.all(processes.map((p) => p.kill('SIGTERM')));
    await sql?.end();
    await database?.drop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a test body; a failure carries what the processes logged. */
  const explained = (body: () => Promise<void>) => async () => {
    try {
      await body();
    } catch (error) {
      if (error instanceof Error) {
        const names = ['API 1', 'API 2', 'worker 1', 'worker 2', 'worker 3'];
        error.message += processes
          .map((p, i) => `\n--- ${names[i]} (pid ${p.pid}) ---\n${p.output.slice(-4000)}`)
          .join('');
      }
      throw error;
    }
  };

  const untilStatus = (client: ApiClient, id: string, status: string, timeoutMs = 30_000) =>
    untilClusterStatus(client, kube, id, status, timeoutMs);

  /** Kubernetes API access through API process `i` (its kubeconfig points at its own listener). */
  async function kubeThrough(i: number, clusterId: string): Promise<KubeAccess> {
    const { content } = await apis[i]!.client.call<{ content: string }>(
      'POST',
      `${kube}/${clusterId}/kubeconfig`,
    );
    // The listener's own URL, the cluster named by its TLS server name.
    assert.match(content, new RegExp(`server: ${apis[i]!.kubeUrl}\n`));
    assert.match(content, new RegExp(`tls-server-name: ${clusterId}\\.clusters\\.mks\\.internal\n`));
    const access = new KubeAccess(content);
    kubes.push(access);
    return access;
  }

  async function generation(access: KubeAccess): Promise<number> {
    const ds = await access.apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
    return ds.metadata?.generation ?? 0;
  }

  async function createReady(name: string): Promise<string> {
    const created = await apis[0]!.client.call<Cluster>('POST', kube, { region: 'GRA7', name });
    await untilStatus(apis[1]!.client, created.id, 'READY');
    return created.id;
  }

  /** Every kube-proxy pod runs `configConf`, and the template was patched `patches` times since install. */
  async function assertRolledOut(access: KubeAccess, text: RegExp): Promise<void> {
    const cm = await access.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
    const configConf = cm.data?.['config.conf'] ?? '';
    assert.match(configConf, text);
    const pods = await access.kubeProxyPods();
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.ok(isRunning(pod), `${pod.metadata?.name} runs`);
      assert.equal(pod.metadata?.annotations?.['mks.ovh/loaded-config-hash'], configHash(configConf));
    }
  }

  test(
    'a cluster created through one API and changed through the other reaches READY; both serve its Kubernetes API, watches included',
    explained(async () => {
      const id = await createReady('both-apis');
      const ownerUrl = (await sql.query('select url from emulator_owners where cluster_id = $1', [id]))
        .rows[0]?.url as string | undefined;
      const owner = apis.findIndex((api) => api.kubeUrl === ownerUrl);
      assert.ok(owner >= 0, 'one of the API processes owns the emulated cluster');
      // "A" forwards every call for this cluster to its owner "B".
      const [a, b] = [1 - owner, owner];
      const [viaA, viaB] = [await kubeThrough(a, id), await kubeThrough(b, id)];

      // A watch through A (forwarded to B) answers at once and sees a change made through B.
      const kc = new KubeConfig();
      kc.loadFromFile(viaA.file);
      const seen: string[] = [];
      const request = await withTimeout(
        new Watch(kc).watch(
          '/api/v1/namespaces/default/configmaps',
          {},
          (type: string, object: { metadata?: { name?: string } }) => {
            seen.push(`${type} ${object.metadata?.name}`);
          },
          () => {},
        ),
        10_000,
        'the watch through A to answer',
      );
      try {
        await viaB.kubectl('create', 'configmap', 'made-through-b', '-n', 'default', '--from-literal=a=1');
        await waitFor(() => seen.includes('ADDED made-through-b'), {
          timeoutMs: 10_000,
          what: 'the watch through A to see the object created through B',
        });
      } finally {
        request.abort();
      }
      assert.equal(
        (await viaA.json<{ data: { a: string } }>('get', 'cm', 'made-through-b', '-n', 'default')).data.a,
        '1',
      );

      // kubectl rollout status through A follows a rollout started by a PUT through B's API.
      const before = await generation(viaB);
      await apis[b]!.client.call('PUT', `${kube}/${id}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT41S' } },
      });
      assert.match(
        await viaA.kubectl('rollout', 'status', 'ds/kube-proxy', '-n', 'kube-system', '--timeout=30s'),
        /successfully rolled out/,
      );
      await untilStatus(apis[a]!.client, id, 'READY');
      await assertRolledOut(viaA, /syncPeriod: 41s/);
      assert.equal(await generation(viaB), before + 1, 'one template change for that one config');
    }),
  );

  test(
    '50 concurrent customization PUTs through two API processes: the last committed wins, history holds all 50, the cluster rolls exactly that out',
    explained(async () => {
      const id = await createReady('fifty');
      const bodies = Array.from({ length: 50 }, (_, i) => ({
        kubeProxy: { iptables: { syncPeriod: `PT${10 + i}S` } },
      }));
      await Promise.all(
        bodies.map((body, i) => apis[i % 2]!.client.call('PUT', `${kube}/${id}/customization`, body)),
      );
      const history = await sql.query<{ generation: number; customization: string }>(
        `select generation, customization from cluster_history where cluster_id = $1 and action = 'customize' order by generation`,
        [id],
      );
      assert.equal(history.rows.length, 50);
      const generations = history.rows.map((row) => Number(row.generation));
      assert.equal(new Set(generations).size, 50, 'every PUT has its own generation');
      const periods = new Set(
        history.rows.map(
          (row) => (JSON.parse(row.customization) as (typeof bodies)[0]).kubeProxy.iptables.syncPeriod,
        ),
      );
      assert.equal(periods.size, 50, 'every PUT is in the history');
      const last = JSON.parse(history.rows.at(-1)!.customization) as (typeof bodies)[0];
      const stored = await apis[1]!.client.call<(typeof bodies)[0]>('GET', `${kube}/${id}/customization`);
      assert.equal(stored.kubeProxy.iptables.syncPeriod, last.kubeProxy.iptables.syncPeriod);

      await untilStatus(apis[0]!.client, id, 'READY', 60_000);
      const seconds = Number(/^PT(\d+)S$/.exec(last.kubeProxy.iptables.syncPeriod)![1]);
      await assertRolledOut(await kubeThrough(0, id), new RegExp(`syncPeriod: ${seconds}s`));
    }),
  );

  test(
    'SIGKILL the worker in the middle of a rollout: the other worker finishes it once the lease expires, the config is rolled out once',
    explained(async () => {
      const id = await createReady('kill-worker');
      const access = await kubeThrough(1, id);
      const before = await generation(access);
      await apis[0]!.client.call('PUT', `${kube}/${id}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT57S' } },
      });
      // The worker holding the claim, in the middle of the rollout (template patched, not all pods new).
      const holder = await waitFor(
        async () => {
          const row = (await sql.query('select lease_owner from reconcile_work where cluster_id = $1', [id]))
            .rows[0];
          const owner = row?.lease_owner as string | null | undefined;
          if (owner === null || owner === undefined) return undefined;
          const ds = await access.apps.readNamespacedDaemonSet({
            name: 'kube-proxy',
            namespace: 'kube-system',
          });
          if ((ds.metadata?.generation ?? 0) <= before) return undefined;
          const pid = Number(owner.split(':')[1]);
          return workers.find((w) => w.pid === pid);
        },
        { timeoutMs: 20_000, intervalMs: 20, what: 'a worker to hold the rollout' },
      );
      await holder.kill('SIGKILL');
      const other = workers.find((w) => w !== holder)!;
      assert.ok(other.running);

      const ready = await untilStatus(apis[1]!.client, id, 'READY', 30_000);
      assert.equal(ready.statusMessage, null);
      await assertRolledOut(access, /syncPeriod: 57s/);
      const ds = await access.apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
      assert.equal(ds.metadata?.generation, before + 1, 'the template was patched once for the config');
      const pods = await access.kubeProxyPods();
      assert.deepEqual(
        [...new Set(pods.map((pod) => pod.metadata?.annotations?.[CONFIG_HASH]))],
        [ds.spec?.template.metadata?.annotations?.[CONFIG_HASH]],
      );
    }),
  );

  test(
    'SIGKILL the API process that owns a cluster in the middle of a rollout: the other API process takes the cluster over and the rollout finishes',
    explained(async () => {
      const id = await createReady('kill-owner');
      const ownerUrl = (await sql.query('select url from emulator_owners where cluster_id = $1', [id]))
        .rows[0]?.url as string;
      const owner = apis.findIndex((api) => api.kubeUrl === ownerUrl);
      assert.ok(owner >= 0, `the owner ${ownerUrl} is one of the API processes`);
      const survivor = 1 - owner;
      // Workers reach clusters through one API process each: keep only one that uses the survivor.
      for (const [i, worker] of workers.entries()) if (i === owner) await worker.kill('SIGTERM');
      const replacement = new MksProcess(['worker'], {
        ...workerEnv,
        MKS_DATA_DIR: ownDataDir(),
        MKS_KUBE_PUBLIC_URL: apis[survivor]!.kubeUrl,
      });
      processes.push(replacement);
      await replacement.printed(
        /mks worker is reconciling/,
        'a worker using the surviving API process',
        120_000,
      );

      const access = await kubeThrough(survivor, id);
      const before = await generation(access);
      await apis[survivor]!.client.call('PUT', `${kube}/${id}/customization`, {
        kubeProxy: { iptables: { syncPeriod: 'PT33S' } },
      });
      await waitFor(async () => (await generation(access)) > before, {
        timeoutMs: 20_000,
        intervalMs: 20,
        what: 'the rollout to start',
      });
      await apis[owner]!.process.kill('SIGKILL');

      const ready = await untilStatus(apis[survivor]!.client, id, 'READY', 60_000);
      assert.equal(ready.statusMessage, null);
      await assertRolledOut(access, /syncPeriod: 33s/);
      assert.equal(await generation(access), before + 1, 'the template was patched once for the config');
      const taken = (await sql.query('select url from emulator_owners where cluster_id = $1', [id])).rows[0];
      assert.equal(taken?.url, apis[survivor]!.kubeUrl, 'the surviving API process owns the cluster now');
    }),
  );
});

/** `promise`, or a rejection naming `what` after `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
