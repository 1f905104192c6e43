/**
 * Health, readiness and metrics on every engine, through real HTTP: /healthz and /readyz on both
 * listeners without credentials, /metrics that move as operations happen, and `mks --version`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { DIALECTS } from '../support/dialects.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/** An unsigned GET on the Kubernetes API listener (HTTPS with mks's CA). */
function kubeGet(server: TestServer, path: string): Promise<{ status: number; body: string }> {
  const ca = fs.readFileSync(server.runtime.kubeCaFile);
  return new Promise((resolve, reject) => {
    https
      .get(
        `https://${server.config.kubeListen.host}:${server.config.kubeListen.port}${path}`,
        { ca },
        (response) => {
          let body = '';
          response.on('data', (chunk) => {
            body += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        },
      )
      .on('error', reject);
  });
}

/** The value of one sample of the Prometheus text, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test('mks --version prints the version of package.json', () => {
  const result = spawnSync(process.execPath, ['bin/mks.js', '--version'], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const { version } = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string };
  assert.equal(result.stdout, `${version}\n`);
});

for (const dialect of DIALECTS) {
  describe(`health, readiness and metrics (${dialect})`, () => {
    let server: TestServer;
    let kube: string;

    before(async () => {
      server = await startTestServer(dialect, { MKS_PROGRESS_MS: '50' });
      kube = `/cloud/project/${server.projectId}/kube`;
    });
    after(() => server.close());

    const get = async (path: string) => {
      const response = await fetch(`${server.baseUrl}${path}`);
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        body: await response.text(),
      };
    };

    test('/healthz and /readyz answer without credentials on both listeners', async () => {
      for (const answer of [await get('/healthz'), await kubeGet(server, '/healthz')]) {
        assert.equal(answer.status, 200);
        assert.deepEqual(JSON.parse(answer.body), { status: 'ok' });
      }
      for (const answer of [await get('/readyz'), await kubeGet(server, '/readyz')]) {
        assert.equal(answer.status, 200, answer.body);
        assert.deepEqual(JSON.parse(answer.body), {
          status: 'ok',
          checks: { database: 'ok', reconciler: 'ok' },
        });
      }
    });

    test('/metrics counts requests by route and status, passes by outcome, and clusters by status', async () => {
      const route = `route="/1.0/cloud/project/:serviceName/kube"`;
      const created = `mks_http_requests_total{method="POST",${route},status="200"}`;
      const refused = `mks_http_requests_total{method="POST",${route},status="400"}`;
      const before = await get('/metrics');
      assert.equal(before.status, 200);
      assert.match(before.type ?? '', /^text\/plain/);

      const { id } = await server.client.call<{ id: string }>('POST', kube, { region: 'GRA7' });
      assert.equal((await server.client.raw('POST', kube, { region: 'NOWHERE' })).status, 400);
      await untilClusterStatus(server.client, kube, id, 'READY', 15_000);
      // The pass that wrote READY is counted once it has ended, just after.
      const passes = 'mks_reconcile_passes_total{outcome="done"}';
      const afterText = await waitFor(
        async () => {
          const text = (await get('/metrics')).body;
          return sample(text, passes) > sample(before.body, passes) ? text : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 20, what: 'the pass that made the cluster READY to be counted' },
      );

      assert.equal(sample(afterText, created) - sample(before.body, created), 1);
      assert.equal(sample(afterText, refused) - sample(before.body, refused), 1);
      assert.ok(sample(afterText, `mks_http_request_duration_seconds_count{method="POST",${route}}`) >= 2);
      assert.ok(sample(afterText, 'mks_reconcile_pass_duration_seconds_count{outcome="done"}') >= 1);
      assert.equal(sample(afterText, 'mks_clusters{status="READY"}'), 1);
      assert.match(afterText, /^mks_reconcile_queue_depth \d+$/m);
      assert.match(afterText, /^mks_reconcile_queue_oldest_seconds [\d.e+-]+$/m);
      assert.match(afterText, /^mks_reconcile_lease_losses_total 0$/m);
    });

    test('/metrics labels a request no route takes "unmatched", and one refused before its route admitted it by that route', async () => {
      const route = 'route="/1.0/cloud/project/:serviceName/kube"';
      const unmatched = 'mks_http_requests_total{method="GET",route="unmatched",status="404"}';
      const refusedEarly = `mks_http_requests_total{method="POST",${route},status="415"}`;
      const before = (await get('/metrics')).body;
      const missing = await fetch(`${server.baseUrl}/1.0/no/such/call`);
      assert.equal(missing.status, 404);
      assert.match(String(missing.headers.get('x-ovh-queryid')), /^EU\.ext-mks\./);
      // Refused by the body parser, before the route's admission hook ran.
      const wrongType = await fetch(`${server.baseUrl}/1.0${kube}`, {
        method: 'POST',
        headers: { 'content-type': 'json' },
        body: '{}',
      });
      assert.equal(wrongType.status, 415);
      assert.match(String(wrongType.headers.get('x-ovh-queryid')), /^EU\.ext-mks\./);
      const afterText = await waitFor(
        async () => {
          const text = (await get('/metrics')).body;
          return sample(text, refusedEarly) > sample(before, refusedEarly) ? text : undefined;
        },
        { timeoutMs: 5_000, intervalMs: 20, what: 'the refused request to be counted' },
      );
      assert.equal(sample(afterText, unmatched) - sample(before, unmatched), 1);
      assert.equal(sample(afterText, refusedEarly) - sample(before, refusedEarly), 1);
    });

    test('/readyz answers 503 and says why once the reconciler stops', async () => {
      await server.runtime.reconciler?.stop();
      const answer = await get('/readyz');
      assert.equal(answer.status, 503);
      assert.deepEqual(JSON.parse(answer.body), {
        status: 'unavailable',
        checks: { database: 'ok', reconciler: 'not running' },
      });
      assert.equal((await get('/healthz')).status, 200, 'the process is still up');
    });
  });
}
