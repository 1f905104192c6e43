/**
 * Deployments through real kubectl: the Deployment → ReplicaSet (pod-template-hash) → pods chain,
 * scheduled onto the nodes and shown Running (not run), a rolling update of a template change
 * followed by `kubectl rollout status`, history, scale, and garbage collection on delete.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { DIALECTS } from '../support/dialects.ts';
import { waitFor } from '../support/wait.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const TOKEN = 'deployments-token';
const CLUSTER = '9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f';

interface Item {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { replicas?: number; nodeName?: string };
  status?: { phase?: string; replicas?: number };
}

for (const dialect of DIALECTS) {
  describe(`Deployments and ReplicaSets (${dialect})`, { timeout: 120_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: TOKEN,
      podStartMs: 300,
      nodeCount: 2,
      version: '1.32.13',
    });
    let harness: EmulatorHarness;
    const kubectl = (...args: string[]) => harness.kubectl(...args);
    const items = async (...args: string[]) =>
      (await harness.kube.json<{ items: Item[] }>('get', ...args)).items;

    before(() => {
      harness = suite.harness();
    });

    test('kubectl create deployment runs its pods through a ReplicaSet', async () => {
      await kubectl('create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3');
      const status = await harness.kube.run(['rollout', 'status', 'deploy/web', '--timeout=30s'], 40_000);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /deployment "web" successfully rolled out\n$/);

      const [rs, ...others] = await items('rs', '-l', 'app=web');
      assert.equal(others.length, 0);
      const hash = rs!.metadata.labels?.['pod-template-hash'];
      assert.ok(hash);
      assert.equal(rs!.metadata.name, `web-${hash}`);
      assert.equal(rs!.metadata.annotations?.['deployment.kubernetes.io/revision'], '1');
      assert.match(
        await kubectl('get', 'deploy', 'web'),
        /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+3\/3\s+3\s+3\s+/,
      );
      assert.match(await kubectl('get', 'rs'), new RegExp(`web-${hash}\\s+3\\s+3\\s+3\\s+`));

      const pods = await items('pods', '-l', 'app=web');
      assert.equal(pods.length, 3);
      for (const pod of pods) {
        assert.match(pod.metadata.name, new RegExp(`^web-${hash}-[a-z0-9]{5}$`));
        assert.equal(pod.metadata.labels?.['pod-template-hash'], hash);
        assert.ok(pod.spec.nodeName, 'scheduled onto a node');
        assert.equal(pod.status?.phase, 'Running');
      }
      const events = await kubectl('get', 'events');
      assert.match(
        events,
        new RegExp(`ScalingReplicaSet\\s+deployment/web\\s+Scaled up replica set web-${hash} from 0 to 3`),
      );
      assert.match(
        events,
        new RegExp(`SuccessfulCreate\\s+replicaset/web-${hash}\\s+Created pod: web-${hash}-`),
      );
    });

    test('a template change rolls out to a new ReplicaSet, replica by replica', async () => {
      const [before] = await items('rs', '-l', 'app=web');
      await kubectl('set', 'image', 'deploy/web', 'nginx=nginx:1.28');
      const status = await harness.kube.run(['rollout', 'status', 'deploy/web', '--timeout=60s'], 70_000);
      assert.equal(status.code, 0, status.stderr);
      assert.match(
        status.stdout,
        /Waiting for deployment "web" rollout to finish: \d out of 3 new replicas have been updated\.\.\./,
      );
      assert.match(status.stdout, /deployment "web" successfully rolled out\n$/);

      const sets = await items('rs', '-l', 'app=web');
      assert.equal(sets.length, 2);
      const old = sets.find((rs) => rs.metadata.name === before!.metadata.name)!;
      const current = sets.find((rs) => rs.metadata.name !== before!.metadata.name)!;
      assert.equal(old.spec.replicas, 0);
      assert.equal(current.spec.replicas, 3);
      assert.equal(current.metadata.annotations?.['deployment.kubernetes.io/revision'], '2');
      await waitFor(
        async () => {
          const pods = await items('pods', '-l', 'app=web');
          return (
            pods.length === 3 &&
            pods.every(
              (p) =>
                p.metadata.labels?.['pod-template-hash'] === current.metadata.labels?.['pod-template-hash'],
            )
          );
        },
        { what: 'only the new pods', timeoutMs: 20_000 },
      );
      assert.match(
        await kubectl('rollout', 'history', 'deploy/web'),
        /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/,
      );
    });

    test('a paused Deployment rolls nothing out until it is resumed', async () => {
      await kubectl('rollout', 'pause', 'deploy/web');
      await kubectl('set', 'image', 'deploy/web', 'nginx=nginx:1.29');
      const seen = await waitFor(
        async () => {
          const d = await harness.kube.json<{
            metadata: { generation: number };
            status: { observedGeneration?: number; conditions?: Array<{ type: string; reason: string }> };
          }>('get', 'deploy', 'web');
          return d.status.observedGeneration === d.metadata.generation && d;
        },
        { what: 'the controller to see the change', timeoutMs: 10_000 },
      );
      assert.equal(seen.status.conditions?.find((c) => c.type === 'Progressing')?.reason, 'DeploymentPaused');
      assert.equal((await items('rs', '-l', 'app=web')).length, 2, 'no new ReplicaSet while paused');
      await kubectl('rollout', 'resume', 'deploy/web');
      const status = await harness.kube.run(['rollout', 'status', 'deploy/web', '--timeout=60s'], 70_000);
      assert.equal(status.code, 0, status.stderr);
      assert.equal((await items('rs', '-l', 'app=web')).length, 3);
      assert.match(await kubectl('get', 'deploy', 'web', '-o', 'wide'), /nginx:1\.29/);
    });

    test('kubectl scale, then delete: the pods follow', async () => {
      await kubectl('scale', 'deploy/web', '--replicas=1');
      await waitFor(async () => (await items('pods', '-l', 'app=web')).length === 1, {
        what: 'one pod left',
        timeoutMs: 20_000,
      });
      assert.match(await kubectl('delete', 'deploy', 'web'), /deployment\.apps "web" deleted/);
      await waitFor(
        async () =>
          (await items('rs', '-l', 'app=web')).length === 0 &&
          (await items('pods', '-l', 'app=web')).length === 0,
        { what: 'the ReplicaSets and pods collected', timeoutMs: 20_000 },
      );
    });
  });
}
