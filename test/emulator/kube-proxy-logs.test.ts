/**
 * `kubectl logs` of kube-proxy pods shows what the container logged at its start: the config it
 * loaded, its mode and sync periods, or the error it exits with when it refuses the config (and
 * `kubectl get events` the kubelet's BackOff warning).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { kubectl } from '../support/kubectl.ts';
import { waitFor } from '../support/wait.ts';
import { suiteHarness } from './harness.ts';

const TOKEN = 'kube-proxy-logs-token';
const CLUSTER = '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

for (const dialect of DIALECTS) {
  describe(`kubectl logs of kube-proxy (${dialect})`, { timeout: 60_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 0,
      nodeCount: 1,
      version: '1.32.13',
    });
    const run = (...args: string[]) =>
      kubectl(args, {
        kubeconfig: suite.harness().kubeconfigFile,
        cacheDir: path.join(suite.dir, 'cache'),
        timeoutMs: 20_000,
      });

    test('a running kube-proxy logs the config it loaded, its mode and sync periods', async () => {
      const logs = await run('logs', '-n', 'kube-system', 'ds/kube-proxy');
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(
        logs.stdout,
        /^I\d{4} \d\d:\d\d:\d\d\.\d{6} +1 server\.go:\d+\] "Version info" version="v1\.32\.13"$/m,
      );
      assert.match(logs.stdout, /"Loaded config" path="\/var\/lib\/kube-proxy\/config\.conf"/);
      assert.match(logs.stdout, /"Using iptables proxy"/);
      assert.match(logs.stdout, /"Sync periods" mode="iptables" syncPeriod="30s" minSyncPeriod="1s"/);
      const tail = await run('logs', '-n', 'kube-system', 'ds/kube-proxy', '--tail=1');
      assert.equal(tail.stdout.split('\n').length, 2, tail.stdout);
      assert.match(tail.stdout, /"Sync periods"/);
    });

    test('a kube-proxy that refuses its config logs the error it exits with', async () => {
      const config = [
        'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
        'kind: KubeProxyConfiguration',
        'mode: ipvs',
        'ipvs:',
        '  scheduler: nope',
        '',
      ].join('\n');
      const patched = await run(
        'patch',
        'cm',
        'kube-proxy',
        '-n',
        'kube-system',
        '--type=merge',
        '-p',
        JSON.stringify({ data: { 'config.conf': config } }),
      );
      assert.equal(patched.code, 0, patched.stderr);
      assert.equal((await run('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system')).code, 0);
      const logs = await waitFor(
        async () => {
          const result = await run('logs', '-n', 'kube-system', 'ds/kube-proxy');
          return /^E\d{4} .*run\.go:\d+\] "command failed" err=/m.test(result.stdout) && result.stdout;
        },
        { what: 'the crash-looping kube-proxy to log its error', timeoutMs: 20_000 },
      );
      assert.match(
        logs,
        /err="Error running ProxyServer: can't use the IPVS proxier: .*scheduler=\\"nope\\"/,
      );
      assert.doesNotMatch(logs, /"Loaded config"/);
      // The kubelet's BackOff warning says which pod, as `kubectl get events` shows it.
      const events = await run('get', 'events', '-n', 'kube-system');
      assert.equal(events.code, 0, events.stderr);
      assert.match(
        events.stdout,
        /Warning\s+BackOff\s+pod\/kube-proxy-\w{5}\s+Back-off restarting failed container kube-proxy in pod kube-proxy-\w{5}_kube-system\(/,
      );
    });

    test('a container the pod does not have is refused as kube-apiserver does', async () => {
      const pods = await run('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy', '-o', 'name');
      const pod = pods.stdout.trim().split('\n')[0]!;
      const refused = await run('logs', '-n', 'kube-system', pod, '-c', 'nope');
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr, `error: container nope is not valid for pod ${pod.replace('pod/', '')}\n`);
    });
  });
}
