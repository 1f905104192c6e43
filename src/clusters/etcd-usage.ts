/**
 * `cloud.kube.EtcdUsage`: how much of its etcd quota a cluster uses. Pure: the usage is measured
 * where the cluster's objects are stored (the emulator), the quota follows OVH's rule unless the
 * installation fixes one.
 */
import type { ClusterRecord } from './clusters.model.ts';
import { livePools } from './nodepools.ts';

const MB = 1024 * 1024;

/**
 * OVH's quota (its "etcd quota error" guide): 10 MB, plus 25 MB per node, at most 200 MB.
 * `fixedBytes` (MKS_ETCD_QUOTA_BYTES) replaces it for every cluster when set (above 0).
 */
export function etcdQuota(cluster: ClusterRecord, fixedBytes: number): number {
  if (fixedBytes > 0) return fixedBytes;
  const nodes = livePools(cluster.nodePools, cluster).reduce((sum, pool) => sum + pool.nodes.length, 0);
  return Math.min(10 * MB + 25 * MB * nodes, 200 * MB);
}

export const etcdUsageSchema = {
  type: 'object',
  properties: {
    quota: { type: 'integer', description: 'Bytes the cluster may store' },
    usage: {
      type: 'integer',
      description: "Bytes the cluster's objects take: each key and its value, as etcd counts them",
    },
  },
} as const;
