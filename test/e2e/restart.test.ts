/**
 * Crash in the middle of a rollout: `mks serve` runs as a real process (SQLite in a data
 * directory), is SIGKILLed once one kube-proxy pod of three runs the new config, and is started
 * again on the same data directory and ports. The rollout must resume where it stopped and finish,
 * without rolling the config out a second time.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { ApiClient } from '../../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../../src/client/ovh-conf.ts';
import { configHash } from '../../src/customization/kube-proxy-config.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { isRunning, KubeAccess } from '../support/kube.ts';
import { MksProcess } from '../support/mks-process.ts';
import { freePort } from '../support/postgres-server.ts';
import { cleanEnv } from '../support/process.ts';
import { waitFor } from '../support/wait.ts';

const CONFIG_HASH = 'mks.ovh/config-hash';

type Cluster = { id: string; status: string; statusMessage: string | null };

describe('mks serve restarted in the middle of a rollout (sqlite)', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-e2e-restart-'));
  let args: string[];
  let env: NodeJS.ProcessEnv;
  let serve: MksProcess | undefined;
  let baseUrl: string;
  let k: KubeAccess | undefined;
  const outputs: string[] = [];

  before(async () => {
    const port = await freePort();
    const kubePort = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    args = ['--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--kube-listen', `127.0.0.1:${kubePort}`];
    env = cleanEnv({
      // Pods take 1.5 s to start, so a rollout over 3 nodes lasts several seconds; a dead worker's
      // lease expires after 1 s.
      MKS_POD_START_MS: '1500',
      MKS_LEASE_MS: '1000',
      MKS_PROGRESS_MS: '50',
      MKS_RESYNC_MS: '500',
      MKS_LOG_LEVEL: 'info',
    });
  });
  after(async () => {
    await serve?.kill('SIGTERM');
    k?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function start(): Promise<ApiClient> {
    const current = new MksProcess(['serve', ...args], env);
    serve = current;
    const index = outputs.length;
    outputs.push('');
    current.onOutput = (text) => {
      outputs[index] = text;
    };
    const conf = path.join(dataDir, 'ovh.conf');
    await waitFor(
      async () => {
        if (!current.running) throw new Error(`mks serve exited:\n${current.output}`);
        if (!fs.existsSync(conf)) return false;
        return (await fetch(`${baseUrl}/1.0/auth/time`)).ok;
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'mks serve to listen' },
    );
    return new ApiClient(readOvhConf(conf) as OvhCredentials);
  }

  test('SIGKILL after one pod of three is new: after a restart the rollout resumes and finishes, each pod restarted once', async () => {
    try {
      await killAndResume();
    } catch (error) {
      // What both processes logged explains most failures.
      if (error instanceof Error)
        error.message += `\n--- mks serve output ---\n${outputs.join('\n--- restart ---\n')}`;
      throw error;
    }
  });

  async function killAndResume(): Promise<void> {
    let client = await start();
    const [projectId] = await client.call<string[]>('GET', '/cloud/project');
    const kube = `/cloud/project/${projectId}/kube`;
    const untilStatus = (id: string, status: string, timeoutMs: number) =>
      untilClusterStatus(client, kube, id, status, timeoutMs);

    const created = await client.call<Cluster>('POST', kube, { region: 'GRA7', name: 'restart' });
    await untilStatus(created.id, 'READY', 20_000);
    const { content } = await client.call<{ content: string }>('POST', `${kube}/${created.id}/kubeconfig`);
    k = new KubeAccess(content);
    const access = k;
    const readDaemonSet = () =>
      access.apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
    const oldHash = (await readDaemonSet()).spec?.template.metadata?.annotations?.[CONFIG_HASH];
    assert.ok(oldHash !== undefined, 'the installed config was rolled out through the template annotation');

    await client.call('PUT', `${kube}/${created.id}/customization`, {
      kubeProxy: { iptables: { minSyncPeriod: 'PT3S', syncPeriod: 'PT50S' } },
    });
    assert.equal((await client.call<Cluster>('GET', `${kube}/${created.id}`)).status, 'REDEPLOYING');

    // Kill the process as soon as exactly one pod of three runs the new config.
    const atKill = await waitFor(
      async () => {
        const ds = await readDaemonSet();
        const newHash = ds.spec?.template.metadata?.annotations?.[CONFIG_HASH];
        if (newHash === undefined || newHash === oldHash) return undefined;
        const pods = await access.kubeProxyPods();
        const fresh = pods.filter(
          (pod) => pod.metadata?.annotations?.[CONFIG_HASH] === newHash && isRunning(pod),
        );
        if (fresh.length !== 1) return undefined;
        await serve!.kill('SIGKILL');
        return { newHash, generation: ds.metadata!.generation!, fresh, pods };
      },
      { timeoutMs: 15_000, intervalMs: 50, what: 'one kube-proxy pod to run the new config' },
    );
    const oldAtKill = atKill.pods.filter(
      (pod) => pod.metadata?.annotations?.[CONFIG_HASH] !== atKill.newHash,
    );
    assert.ok(oldAtKill.length >= 1, 'killed in the middle of the rollout');

    client = await start();
    // Normally still REDEPLOYING; a machine slow to answer the first GET may already see the end.
    const resumed = await client.call<Cluster>('GET', `${kube}/${created.id}`);
    assert.ok(['REDEPLOYING', 'READY'].includes(resumed.status), resumed.status);
    const ready = await untilStatus(created.id, 'READY', 30_000);
    assert.equal(ready.statusMessage, null);
    assert.match(
      await access.kubectl('rollout', 'status', 'ds/kube-proxy', '-n', 'kube-system', '--timeout=20s'),
      /successfully rolled out/,
    );

    // The template was patched once for this config: same generation and hash as at the kill.
    const ds = await readDaemonSet();
    assert.equal(ds.metadata?.generation, atKill.generation);
    assert.equal(ds.spec?.template.metadata?.annotations?.[CONFIG_HASH], atKill.newHash);

    // Every pod runs the new config, all from that one template generation, and the pods that
    // were already new when the process died were not restarted again.
    const cm = await access.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
    const configConf = cm.data?.['config.conf'] ?? '';
    assert.match(configConf, /syncPeriod: 50s/);
    assert.match(configConf, /minSyncPeriod: 3s/);
    const pods: V1Pod[] = await access.kubeProxyPods();
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.ok(isRunning(pod), `${pod.metadata?.name} runs`);
      assert.equal(pod.metadata?.annotations?.['mks.ovh/loaded-config-hash'], configHash(configConf));
      assert.equal(pod.metadata?.annotations?.[CONFIG_HASH], atKill.newHash);
    }
    assert.deepEqual(
      [...new Set(pods.map((pod) => pod.metadata?.labels?.['pod-template-generation']))],
      [String(atKill.generation)],
    );
    const finalUids = new Set(pods.map((pod) => pod.metadata?.uid));
    for (const pod of oldAtKill) {
      assert.ok(!finalUids.has(pod.metadata?.uid), `${pod.metadata?.name}, old at the kill, was replaced`);
    }
    for (const pod of atKill.fresh) {
      assert.ok(finalUids.has(pod.metadata?.uid), `${pod.metadata?.name}, new before the kill, was kept`);
    }
  }
});
