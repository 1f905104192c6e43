/**
 * Graceful pod termination, as kube-apiserver and the kubelet do it: a deleted pod that runs on a
 * node is marked (deletionTimestamp, deletionGracePeriodSeconds) and shown Terminating until its
 * kubelet has stopped the container; the DaemonSet controller replaces it only then, so
 * `kubectl rollout status` right after a restart sees "0 out of N new pods have been updated".
 * Each step is an Event, as the controller, the scheduler and the kubelet record them.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { waitFor } from '../support/wait.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const TOKEN = 'pod-termination-token';
const CLUSTER = '5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b';

for (const dialect of DIALECTS) {
  describe(`graceful pod termination (${dialect})`, { timeout: 90_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 1_000,
      nodeCount: 2,
      version: '1.32.13',
    });
    let harness: EmulatorHarness;
    const pods = () => harness.kube.kubeProxyPods();
    const settled = async () => {
      const list = await pods();
      return list.length === 2 && list.every((p) => p.metadata?.deletionTimestamp === undefined);
    };

    before(async () => {
      harness = suite.harness();
      await waitFor(settled, { what: 'kube-proxy on both nodes', timeoutMs: 20_000 });
    });

    test('a restart shows the old pod Terminating, and rollout status starts at 0 updated', async () => {
      await harness.kubectl('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system');
      const status = harness.kube.rolloutStatus(30);
      const terminating = await waitFor(
        async () => (await pods()).find((p) => p.metadata?.deletionTimestamp !== undefined),
        { what: 'a Terminating kube-proxy pod', timeoutMs: 10_000 },
      );
      assert.equal(terminating.metadata?.deletionGracePeriodSeconds, 30);
      const table = await harness.kubectl('get', 'pods', '-n', 'kube-system', '-l', 'k8s-app=kube-proxy');
      assert.match(table, new RegExp(`${terminating.metadata?.name}\\s+1/1\\s+Terminating`));
      const result = await status;
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split('\n');
      assert.equal(
        lines[0],
        'Waiting for daemon set "kube-proxy" rollout to finish: 0 out of 2 new pods have been updated...',
      );
      assert.equal(lines.at(-1), 'daemon set "kube-proxy" successfully rolled out');
      await waitFor(settled, { what: 'the rollout to settle', timeoutMs: 20_000 });
    });

    test('kubectl get events lists what a real cluster records of a rolling restart', async () => {
      const table = await harness.kubectl('get', 'events', '-n', 'kube-system');
      const pod = String.raw`pod/kube-proxy-\w{5}`;
      for (const line of [
        String.raw`Normal\s+SuccessfulDelete\s+daemonset/kube-proxy\s+Deleted pod: kube-proxy-\w{5}`,
        String.raw`Normal\s+Killing\s+${pod}\s+Stopping container kube-proxy`,
        String.raw`Normal\s+SuccessfulCreate\s+daemonset/kube-proxy\s+Created pod: kube-proxy-\w{5}`,
        String.raw`Normal\s+Scheduled\s+${pod}\s+Successfully assigned kube-system/kube-proxy-\w{5} to \S+`,
        String.raw`Normal\s+Pulled\s+${pod}\s+Container image "[^"]+kube-proxy:v1\.32\.13" already present on machine`,
        String.raw`Normal\s+Created\s+${pod}\s+Created container: kube-proxy`,
        String.raw`Normal\s+Started\s+${pod}\s+Started container kube-proxy`,
      ]) {
        assert.match(table, new RegExp(line), `kubectl get events lists ${line}\n${table}`);
      }
    });

    test('kubectl delete pod waits for the kubelet; the replacement comes after', async () => {
      const [victim] = await pods();
      const name = victim!.metadata!.name!;
      const node = victim!.spec!.nodeName!;
      const started = Date.now();
      await harness.kubectl('delete', 'pod', name, '-n', 'kube-system');
      // kubectl waits until the pod is gone: the kubelet's stop time (podStartMs) has passed.
      assert.ok(Date.now() - started >= 1_000, 'deleted before the kubelet stopped the container');
      const replacement = await waitFor(
        async () => (await pods()).find((p) => p.spec?.nodeName === node && p.metadata?.name !== name),
        { what: 'the replacement pod', timeoutMs: 10_000 },
      );
      assert.equal(replacement.metadata?.deletionTimestamp, undefined);
      assert.ok(
        (await pods()).every((p) => p.metadata?.name !== name),
        'the deleted pod is gone',
      );
      await waitFor(settled, { what: 'kube-proxy on both nodes again', timeoutMs: 20_000 });
    });

    test('--grace-period=0 --force deletes at once', async () => {
      const [victim] = await pods();
      const name = victim!.metadata!.name!;
      await harness.kubectl('delete', 'pod', name, '-n', 'kube-system', '--grace-period=0', '--force');
      const response = await harness.kube.status(`/api/v1/namespaces/kube-system/pods/${name}`);
      assert.equal(response.status, 404);
    });
  });
}
