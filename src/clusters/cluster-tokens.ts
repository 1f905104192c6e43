/**
 * A cluster's Kubernetes API token: derived, not stored, as HMAC(key, id, epoch). Resetting the
 * kubeconfig bumps the epoch, which invalidates every token issued before. The derivation, the
 * check of a presented token and the kubeconfig that carries it live here, once.
 *
 * No I/O and no database driver: the reconciler thread imports this to reach the clusters.
 */
import crypto from 'node:crypto';
import { stringify } from 'yaml';
import type { ClusterRecord } from './clusters.model.ts';

/** The token of cluster `clusterId` at kubeconfig epoch `epoch`. */
export type ClusterToken = (clusterId: string, epoch: number) => string;

/** The key cluster tokens derive from, itself derived from the installation key (a secret). */
export function kubeTokenKeyOf(installationKey: Buffer): Buffer {
  return crypto.createHmac('sha256', installationKey).update('mks kube tokens').digest();
}

/**
 * The Kubernetes API token of a cluster at a kubeconfig epoch, derived from `kubeTokenKey`:
 * `mks.<cluster id>.<MAC>`. The id lets the listener route a request that names neither the
 * cluster's server name nor its path (a client configured with the host and token alone).
 */
export function clusterTokens(kubeTokenKey: Buffer): ClusterToken {
  return (clusterId, epoch) =>
    `mks.${clusterId}.${crypto.createHmac('sha256', kubeTokenKey).update(`${clusterId}:${epoch}`).digest('base64url')}`;
}

/** The cluster a token names; undefined for any other text. Says nothing of the token's validity. */
export function clusterIdOfToken(token: string): string | undefined {
  return /^mks\.([0-9a-z][0-9a-z-]{0,62})\.[A-Za-z0-9_-]+$/.exec(token)?.[1];
}

/** The form tokens had before they named their cluster (`mks.<MAC>`), still accepted. */
const legacyForm = (token: string, clusterId: string): string => token.replace(`mks.${clusterId}.`, 'mks.');

/** Bound of the expected-token memory (past it, the memory starts again: it is only a cache). */
const MAX_REMEMBERED = 100_000;

/**
 * Checks the bearer token presented to a cluster's Kubernetes API against the cluster's current
 * epoch, in constant time. The expected token is computed once per (cluster, epoch): every call
 * of the clusters' Kubernetes API is checked, and an HMAC per call would cost more than the call.
 * A deleted cluster's own token still authenticates, so its API answers 404 (gone), not 401.
 */
export function clusterTokenCheck(
  clusterToken: ClusterToken,
  clusters: {
    get(
      clusterId: string,
    ): Promise<Pick<ClusterRecord, 'id' | 'tokenEpoch' | 'status' | 'deletedAt'> | undefined>;
  },
): (clusterId: string, token: string) => Promise<boolean> {
  const expectedTokens = new Map<string, readonly Buffer[]>();
  const expected = (clusterId: string, epoch: number): readonly Buffer[] => {
    const key = `${clusterId}:${epoch}`;
    let tokens = expectedTokens.get(key);
    if (tokens === undefined) {
      if (expectedTokens.size >= MAX_REMEMBERED) expectedTokens.clear();
      const token = clusterToken(clusterId, epoch);
      tokens = [Buffer.from(token), Buffer.from(legacyForm(token, clusterId))];
      expectedTokens.set(key, tokens);
    }
    return tokens;
  };
  return async (clusterId, token) => {
    const cluster = await clusters.get(clusterId);
    // From the moment its deletion is accepted, a cluster's token opens nothing.
    if (cluster === undefined || cluster.status === 'DELETING' || cluster.deletedAt !== null) return false;
    const given = Buffer.from(token);
    return expected(cluster.id, cluster.tokenEpoch).some(
      (wanted) => wanted.length === given.length && crypto.timingSafeEqual(wanted, given),
    );
  };
}

/**
 * The TLS server names of the clusters' Kubernetes API: one listener serves every cluster and
 * routes a connection by the name its client asked for (SNI), so a cluster's server URL has no
 * path and every absolute path a client builds (`kubectl get --raw /version`) reaches the cluster.
 * Cluster ids are UUIDs, which fit one DNS label; the certificate covers them with one wildcard.
 */
const SERVER_NAME_DOMAIN = 'clusters.mks.internal';

/** The name the listener's certificate is issued for, covering every cluster's server name. */
export const KUBE_SERVER_NAMES = `*.${SERVER_NAME_DOMAIN}`;

/** The TLS server name of a cluster's Kubernetes API (the kubeconfig's `tls-server-name`). */
export function kubeServerName(clusterId: string): string {
  return `${clusterId}.${SERVER_NAME_DOMAIN}`;
}

/** The cluster a TLS server name designates; undefined for any other name. */
export function clusterIdOfServerName(serverName: string): string | undefined {
  const suffix = `.${SERVER_NAME_DOMAIN}`;
  if (!serverName.toLowerCase().endsWith(suffix)) return undefined;
  const id = serverName.slice(0, -suffix.length).toLowerCase();
  return /^[0-9a-z][0-9a-z-]{0,62}$/.test(id) ? id : undefined;
}

/**
 * The kubeconfig of a cluster: its Kubernetes API (the listener's URL without a path, and the
 * cluster's server name), the CA to trust there, and its current token.
 */
export function renderKubeconfig(
  cluster: ClusterRecord,
  options: {
    readonly kubePublicUrl: string;
    readonly caPem: string | undefined;
    readonly token: ClusterToken;
  },
): string {
  const name = cluster.name === '' ? cluster.id : cluster.name;
  const user = `kubernetes-admin-${name}`;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: options.kubePublicUrl.replace(/\/+$/, ''),
          'tls-server-name': kubeServerName(cluster.id),
          ...(options.caPem === undefined
            ? {}
            : { 'certificate-authority-data': Buffer.from(options.caPem).toString('base64') }),
        },
      },
    ],
    contexts: [{ name: `${user}@${name}`, context: { cluster: name, user } }],
    'current-context': `${user}@${name}`,
    preferences: {},
    users: [{ name: user, user: { token: options.token(cluster.id, cluster.tokenEpoch) } }],
  });
}
