/**
 * Talking to a cluster's Kubernetes API in tests the way users do: real kubectl (`kubectl.ts`) with
 * the kubeconfig that `POST /kube/{id}/kubeconfig` returned (written to a temporary file), raw HTTPS
 * for status codes, and @kubernetes/client-node for fast polling while a rollout moves.
 */
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { ApiClient } from '../../src/client/api-client.ts';
import { kubectl } from './kubectl.ts';

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface KubeconfigFile {
  clusters: Array<{
    cluster: { server: string; 'tls-server-name'?: string; 'certificate-authority-data'?: string };
  }>;
  users: Array<{ user: { token: string } }>;
}

/**
 * The kubeconfig directories of this test process not closed yet (a kubeconfig holds the cluster's
 * bearer token): removed when the process exits, so a test that forgets `close()`, or fails before
 * it, leaves none behind. Each test file runs in a process of its own.
 */
const OPEN_DIRS = new Set<string>();
process.once('exit', () => {
  for (const dir of OPEN_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

export class KubeAccess {
  readonly dir: string;
  readonly file: string;
  readonly server: string;
  /** The cluster's TLS server name (`tls-server-name`), which the listener routes by. */
  readonly serverName: string | undefined;
  readonly token: string;
  readonly ca: Buffer | undefined;
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;

  constructor(kubeconfig: string) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-kubectl-'));
    OPEN_DIRS.add(this.dir);
    this.file = path.join(this.dir, 'kubeconfig');
    fs.writeFileSync(this.file, kubeconfig, { mode: 0o600 });
    const parsed = parse(kubeconfig) as KubeconfigFile;
    this.server = parsed.clusters[0]!.cluster.server;
    this.serverName = parsed.clusters[0]!.cluster['tls-server-name'];
    this.token = parsed.users[0]!.user.token;
    const caData = parsed.clusters[0]!.cluster['certificate-authority-data'];
    this.ca = caData === undefined ? undefined : Buffer.from(caData, 'base64');
    const kc = new KubeConfig();
    kc.loadFromString(kubeconfig);
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
  }

  /** Runs kubectl with this kubeconfig; never rejects on a non-zero exit (see `code`). */
  async run(args: readonly string[], timeoutMs = 30_000): Promise<KubectlResult> {
    const result = await kubectl(args, {
      kubeconfig: this.file,
      cacheDir: path.join(this.dir, 'cache'),
      timeoutMs,
    });
    if (result.code === null)
      throw new Error(`kubectl ${args.join(' ')}: killed by ${result.signal}\n${result.stderr}`);
    return { code: result.code, stdout: result.stdout, stderr: result.stderr };
  }

  /** Runs kubectl and returns its stdout; rejects with stderr on a non-zero exit. */
  async kubectl(...args: string[]): Promise<string> {
    const result = await this.run(args);
    if (result.code !== 0)
      throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return result.stdout;
  }

  /**
   * `kubectl rollout status` of the kube-proxy DaemonSet: kubectl's own watch of the rollout, for at
   * most `timeoutSeconds`. Never rejects on a non-zero exit (see `code`).
   */
  rolloutStatus(timeoutSeconds: number): Promise<KubectlResult> {
    return this.run(
      ['rollout', 'status', 'ds/kube-proxy', '-n', 'kube-system', `--timeout=${timeoutSeconds}s`],
      (timeoutSeconds + 10) * 1000,
    );
  }

  /**
   * `kubectl patch` of the kube-proxy ConfigMap's `config.conf` (`type`: kubectl's `--type`, whose
   * default is `strategic`); kubectl's output.
   */
  patchConfigConf(text: string, type: 'strategic' | 'merge' = 'strategic'): Promise<string> {
    const patch = JSON.stringify({ data: { 'config.conf': text } });
    return this.kubectl('patch', 'cm', 'kube-proxy', '-n', 'kube-system', '--type', type, '-p', patch);
  }

  async json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    return JSON.parse(await this.kubectl(...args, '-o', 'json')) as T;
  }

  /** A raw HTTPS GET of `apiPath` under the cluster's server URL; the bearer token unless `token` says otherwise. */
  status(apiPath: string, token: string | null = this.token): Promise<{ status: number; body: string }> {
    return kubeGet(
      `${this.server}${apiPath}`,
      {
        ca: this.ca?.toString('utf8'),
        serverName: this.serverName,
        token: token ?? undefined,
        insecure: this.ca === undefined,
      },
      10_000,
    );
  }

  async kubeProxyPods(): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: 'kube-system',
      labelSelector: 'k8s-app=kube-proxy',
    });
    return list.items;
  }

  close(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    OPEN_DIRS.delete(this.dir);
  }
}

/** Whether a pod's container is running and ready. */
export function isRunning(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.containerStatuses ?? []).every(
      (status) => status.ready && status.state?.running !== undefined,
    )
  );
}

/** Access to cluster `id` with the kubeconfig `POST <kubePath>/<id>/kubeconfig` hands out; close it after. */
export async function clusterAccess(client: ApiClient, kubePath: string, id: string): Promise<KubeAccess> {
  const { content } = await client.call<{ content: string }>('POST', `${kubePath}/${id}/kubeconfig`);
  return new KubeAccess(content);
}

/** One HTTPS GET of `url` with a CA, TLS server name and bearer token (each optional): status and body. */
export function kubeGet(
  url: string,
  access: {
    readonly ca: string | undefined;
    readonly serverName: string | undefined;
    readonly token: string | undefined;
    readonly insecure: boolean;
  },
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      {
        ...(access.ca === undefined ? {} : { ca: access.ca }),
        ...(access.serverName === undefined ? {} : { servername: access.serverName }),
        rejectUnauthorized: !access.insecure,
        headers: {
          Accept: 'application/json',
          ...(access.token === undefined ? {} : { Authorization: `Bearer ${access.token}` }),
        },
        timeout: timeoutMs,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}
