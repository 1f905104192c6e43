/**
 * The emulator benches' set-up (bench/emulator-rollout.ts, bench/emulator-load.ts): `clusters`
 * emulated clusters of 3 nodes in one Emulator on a temp SQLite file, mounted on a Fastify app
 * and called through `app.inject` (no TLS, no sockets, no reconciler).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { indexedNodes } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { Emulator, type Residency } from '../../src/emulator/emulator.ts';

export const KUBE_SYSTEM = '/api/v1/namespaces/kube-system';
export const DAEMONSET = '/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy';

/** What the benches read of a DaemonSet (or of the PATCH answers they send it). */
export interface DaemonSetView {
  metadata: { generation: number };
  status?: Record<string, number>;
}

export interface BenchEmulator {
  readonly database: Database;
  readonly emulator: Emulator;
  /** The clusters' ids, created. */
  readonly ids: readonly string[];
  /** A Kubernetes API call to a cluster; its parsed answer (throws on a status ≥ 300). */
  call<T = DaemonSetView>(
    id: string,
    method: 'GET' | 'PATCH',
    url: string,
    body?: object,
    type?: string,
  ): Promise<T>;
  /** Stops everything and removes the database. */
  close(): Promise<void>;
}

/**
 * Starts the emulator (`residency`: as `mks serve` by default; `postgresUrl`: on that database,
 * else on a temp SQLite file) and creates the clusters.
 */
export async function startBenchEmulator(
  clusters: number,
  residency?: Residency,
  postgresUrl?: string,
): Promise<BenchEmulator> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-emulator-bench-'));
  const database = await openDatabase(
    postgresUrl === undefined
      ? { kind: 'sqlite', file: path.join(dir, 'mks.db') }
      : { kind: 'postgres', url: postgresUrl },
  );
  const emulator = new Emulator({
    database,
    logger: pino({ level: 'silent' }),
    podStartMs: 0,
    caPem: 'unused',
    ...(residency === undefined ? {} : { residency }),
  });
  const app: FastifyInstance = Fastify();
  await emulator.register(app, async () => 'allowed');
  emulator.start();
  const ids = Array.from({ length: clusters }, (_, i) => `cluster-${String(i).padStart(6, '0')}`);
  for (const id of ids) await emulator.ensureCluster({ id, nodes: indexedNodes(id, 3), version: '1.32' });
  return {
    database,
    emulator,
    ids,
    async call<T = DaemonSetView>(
      id: string,
      method: 'GET' | 'PATCH',
      url: string,
      body?: object,
      type?: string,
    ) {
      const response = await app.inject({
        method,
        url: `/k8s/${id}${url}`,
        headers: {
          authorization: 'Bearer bench',
          ...(type === undefined ? {} : { 'content-type': type }),
        },
        ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
      });
      if (response.statusCode >= 300)
        throw new Error(`${method} ${url}: ${response.statusCode} ${response.body}`);
      return JSON.parse(response.body) as T;
    },
    async close() {
      await emulator.stop();
      await app.close();
      await database.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
