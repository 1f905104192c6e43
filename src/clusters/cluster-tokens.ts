/**
 * A cluster's Kubernetes API token: derived, not stored, as HMAC(key, id, epoch). Resetting the
 * kubeconfig bumps the epoch, which invalidates every token issued before. The derivation, the
 * check of a presented token and the kubeconfig that carries it live here, once.
 *
 * No I/O and no database driver: the reconciler thread imports this to reach the clusters.
 */

import crypto from 'node:crypto';
import { stringify } from 'yaml';
import { BoundedMap } from '../bounded-map.ts';
import type { ClusterRecord } from './clusters.model.ts';
import { isAllowed } from './ip-restrictions.ts';

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
 */
export function clusterTokenCheck(
  clusterToken: ClusterToken,
  clusters: {
    get(
      clusterId: string,
    ): Promise<Pick<ClusterRecord, 'id' | 'tokenEpoch' | 'status' | 'deletedAt'> | undefined>;
  },
): (clusterId: string, token: string) => Promise<boolean> {
  const matches = tokenMatcher(clusterToken);
  return async (clusterId, token) => {
    const cluster = await clusters.get(clusterId);
    if (cluster === undefined || isDeletedOrDeleting(cluster)) return false;
    return matches(cluster.id, cluster.tokenEpoch, token);
  };
}

/** From the moment its deletion is accepted, a cluster's tokens open nothing. */
function isDeletedOrDeleting(cluster: Pick<ClusterRecord, 'status' | 'deletedAt'>): boolean {
  return cluster.status === 'DELETING' || cluster.deletedAt !== null;
}

/**
 * Whether `token` is cluster `clusterId`'s at `epoch` (or its former form), in constant time. The
 * expected tokens are computed once per (cluster, epoch): an HMAC per call would cost more than
 * the call. They are kept as strings, made bytes for the comparison only: a small `Buffer` kept
 * for long would hold the whole 8 KiB slab of node's buffer pool it was cut from (at 10,000
 * clusters, about 9 MiB of slabs for 20,000 tokens; docs/performance.md, "Memory").
 */
function tokenMatcher(
  clusterToken: ClusterToken,
): (clusterId: string, epoch: number, token: string) => boolean {
  const expectedTokens = new BoundedMap<string, string>(MAX_REMEMBERED);
  return (clusterId, epoch, token) => {
    const key = `${clusterId}:${epoch}`;
    let expected = expectedTokens.get(key);
    if (expected === undefined) {
      expected = clusterToken(clusterId, epoch);
      expectedTokens.set(key, expected);
    }
    const given = Buffer.from(token);
    // Lengths in bytes: a token is ASCII when it is one of these, but the given one may not be.
    const is = (wanted: string) =>
      Buffer.byteLength(wanted) === given.length && crypto.timingSafeEqual(Buffer.from(wanted), given);
    return is(expected) || is(legacyForm(expected, clusterId));
  };
}

/**
 * The epoch of mks's own token for a cluster (the reconciler's): never handed out in a
 * kubeconfig (those start at epoch 1), not invalidated by a kubeconfig reset, and not subject to
 * the cluster's IP restrictions, as OVH's control plane is not. Like every token of the cluster, it
 * opens nothing once the cluster's deletion is accepted.
 */
export const SYSTEM_TOKEN_EPOCH = 0;

/** What the cluster's Kubernetes API makes of a caller. */
export type AccessVerdict = 'allowed' | 'unauthorized' | 'forbidden';

/**
 * Checks a caller of a cluster's Kubernetes API with one read of the cluster: mks's system token
 * is allowed from anywhere; a kubeconfig's token must come from an address the cluster's IP
 * restrictions allow (403 otherwise, the token being valid).
 */
export function clusterAccessCheck(
  clusterToken: ClusterToken,
  clusters: {
    get(
      clusterId: string,
    ): Promise<
      Pick<ClusterRecord, 'id' | 'tokenEpoch' | 'status' | 'deletedAt' | 'ipRestrictions'> | undefined
    >;
  },
): (clusterId: string, token: string, clientIp: string) => Promise<AccessVerdict> {
  const matches = tokenMatcher(clusterToken);
  return async (clusterId, token, clientIp) => {
    const cluster = await clusters.get(clusterId);
    if (cluster === undefined || isDeletedOrDeleting(cluster)) return 'unauthorized';
    if (matches(cluster.id, SYSTEM_TOKEN_EPOCH, token)) return 'allowed';
    if (!matches(cluster.id, cluster.tokenEpoch, token)) return 'unauthorized';
    return isAllowed(cluster.ipRestrictions, clientIp) ? 'allowed' : 'forbidden';
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
