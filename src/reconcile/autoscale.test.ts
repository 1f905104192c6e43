import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { DEFAULT_AUTOSCALING, type NodePoolRecord } from '../clusters/nodepools.model.ts';
import { autoscale } from './autoscale.ts';

function pool(nodes: string[], overrides: Partial<NodePoolRecord> = {}): NodePoolRecord {
  return {
    id: 'p1',
    name: 'auto',
    flavor: 'b3-8',
    desiredNodes: nodes.length,
    minNodes: 1,
    maxNodes: 5,
    autoscale: true,
    antiAffinity: false,
    monthlyBilled: false,
    autoscaling: {
      ...DEFAULT_AUTOSCALING,
      scaleDownUnneededTimeSeconds: 60,
      scaleDownUnreadyTimeSeconds: 120,
    },
    template: {
      metadata: { labels: {}, annotations: {}, finalizers: [] },
      spec: { taints: [], unschedulable: false },
    },
    availabilityZones: [],
    attachFloatingIps: null,
    nodes: nodes.map((name) => ({ id: `id-${name}`, name, generation: 1, createdAt: '' })),
    status: 'INSTALLING',
    generation: 1,
    createdAt: '',
    updatedAt: '',
    ...overrides,
  };
}

function node(name: string, ready = true): V1Node {
  return {
    metadata: { name, labels: { nodepool: 'auto' } },
    status: {
      allocatable: { cpu: '4', memory: '8Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
    },
  };
}

function pod(name: string, cpu: string, nodeName?: string, controlled = false): V1Pod {
  return {
    metadata: {
      name,
      ...(controlled
        ? {
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'u', controller: true },
            ],
          }
        : {}),
    },
    spec: {
      ...(nodeName === undefined ? {} : { nodeName }),
      containers: [{ name: 'c', resources: { requests: { cpu } } }],
    },
    status:
      nodeName === undefined
        ? {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }],
          }
        : { phase: 'Running' },
  };
}

const NOW = 1_000_000;

test('unschedulable pods are packed onto new nodes of the pool, up to maxNodes', () => {
  const input = {
    pools: [pool(['n1'], { maxNodes: 3 })],
    nodes: [node('n1')],
    pods: [pod('a', '3'), pod('b', '3'), pod('c', '1'), pod('d', '1'), pod('busy', '3', 'n1')],
    unneededSince: new Map<string, number>(),
    now: NOW,
  };
  // 3+1 and 3+1 on two new nodes of 4 CPUs.
  assert.deepEqual(
    autoscale(input).resizes.map((r) => [r.desiredNodes, r.nodesToRemove]),
    [[3, []]],
  );
  const capped = autoscale({ ...input, pods: [...input.pods, pod('e', '3'), pod('f', '3')] });
  assert.equal(capped.resizes[0]?.desiredNodes, 3, 'never above maxNodes');
  const tooBig = autoscale({ ...input, pods: [pod('huge', '6')] });
  assert.deepEqual(tooBig.resizes, [], 'a pod no node of the pool could hold does not scale it');
  const tainted = autoscale({
    ...input,
    pools: [
      pool(['n1'], {
        template: {
          ...input.pools[0]!.template,
          spec: { taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }], unschedulable: false },
        },
      }),
    ],
  });
  assert.deepEqual(tainted.resizes, [], 'an untolerated taint of the pool keeps its pods out');
  assert.deepEqual(autoscale({ ...input, pools: [pool(['n1'], { autoscale: false })] }).resizes, []);
});

test('a node unneeded for scaleDownUnneededTimeSeconds goes, one at a time and not below minNodes', () => {
  const base = {
    pools: [pool(['n1', 'n2', 'n3'])],
    nodes: [node('n1'), node('n2'), node('n3')],
    pods: [pod('big', '3', 'n1')],
    now: NOW,
  };
  const first = autoscale({ ...base, unneededSince: new Map() });
  assert.deepEqual(first.resizes, [], 'just seen unneeded');
  assert.deepEqual([...first.unneededSince.keys()], ['n2', 'n3'], 'n1 is 75% used');
  const later = autoscale({ ...base, unneededSince: first.unneededSince, now: NOW + 60_000 });
  assert.deepEqual(
    later.resizes.map((r) => [r.desiredNodes, r.nodesToRemove]),
    [[2, ['id-n2']]],
  );
  assert.match(
    later.resizes[0]!.reason,
    /node n2 of pool auto was unneeded \(utilization 0\.00 < 0\.5\) for 60s/,
  );
  const atMin = autoscale({
    ...base,
    pools: [pool(['n1', 'n2', 'n3'], { minNodes: 3 })],
    unneededSince: first.unneededSince,
    now: NOW + 60_000,
  });
  assert.deepEqual(atMin.resizes, []);
});

test('a bare pod blocks its node; controlled pods move when they fit elsewhere; unready nodes go after their own time', () => {
  const since = new Map([['n2', NOW - 600_000]]);
  const nodes = [node('n1'), node('n2')];
  const bare = autoscale({
    pools: [pool(['n1', 'n2'])],
    nodes,
    pods: [pod('bare', '100m', 'n2')],
    unneededSince: since,
    now: NOW,
  });
  assert.deepEqual(bare.resizes, []);
  const controlled = autoscale({
    pools: [pool(['n1', 'n2'])],
    nodes,
    pods: [pod('rs', '100m', 'n2', true)],
    unneededSince: since,
    now: NOW,
  });
  assert.deepEqual(controlled.resizes[0]?.nodesToRemove, ['id-n2']);
  const full = autoscale({
    pools: [pool(['n1', 'n2'])],
    nodes,
    pods: [pod('rs', '1', 'n2', true), pod('fill', '3500m', 'n1')],
    unneededSince: since,
    now: NOW,
  });
  assert.deepEqual(full.resizes, [], 'its pods would not fit on the other nodes');
  const unready = [node('n1'), node('n2', false)];
  const soon = autoscale({
    pools: [pool(['n1', 'n2'])],
    nodes: unready,
    pods: [pod('x', '3', 'n1')],
    unneededSince: new Map([['n2', NOW - 100_000]]),
    now: NOW,
  });
  assert.deepEqual(soon.resizes, [], 'unready for 100 s of 120');
  const late = autoscale({
    pools: [pool(['n1', 'n2'])],
    nodes: unready,
    pods: [pod('x', '3', 'n1')],
    unneededSince: new Map([['n2', NOW - 120_000]]),
    now: NOW,
  });
  assert.match(late.resizes[0]?.reason ?? '', /node n2 of pool auto was not Ready for 120s/);
});
