/**
 * Reads the kube-proxy rollout of a cluster from its own Kubernetes API, with the kubeconfig mks
 * hands out (`POST …/kubeconfig`): one plain HTTPS GET of the DaemonSet, trusting the
 * kubeconfig's CA and sending its bearer token. No Kubernetes client library in the CLI.
 */
import https from 'node:https';
import { parse } from 'yaml';

export interface KubeAccess {
  readonly server: string;
  /** The TLS server name the cluster is reached by (`tls-server-name`), when the kubeconfig sets one. */
  readonly serverName: string | undefined;
  readonly ca: string | undefined;
  readonly token: string | undefined;
  readonly insecure: boolean;
}

export interface KubeProxyRollout {
  /** `metadata.generation`: bumped when a new config restarts kube-proxy. */
  readonly generation: number;
  readonly observedGeneration: number;
  /** Nodes that should run kube-proxy. */
  readonly desired: number;
  /** Nodes already running the current pod template. */
  readonly updated: number;
  readonly available: number;
}

interface Named<T> {
  name?: string;
  cluster?: T;
  user?: T;
  context?: T;
}

/** The current context's server, CA and token; undefined when the kubeconfig has none. */
export function kubeAccess(kubeconfig: string): KubeAccess | undefined {
  const config = parse(kubeconfig) as {
    'current-context'?: string;
    contexts?: Named<{ cluster?: string; user?: string }>[];
    clusters?: Named<{
      server?: string;
      'tls-server-name'?: string;
      'certificate-authority-data'?: string;
      'insecure-skip-tls-verify'?: boolean;
    }>[];
    users?: Named<{ token?: string }>[];
  } | null;
  const context = config?.contexts?.find((c) => c.name === config['current-context'])?.context;
  const cluster = config?.clusters?.find((c) => c.name === context?.cluster)?.cluster;
  const user = config?.users?.find((u) => u.name === context?.user)?.user;
  if (cluster?.server === undefined) return undefined;
  const caData = cluster['certificate-authority-data'];
  return {
    server: cluster.server.replace(/\/+$/, ''),
    serverName: cluster['tls-server-name'],
    ca: caData === undefined ? undefined : Buffer.from(caData, 'base64').toString('utf8'),
    token: user?.token,
    insecure: cluster['insecure-skip-tls-verify'] === true,
  };
}

/** The kube-proxy DaemonSet's rollout, or undefined when it does not exist (yet). */
export async function readKubeProxyRollout(
  access: KubeAccess,
  timeoutMs = 3_000,
): Promise<KubeProxyRollout | undefined> {
  const url = `${access.server}/apis/apps/v1/namespaces/kube-system/daemonsets/kube-proxy`;
  const { status, body } = await kubeGet(url, access, timeoutMs);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET ${url}: HTTP ${status}`);
  const ds = JSON.parse(body) as {
    metadata?: { generation?: number };
    status?: {
      observedGeneration?: number;
      desiredNumberScheduled?: number;
      updatedNumberScheduled?: number;
      numberAvailable?: number;
    };
  };
  return {
    generation: ds.metadata?.generation ?? 0,
    observedGeneration: ds.status?.observedGeneration ?? 0,
    desired: ds.status?.desiredNumberScheduled ?? 0,
    updated: ds.status?.updatedNumberScheduled ?? 0,
    available: ds.status?.numberAvailable ?? 0,
  };
}

/** One HTTPS GET of `url` with the access's CA and bearer token (none when undefined): status and body. */
export function kubeGet(
  url: string,
  access: Pick<KubeAccess, 'ca' | 'serverName' | 'token' | 'insecure'>,
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
