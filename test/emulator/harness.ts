/**
 * A standalone emulator for medium tests: the emulated clusters' Kubernetes API over HTTPS (kubectl
 * only sends bearer tokens over TLS), with a certificate from mks's own local CA, on a database of
 * the dialect under test, and a kubeconfig for one cluster with the tests' one way of using it
 * (`KubeAccess`: real kubectl, client-node, raw HTTPS). As `mks serve` does, the listener routes by
 * TLS server name, and the kubeconfig names the cluster's (no path).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import {
  clusterIdOfServerName,
  clusterIdOfToken,
  KUBE_SERVER_NAMES,
  kubeServerName,
} from '../../src/clusters/cluster-tokens.ts';
import type { Config } from '../../src/config.ts';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { routeToCluster } from '../../src/emulator/apiserver/kube-api.routes.ts';
import { indexedNodes } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { Emulator, type Residency } from '../../src/emulator/emulator.ts';
import type { Ownership } from '../../src/emulator/scale-out/ownership.ts';
import { loadOrCreateLocalTls } from '../../src/tls/local-ca.ts';
import { createTestDatabase, type Dialect, type TestDatabase } from '../support/dialects.ts';
import { KubeAccess } from '../support/kube.ts';

export interface HarnessOptions {
  /** Where the TLS material and the kubeconfig go. */
  readonly dir: string;
  readonly database: Config['database'];
  /** The cluster the kubeconfig points at. */
  readonly clusterId: string;
  /** The only bearer token the API accepts. */
  readonly token: string;
  readonly podStartMs: number;
  /** Called on every request the API receives (to see what clients send). */
  readonly onRequest?: (method: string, contentType: string | undefined) => void;
  /** Which clusters stay in memory (default: the emulator's). */
  readonly residency?: Residency;
  /** Which process serves each cluster (default: this one serves them all). */
  readonly ownership?: (database: Database) => Ownership;
}

export interface EmulatorHarness {
  readonly database: Database;
  readonly emulator: Emulator;
  readonly app: FastifyInstance;
  /** The cluster's API URL under the listener's mount (`https://127.0.0.1:PORT/k8s/ID`). */
  readonly serverUrl: string;
  /** The listener's URL (`https://127.0.0.1:PORT`), the kubeconfig's server. */
  readonly rootUrl: string;
  /** The cluster's TLS server name, the kubeconfig's `tls-server-name`. */
  readonly serverName: string;
  readonly caPem: string;
  readonly kubeconfigFile: string;
  readonly kubeconfigText: string;
  /** kubectl, client-node and raw HTTPS against the cluster. */
  readonly kube: KubeAccess;
  /** Runs kubectl against the cluster; its standard output (rejects with stderr on a non-zero exit). */
  kubectl(...args: string[]): Promise<string>;
  /** Closes the server, the emulator and the database (the database's content stays). */
  stop(): Promise<void>;
}

export async function startEmulatorHarness(options: HarnessOptions): Promise<EmulatorHarness> {
  const tls = loadOrCreateLocalTls(options.dir, ['127.0.0.1', KUBE_SERVER_NAMES]);
  const database = await openDatabase(options.database);
  const emulator = new Emulator({
    database,
    logger: pino({ level: 'silent' }),
    podStartMs: options.podStartMs,
    caPem: tls.caPem,
    ...(options.residency === undefined ? {} : { residency: options.residency }),
    // Shared ownership forwards between processes with the installation's CA and an internal token.
    ...(options.ownership === undefined
      ? {}
      : {
          ownership: options.ownership(database),
          peers: { caPem: tls.caPem, internalToken: crypto.randomBytes(16).toString('hex') },
        }),
  });
  const app = Fastify({
    logger: false,
    https: { key: tls.keyPem, cert: tls.certPem },
    rewriteUrl: routeToCluster({ byServerName: clusterIdOfServerName, byToken: clusterIdOfToken }),
  });
  const onRequest = options.onRequest;
  if (onRequest !== undefined)
    app.addHook('onRequest', async (request) => onRequest(request.method, request.headers['content-type']));
  await emulator.register(app, async (_clusterId, token) =>
    token === options.token ? 'allowed' : 'unauthorized',
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  emulator.start();
  const { port } = app.server.address() as { port: number };
  const rootUrl = `https://127.0.0.1:${port}`;
  const serverUrl = `${rootUrl}/k8s/${options.clusterId}`;
  const serverName = kubeServerName(options.clusterId);
  const kubeconfigText = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(tls.caPem).toString('base64')}`,
    `    server: ${rootUrl}`,
    `    tls-server-name: ${serverName}`,
    '  name: emulated',
    'contexts:',
    '- context: {cluster: emulated, user: admin}',
    '  name: emulated',
    'current-context: emulated',
    'users:',
    '- name: admin',
    '  user:',
    `    token: ${options.token}`,
    '',
  ].join('\n');
  const kubeconfigFile = path.join(options.dir, 'kubeconfig');
  fs.writeFileSync(kubeconfigFile, kubeconfigText);
  const kube = new KubeAccess(kubeconfigText);
  return {
    database,
    emulator,
    app,
    serverUrl,
    rootUrl,
    serverName,
    caPem: tls.caPem,
    kubeconfigFile,
    kubeconfigText,
    kube,
    kubectl: (...args: string[]) => kube.kubectl(...args),
    async stop() {
      kube.close();
      await app.close();
      await emulator.stop();
      await database.close();
    },
  };
}

/**
 * A suite's harness: `before` opens a database of `dialect`, starts the harness and installs the
 * cluster (`nodeCount` nodes at `version`); `after` stops and drops everything. `harness()` is the
 * running harness, `dir` its directory (for the suite's own files and kubectl's cache).
 */
export function suiteHarness(
  dialect: Dialect,
  options: Omit<HarnessOptions, 'dir' | 'database'> & {
    readonly nodeCount: number;
    readonly version: string;
  },
): { harness(): EmulatorHarness; readonly dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-emulator-suite-'));
  let testDatabase: TestDatabase | undefined;
  let harness: EmulatorHarness | undefined;
  before(async () => {
    testDatabase = await createTestDatabase(dialect);
    harness = await startEmulatorHarness({ ...options, dir, database: testDatabase.config });
    await harness.emulator.ensureCluster({
      id: options.clusterId,
      nodes: indexedNodes(options.clusterId, options.nodeCount),
      version: options.version,
    });
  });
  after(async () => {
    await harness?.stop();
    await testDatabase?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    harness() {
      if (harness === undefined) throw new Error('the harness starts in the suite’s before hook');
      return harness;
    },
  };
}
