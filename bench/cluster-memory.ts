/**
 * Where the memory of loaded emulated clusters goes (docs/performance.md, "Memory"): installs
 * --clusters (200) emulated clusters of 3 nodes in an Emulator on a temp SQLite file, and prints,
 * per cluster, the heap and RSS they hold
 *   - just installed (objects, their cached JSON texts, the watch log, the container logs),
 *   - loaded again from the store by another Emulator (objects only: no watch log, no logs),
 *   - after they left memory (what the registry keeps of an evicted cluster),
 * with the sizes behind them (objects, JSON bytes, managedFields' share, watch log events), and
 * the reconciler's Kubernetes client per cluster (KubeClients). Not a section of `npm run bench`:
 * run it alone, `node --expose-gc --import tsx bench/cluster-memory.ts [--clusters N]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { KUBE_SERVER_NAMES } from '../src/clusters/cluster-tokens.ts';
import { openDatabase } from '../src/db/database.ts';
import { indexedNodes } from '../src/emulator/cluster/kubeadm-objects.ts';
import { Emulator, type Residency } from '../src/emulator/emulator.ts';
import { KubeClients } from '../src/reconcile/kube/kube-client.ts';
import { loadOrCreateLocalTls } from '../src/tls/local-ca.ts';

const { values } = parseArgs({ options: { clusters: { type: 'string', default: '200' } } });
const clusters = Number(values.clusters);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-cluster-memory-'));
const KEEP_ALL: Residency = { idleMs: 3_600_000, maxLoaded: 1_000_000 };

async function settle(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, rss: usage.rss };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const perCluster = (after: { heap: number; rss: number }, before: { heap: number; rss: number }) =>
  `heap ${kib((after.heap - before.heap) / clusters)}, RSS ${kib((after.rss - before.rss) / clusters)}`;

try {
  const tls = loadOrCreateLocalTls(dir, ['127.0.0.1', KUBE_SERVER_NAMES]);
  const database = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'mks.db') });
  const logger = pino({ level: 'silent' });
  const emulator = (residency: Residency) => {
    const created = new Emulator({ database, logger, podStartMs: 0, caPem: tls.caPem, residency });
    created.start();
    return created;
  };
  const ids = Array.from({ length: clusters }, (_, i) => `cluster-${String(i).padStart(6, '0')}`);
  /** Installs the clusters, or (once installed) loads them: a pass's first call does that. */
  const ensureAll = async (target: Emulator) => {
    for (const id of ids) await target.ensureCluster({ id, nodes: indexedNodes(id, 3), version: '1.32' });
  };
  const line = (text: string) => process.stdout.write(`${text}\n`);

  const base = await settle();
  let installing: Emulator | undefined = emulator(KEEP_ALL);
  await ensureAll(installing);
  await installing.stop(); // its clusters stay referenced, in memory, until it is dropped
  const installed = await settle();
  installing = undefined;

  const rows = await database.db
    .selectFrom('emulator_objects')
    .select(['resource', 'body'])
    .where('cluster_id', '=', ids[0]!)
    .execute();
  const meta = await database.db
    .selectFrom('emulator_clusters')
    .select('resource_version')
    .where('id', '=', ids[0]!)
    .executeTakeFirstOrThrow();
  let managed = 0;
  const byResource = new Map<string, number>();
  for (const row of rows) {
    const object = JSON.parse(row.body) as { metadata?: { managedFields?: unknown } };
    managed += JSON.stringify(object.metadata?.managedFields ?? []).length;
    byResource.set(row.resource, (byResource.get(row.resource) ?? 0) + 1);
  }
  const bytes = rows.reduce((sum, row) => sum + row.body.length, 0);

  const reloadedBase = await settle();
  let reloading: Emulator | undefined = emulator(KEEP_ALL);
  await ensureAll(reloading);
  await reloading.stop();
  const reloaded = await settle();
  reloading = undefined;

  const evictedBase = await settle();
  const evicting = emulator({ idleMs: 50, maxLoaded: 1_000_000 });
  await ensureAll(evicting);
  const deadline = performance.now() + 60_000;
  while (evicting.residency().loaded > 0) {
    if (performance.now() > deadline) throw new Error('the clusters did not leave memory within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const evicted = await settle();
  await evicting.stop();

  const clientsBase = await settle();
  const clients = new KubeClients(clusters);
  for (const id of ids)
    clients.for(id, { server: 'https://127.0.0.1:1', token: `mks.${id}.token`, caPem: tls.caPem });
  const withClients = await settle();
  clients.close();

  line(`${clusters} emulated clusters of 3 nodes; per cluster:`);
  line(`  just installed (objects, JSON texts, watch log, container logs): ${perCluster(installed, base)}`);
  line(
    `  loaded again from the store (objects only):                      ${perCluster(reloaded, reloadedBase)}`,
  );
  line(
    `  after leaving memory (what the registry keeps):                  ${perCluster(evicted, evictedBase)}`,
  );
  line(
    `  the reconciler's Kubernetes client (KubeClients):                ${perCluster(withClients, clientsBase)}`,
  );
  line(
    `  stored: ${rows.length} objects (${[...byResource].map(([r, n]) => `${n} ${r}`).join(', ')}), ${kib(bytes)} of JSON, managedFields ${((managed / bytes) * 100).toFixed(0)} % of it; watch log after install: ${meta.resource_version} events`,
  );
  await database.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
