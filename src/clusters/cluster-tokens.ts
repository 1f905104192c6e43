/**
 * A cluster's Kubernetes API token: derived, not stored, as HMAC(key, id, epoch). Resetting the
 * kubeconfig bumps the epoch, which invalidates every token issued before. The derivation, the
 * check of a presented token and the kubeconfig that carries it live here, once.
 *
 * No I/O and no database driver: the reconciler thread imports this to reach the clusters.
 */
import crypto from 'node:crypto';
import { stringify } from 'yaml';
import { type ClusterRecord, kubernetesApiUrl } from './clusters.model.ts';
import { isAllowed } from './ip-restrictions.ts';

/** The token of cluster `clusterId` at kubeconfig epoch `epoch`. */
export type ClusterToken = (clusterId: string, epoch: number) => string;

/** The key cluster tokens derive from, itself derived from the installation key (a secret). */
export function kubeTokenKeyOf(installationKey: Buffer): Buffer {
  return crypto.createHmac('sha256', installationKey).update('mks kube tokens').digest();
}

/** The Kubernetes API token of a cluster at a kubeconfig epoch, derived from `kubeTokenKey`. */
export function clusterTokens(kubeTokenKey: Buffer): ClusterToken {
  return (clusterId, epoch) =>
    `mks.${crypto.createHmac('sha256', kubeTokenKey).update(`${clusterId}:${epoch}`).digest('base64url')}`;
}

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
  clusters: { get(clusterId: string): Promise<Pick<ClusterRecord, 'id' | 'tokenEpoch'> | undefined> },
): (clusterId: string, token: string) => Promise<boolean> {
  const expectedTokens = new Map<string, Buffer>();
  const expected = (clusterId: string, epoch: number): Buffer => {
    const key = `${clusterId}:${epoch}`;
    let token = expectedTokens.get(key);
    if (token === undefined) {
      if (expectedTokens.size >= MAX_REMEMBERED) expectedTokens.clear();
      token = Buffer.from(clusterToken(clusterId, epoch));
      expectedTokens.set(key, token);
    }
    return token;
  };
  return async (clusterId, token) => {
    const cluster = await clusters.get(clusterId);
    if (cluster === undefined) return false;
    const wanted = expected(cluster.id, cluster.tokenEpoch);
    const given = Buffer.from(token);
    return wanted.length === given.length && crypto.timingSafeEqual(wanted, given);
  };
}

/**
 * The epoch of mks's own token for a cluster (the reconciler's): never handed out in a
 * kubeconfig (those start at epoch 1), not invalidated by a kubeconfig reset, and not subject to
 * the cluster's IP restrictions, as OVH's control plane is not.
 */
export const SYSTEM_TOKEN_EPOCH = 0;

/** What the cluster's Kubernetes API makes of a caller. */
export type AccessVerdict = 'allowed' | 'unauthorized' | 'forbidden';

/**
 * Checks a caller of a cluster's Kubernetes API: mks's system token is allowed from anywhere; a
 * kubeconfig's token (clusterTokenCheck) must come from an address the cluster's IP restrictions
 * allow (403 otherwise, the token being valid).
 */
export function clusterAccessCheck(
  clusterToken: ClusterToken,
  clusters: {
    get(clusterId: string): Promise<Pick<ClusterRecord, 'id' | 'tokenEpoch' | 'ipRestrictions'> | undefined>;
  },
): (clusterId: string, token: string, clientIp: string) => Promise<AccessVerdict> {
  const userToken = clusterTokenCheck(clusterToken, clusters);
  const systemToken = clusterTokenCheck(clusterToken, {
    get: async (clusterId) => ({ id: clusterId, tokenEpoch: SYSTEM_TOKEN_EPOCH }),
  });
  return async (clusterId, token, clientIp) => {
    if (await systemToken(clusterId, token)) return 'allowed';
    if (!(await userToken(clusterId, token))) return 'unauthorized';
    const cluster = await clusters.get(clusterId);
    return cluster === undefined || isAllowed(cluster.ipRestrictions, clientIp) ? 'allowed' : 'forbidden';
  };
}

/** The kubeconfig of a cluster: its Kubernetes API, the CA to trust there, and its current token. */
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
          server: kubernetesApiUrl(options.kubePublicUrl, cluster.id),
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
