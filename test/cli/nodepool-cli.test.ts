/**
 * `mks nodepool …`, `mks cluster upgrade|restart|etcd-usage|ip-restrictions` as separate processes
 * against a running mks (full runtime, reconciler and emulated clusters). The CLI is client-side
 * only, so this runs on SQLite alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster, NodePool } from '../../src/client/mks-client.ts';
import { type CliSandbox, cliSandbox, type Run } from '../support/cli.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const ok = (run: Run, what = '') => {
  assert.equal(run.code, 0, `${what}\nexit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run;
};

describe('mks nodepool, cluster upgrade and cluster ip-restrictions against a running mks', () => {
  let server: TestServer;
  let cli: CliSandbox;
  let id: string;

  before(async () => {
    server = await startTestServer('sqlite', { MKS_POD_START_MS: '100', MKS_PROGRESS_MS: '50' });
    cli = cliSandbox(server.credentials);
    const kube = `/cloud/project/${server.projectId}/kube`;
    const created = await server.client.call<Cluster>('POST', kube, {
      region: 'GRA5',
      version: '1.34',
      nodepool: { name: 'base', desiredNodes: 1 },
    });
    id = created.id;
    await untilClusterStatus(server.client, kube, id, 'READY', 20_000);
  });
  after(async () => {
    cli?.dispose();
    await server?.close();
  });

  const mks = (args: string[]) => cli.run(args);

  test('nodepool create, list, scale, a refused scale, delete, each with --wait', async () => {
    const created = ok(
      await mks([
        'nodepool',
        'create',
        id,
        '--name',
        'workers',
        '--flavor',
        'b3-16',
        '--nodes',
        '2',
        '--label',
        'tier=back',
        '--taint',
        'dedicated=batch:NoSchedule',
        '--wait',
        '-o',
        'json',
      ]),
    );
    const pool = JSON.parse(created.stdout) as NodePool;
    assert.equal(pool.status, 'READY');
    assert.equal(pool.availableNodes, 2);
    assert.deepEqual(pool.template.metadata.labels, { tier: 'back' });
    assert.deepEqual(pool.template.spec.taints, [{ key: 'dedicated', value: 'batch', effect: 'NoSchedule' }]);
    assert.match(created.stderr, /done: node pool workers is READY \(2 nodes\)/);

    const listed = ok(await mks(['nodepool', 'list', id, '-q']));
    assert.equal(listed.stdout.trim().split('\n').length, 2);
    assert.ok(listed.stdout.includes(pool.id));

    const scaled = ok(await mks(['nodepool', 'scale', id, pool.id, '--nodes', '3', '--wait', '-o', 'json']));
    assert.deepEqual(
      [
        (JSON.parse(scaled.stdout) as NodePool).desiredNodes,
        (JSON.parse(scaled.stdout) as NodePool).availableNodes,
      ],
      [3, 3],
    );
    const shown = ok(await mks(['nodepool', 'get', id, pool.id, '-o', 'table']));
    assert.match(shown.stdout, /Nodes:\s+3 ready \/ 3 current \/ 3 desired/);
    assert.match(shown.stdout, /workers-node-[0-9a-f]{6}/);

    const refused = await mks(['nodepool', 'scale', id, pool.id, '--nodes', '99', '--max', '5']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /desiredNodes: 99 is outside \[minNodes, maxNodes\] = \[0, 5\]/);
    const usage = await mks(['nodepool', 'scale', id, pool.id]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /nothing to change/);

    const deleted = ok(await mks(['nodepool', 'delete', id, pool.id, '--wait']));
    assert.match(deleted.stderr, /deleted/);
    assert.equal(
      ok(await mks(['nodepool', 'list', id, '-q']))
        .stdout.trim()
        .split('\n').length,
      1,
    );
  });

  test('cluster ip-restrictions sets, shows and removes blocks', async () => {
    const set = ok(
      await mks(['cluster', 'ip-restrictions', id, '--set', '203.0.113.0/24,198.51.100.7', '-o', 'json']),
    );
    assert.deepEqual(JSON.parse(set.stdout), ['203.0.113.0/24', '198.51.100.7']);
    const removed = ok(
      await mks(['cluster', 'ip-restrictions', id, '--remove', '198.51.100.7', '-o', 'table']),
    );
    assert.equal(removed.stdout.trim(), '203.0.113.0/24');
    const bad = await mks(['cluster', 'ip-restrictions', id, '--add', '10.0.0.1/8']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /'10\.0\.0\.1\/8' is not an IP block/);
    assert.match(
      ok(await mks(['cluster', 'ip-restrictions', id, '--set', '', '-o', 'table'])).stdout,
      /every address is allowed/,
    );
  });

  test('cluster restart --wait ends READY; cluster etcd-usage shows the bytes stored and the quota', async () => {
    const run = ok(await mks(['cluster', 'restart', id, '--wait', '-o', 'json']));
    assert.equal((JSON.parse(run.stdout) as Cluster).status, 'READY');
    const usage = JSON.parse(ok(await mks(['cluster', 'etcd-usage', id, '-o', 'json'])).stdout) as {
      quota: number;
      usage: number;
    };
    assert.ok(usage.usage > 0 && usage.usage < usage.quota, JSON.stringify(usage));
    assert.match(
      ok(await mks(['cluster', 'etcd-usage', id, '-o', 'table'])).stdout,
      /Usage:\s+\d+ bytes \(\d+\.\d%\)\s+Quota:\s+36700160 bytes/,
    );
    const missing = await mks(['cluster', 'restart', '00000000-0000-4000-8000-000000000000']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  });

  test('cluster upgrade --wait ends READY on the next minor', async () => {
    const run = ok(await mks(['cluster', 'upgrade', id, '--wait', '-o', 'json']));
    const cluster = JSON.parse(run.stdout) as Cluster;
    assert.equal(cluster.status, 'READY');
    assert.equal(cluster.version, '1.35.0');
    assert.match(run.stderr, /UPDATING/);
    const refused = await mks(['cluster', 'upgrade', id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /the newest minor offered/);
  });
});
