/**
 * Real kubectl (≥ 1.32 sends typed-client writes as protobuf; `apply` reads OpenAPI v3) against a
 * throwaway emulated cluster. The cluster reports 1.32, so the gcloud kubectl dispatcher runs a 1.32
 * client.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { type Database, openDatabase } from '../db/database.ts';
import { loadOrCreateLocalTls } from '../tls/local-ca.ts';
import { Emulator } from './emulator.ts';

const run = promisify(execFile);
const TOKEN = 'kubectl-compat-token';
const CLUSTER = '0c1d2e3f-4a5b-4c6d-8e7f-90a1b2c3d4e5';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-kubectl-compat-'));
let database: Database;
let emulator: Emulator;
let app: FastifyInstance;
let kubeconfigFile: string;
const contentTypes: string[] = [];

async function startServer(): Promise<void> {
  const tls = loadOrCreateLocalTls(dir, ['127.0.0.1']);
  database = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'store.sqlite') });
  emulator = new Emulator({ database, logger: pino({ level: 'silent' }), podStartMs: 0 });
  app = Fastify({ logger: false, https: { key: tls.keyPem, cert: tls.certPem } });
  app.addHook('onRequest', async (request) => {
    const type = request.headers['content-type'];
    if (type !== undefined) contentTypes.push(`${request.method} ${type}`);
  });
  await emulator.register(app, async (_clusterId, token) => token === TOKEN);
  await app.listen({ host: '127.0.0.1', port: 0 });
  emulator.start();
  const { port } = app.server.address() as { port: number };
  kubeconfigFile = path.join(dir, 'kubeconfig');
  fs.writeFileSync(
    kubeconfigFile,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- cluster:',
      `    certificate-authority-data: ${Buffer.from(tls.caPem).toString('base64')}`,
      `    server: https://127.0.0.1:${port}/k8s/${CLUSTER}`,
      '  name: emulated',
      'contexts:',
      '- context: {cluster: emulated, user: admin}',
      '  name: emulated',
      'current-context: emulated',
      'users:',
      '- name: admin',
      '  user:',
      `    token: ${TOKEN}`,
      '',
    ].join('\n'),
  );
}

async function kubectl(...args: string[]): Promise<string> {
  const { stdout } = await run(
    'kubectl',
    ['--kubeconfig', kubeconfigFile, '--cache-dir', path.join(dir, 'cache'), ...args],
    { timeout: 20_000 },
  );
  return stdout;
}

function manifest(data: Record<string, string>): string {
  const file = path.join(dir, 'manifest.yaml');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Namespace',
      'metadata:',
      '  name: applied',
      '---',
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: c',
      '  namespace: applied',
      '  labels: {team: mks}',
      'data:',
      ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n'),
  );
  return file;
}

describe('kubectl compatibility', { timeout: 40_000 }, () => {
  before(async () => {
    await startServer();
    await emulator.ensureCluster({ id: CLUSTER, nodeCount: 1, version: '1.32.4' });
  });
  after(async () => {
    await app.close();
    await emulator.stop();
    await database.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('typed kubectl create commands send protobuf and are decoded', async () => {
    contentTypes.length = 0;
    assert.match(await kubectl('create', 'namespace', 'demo'), /namespace\/demo created/);
    assert.match(
      await kubectl('create', 'configmap', 'c', '-n', 'demo', '--from-literal=a=b', '--from-literal=x=y z'),
      /configmap\/c created/,
    );
    assert.match(
      await kubectl('create', 'secret', 'generic', 's', '-n', 'demo', '--from-literal=password=hunter2'),
      /secret\/s created/,
    );
    assert.ok(
      contentTypes.includes('POST application/vnd.kubernetes.protobuf'),
      `kubectl sent ${contentTypes.join(', ')}`,
    );
    const cm = JSON.parse(await kubectl('get', 'cm', 'c', '-n', 'demo', '-o', 'json'));
    assert.deepEqual(cm.data, { a: 'b', x: 'y z' });
    assert.equal(cm.metadata.namespace, 'demo');
    assert.ok(cm.metadata.uid);
    const secret = JSON.parse(await kubectl('get', 'secret', 's', '-n', 'demo', '-o', 'json'));
    assert.equal(Buffer.from(secret.data.password, 'base64').toString(), 'hunter2');
    assert.match(await kubectl('get', 'ns', 'demo'), /demo\s+Active/);
  });

  test('kubectl apply -f validates against OpenAPI v3 and patches on the second apply', async () => {
    assert.match(
      await kubectl('apply', '-f', manifest({ a: 'b' })),
      /namespace\/applied created\nconfigmap\/c created/,
    );
    assert.match(
      await kubectl('apply', '-f', manifest({ a: 'changed', k: 'new' })),
      /namespace\/applied unchanged\nconfigmap\/c configured/,
    );
    assert.ok(contentTypes.includes('PATCH application/strategic-merge-patch+json'));
    const yaml = await kubectl('get', 'cm', 'c', '-n', 'applied', '-o', 'yaml');
    assert.match(yaml, /data:\n\s+a: changed\n\s+k: new\n/);
    assert.match(yaml, /kubectl\.kubernetes\.io\/last-applied-configuration/);
    assert.match(yaml, /team: mks/);
  });

  test('kubectl delete ns removes the namespace and its objects', async () => {
    assert.match(await kubectl('delete', 'ns', 'demo'), /namespace "demo" deleted/);
    assert.doesNotMatch(await kubectl('get', 'ns'), /^demo\s/m);
    assert.match(await kubectl('delete', 'ns', 'applied'), /deleted/);
    assert.doesNotMatch(await kubectl('get', 'cm', '-A'), /applied/);
  });
});
