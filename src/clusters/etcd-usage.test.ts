import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INSTALLING } from './cluster-status.ts';
import type { ClusterRecord } from './clusters.model.ts';
import { etcdQuota } from './etcd-usage.ts';
import type { NodePoolRecord } from './nodepools.model.ts';

const MIB = 1024 * 1024;

function clusterWith(nodesPerPool: number[]): ClusterRecord {
  const pools = nodesPerPool.map(
    (count, index) =>
      ({
        id: `p${index}`,
        name: `pool${index}`,
        status: 'READY',
        generation: 1,
        nodes: Array.from({ length: count }, (_, n) => ({
          id: `n${index}-${n}`,
          name: `pool${index}-node-${n}`,
        })),
      }) as unknown as NodePoolRecord,
  );
  return {
    ...INSTALLING,
    status: 'READY',
    generation: 1,
    observedGeneration: 0,
    nodePools: pools,
  } as unknown as ClusterRecord;
}

test("OVH's etcd quota: 10 MB plus 25 MB per node, at most 200 MB; an installation setting replaces it", () => {
  assert.equal(etcdQuota(clusterWith([]), 0), 10 * MIB);
  assert.equal(etcdQuota(clusterWith([3]), 0), 85 * MIB);
  assert.equal(etcdQuota(clusterWith([2, 3]), 0), 135 * MIB);
  assert.equal(etcdQuota(clusterWith([4, 4]), 0), 200 * MIB, '210 MB capped');
  assert.equal(etcdQuota(clusterWith([2, 3]), 64 * MIB), 64 * MIB);
});
