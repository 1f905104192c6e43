/**
 * A standalone emulator for medium tests: the emulated clusters' Kubernetes API over HTTPS (kubectl
 * only sends bearer tokens over TLS), with a certificate from mks's own local CA, on a database of
 * the dialect under test, a kubeconfig for one cluster and a kubectl runner.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Config } from '../../src/config.ts';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { Emulator } from '../../src/emulator/emulator.ts';
import { loadOrCreateLocalTls } from '../../src/tls/local-ca.ts';

const run = promisify(execFile);

export interface HarnessOptions {
  /** Where the TLS material, kubeconfig and kubectl cache go. */
  readonly dir: string;
  readonly database: Config['database'];
  /** The cluster the kubeconfig points at. */
  readonly clusterId: string;
  /** The only bearer token the API accepts. */
  readonly token: string;
  readonly podStartMs: number;
  /** kubectl's own timeout. */
  readonly kubectlTimeoutMs?: number;
  /** Called on every request the API receives (to see what clients send). */
  readonly onRequest?: (method: string, contentType: string | undefined) => void;
}

export interface EmulatorHarness {
  readonly database: Database;
  readonly emulator: Emulator;
  readonly app: FastifyInstance;
  /** The cluster's API URL (`https://127.0.0.1:PORT/k8s/ID`). */
  readonly serverUrl: string;
  readonly kubeconfigFile: string;
  readonly kubeconfigText: string;
  /** Runs kubectl against the cluster; its standard output. */
  kubectl(...args: string[]): Promise<string>;
  /** Closes the server, the emulator and the database (the database's content stays). */
  stop(): Promise<void>;
}

export async function startEmulatorHarness(options: HarnessOptions): Promise<EmulatorHarness> {
  const tls = loadOrCreateLocalTls(options.dir, ['127.0.0.1']);
  const database = await openDatabase(options.database);
  const emulator = new Emulator({
    database,
    logger: pino({ level: 'silent' }),
    podStartMs: options.podStartMs,
  });
  const app = Fastify({ logger: false, https: { key: tls.keyPem, cert: tls.certPem } });
  const onRequest = options.onRequest;
  if (onRequest !== undefined)
    app.addHook('onRequest', async (request) => onRequest(request.method, request.headers['content-type']));
  await emulator.register(app, async (_clusterId, token) =>
    token === options.token ? 'allowed' : 'unauthorized',
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  emulator.start();
  const { port } = app.server.address() as { port: number };
  const serverUrl = `https://127.0.0.1:${port}/k8s/${options.clusterId}`;
  const kubeconfigText = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- cluster:',
    `    certificate-authority-data: ${Buffer.from(tls.caPem).toString('base64')}`,
    `    server: ${serverUrl}`,
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
  return {
    database,
    emulator,
    app,
    serverUrl,
    kubeconfigFile,
    kubeconfigText,
    async kubectl(...args: string[]) {
      const { stdout } = await run(
        'kubectl',
        ['--kubeconfig', kubeconfigFile, '--cache-dir', path.join(options.dir, 'cache'), ...args],
        { timeout: options.kubectlTimeoutMs ?? 30_000 },
      );
      return stdout;
    },
    async stop() {
      await app.close();
      await emulator.stop();
      await database.close();
    },
  };
}
