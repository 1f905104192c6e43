import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1DaemonSet, V1Node, V1Pod } from '@kubernetes/client-node';
import { newPool } from '../clusters/nodepools.ts';
import {
  apiServerFlagsOf,
  CONFIG_HASH_ANNOTATION,
  nodesOf,
  onRolloutFailure,
  outdatedNodes,
  plan,
  rollbackTargetOf,
  rolloutState,
} from './plan.ts';

const desired = {
  configConf: 'mode: ipvs\n',
  configHash: 'abc',
  apiServerFlags: ['--enable-admission-plugins=NodeRestriction'],
};

test('nothing is planned when the cluster already runs the desired config and flags', () => {
  assert.deepEqual(
    plan(desired, {
      configConf: 'mode: ipvs\n',
      templateHash: 'abc',
      apiServerFlags: ['--enable-admission-plugins=NodeRestriction'],
    }),
    { erase: false, applyConfig: false, restart: false, setApiServerFlags: false },
  );
});

test('a changed config is applied and kube-proxy restarted; changed flags alone restart nothing', () => {
  assert.deepEqual(
    plan(desired, {
      configConf: 'mode: iptables\n',
      templateHash: 'old',
      apiServerFlags: desired.apiServerFlags,
    }),
    {
      erase: false,
      applyConfig: true,
      restart: true,
      setApiServerFlags: false,
    },
  );
  assert.deepEqual(
    plan(desired, { configConf: desired.configConf, templateHash: 'abc', apiServerFlags: [] }),
    {
      erase: false,
      applyConfig: false,
      restart: false,
      setApiServerFlags: true,
    },
  );
});

test('a config applied before a crash is not restarted twice: only the missing restart is planned', () => {
  assert.deepEqual(
    plan(desired, {
      configConf: desired.configConf,
      templateHash: 'old',
      apiServerFlags: desired.apiServerFlags,
    }),
    {
      erase: false,
      applyConfig: false,
      restart: true,
      setApiServerFlags: false,
    },
  );
});

test('a reset not yet erased for its generation plans the erase (and its stamp) alone', () => {
  const reset = { ...desired, resetGeneration: '4' };
  const running = {
    configConf: desired.configConf,
    templateHash: 'abc',
    apiServerFlags: desired.apiServerFlags,
  };
  const erase = { erase: true, applyConfig: true, restart: false, setApiServerFlags: false };
  assert.deepEqual(plan(reset, running), erase, 'never erased');
  assert.deepEqual(plan(reset, { ...running, resetGeneration: '3' }), erase, 'erased for an earlier reset');
});

test('a reset already erased for its generation is not erased again: only what differs is planned', () => {
  const reset = { ...desired, resetGeneration: '4' };
  assert.deepEqual(
    plan(reset, {
      configConf: desired.configConf,
      templateHash: 'base',
      apiServerFlags: [],
      resetGeneration: '4',
    }),
    { erase: false, applyConfig: false, restart: true, setApiServerFlags: true },
  );
  assert.equal(
    plan(desired, {
      configConf: 'mode: iptables\n',
      templateHash: 'abc',
      apiServerFlags: [],
      resetGeneration: '3',
    }).erase,
    false,
    'an annotation left by an earlier reset erases nothing outside a reset',
  );
});

function daemonSet(
  generation: number,
  observed: number,
  desiredCount: number,
  updated: number,
  available: number,
): V1DaemonSet {
  return {
    metadata: { generation },
    status: {
      observedGeneration: observed,
      desiredNumberScheduled: desiredCount,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      currentNumberScheduled: desiredCount,
      numberMisscheduled: 0,
      numberReady: available,
    },
  };
}

function pod(name: string, node: string, hash: string, waiting?: string, message?: string): V1Pod {
  return {
    metadata: { name, annotations: { [CONFIG_HASH_ANNOTATION]: hash } },
    spec: { nodeName: node, containers: [] },
    status: {
      containerStatuses: [
        {
          name: 'kube-proxy',
          image: 'kube-proxy',
          imageID: '',
          ready: waiting === undefined,
          restartCount: waiting === undefined ? 0 : 3,
          state: waiting === undefined ? { running: {} } : { waiting: { reason: waiting } },
          ...(message === undefined ? {} : { lastState: { terminated: { exitCode: 1, message } } }),
        },
      ],
    },
  };
}

test('a rollout is done only when the spec is observed and every pod is updated and available', () => {
  assert.equal(rolloutState(daemonSet(2, 1, 3, 3, 3), []).done, false, 'spec not observed yet');
  assert.equal(rolloutState(daemonSet(2, 2, 3, 2, 3), []).done, false, 'one pod not updated');
  assert.equal(rolloutState(daemonSet(2, 2, 3, 3, 2), []).done, false, 'one pod not available');
  assert.equal(rolloutState(daemonSet(2, 2, 3, 3, 3), []).done, true);
});

test("a crash-looping pod of the new config is reported with its node and kube-proxy's reason", () => {
  const pods = [
    pod('kube-proxy-a', 'node-0', 'abc'),
    pod(
      'kube-proxy-b',
      'node-1',
      'abc',
      'CrashLoopBackOff',
      'failed complete: time: invalid duration "PT30S"',
    ),
  ];
  const state = rolloutState(daemonSet(2, 2, 3, 2, 1), pods, 'abc');
  assert.match(state.failure ?? '', /node-1.*kube-proxy-b.*CrashLoopBackOff.*invalid duration "PT30S"/);
  assert.equal(
    rolloutState(daemonSet(2, 2, 3, 2, 1), pods, 'other').failure,
    undefined,
    'old pods are not blamed on a new config',
  );
});

test('a pod of the new config not ready within the bound fails the rollout; an older or ready one does not', () => {
  const created = new Date('2026-01-01T00:00:00Z');
  const starting: V1Pod = {
    metadata: {
      name: 'kube-proxy-c',
      creationTimestamp: created,
      annotations: { [CONFIG_HASH_ANNOTATION]: 'abc' },
    },
    spec: { nodeName: 'node-2', containers: [] },
    status: { phase: 'Pending', conditions: [{ type: 'Ready', status: 'False' }] },
  };
  const at = (ms: number) => ({ now: created.getTime() + ms, timeoutMs: 60_000 });
  const ds = daemonSet(2, 2, 3, 3, 2);
  assert.equal(rolloutState(ds, [starting], 'abc', at(60_000)).failure, undefined, 'within the bound');
  assert.equal(
    rolloutState(ds, [starting], 'abc', at(61_000)).failure,
    'kube-proxy on node node-2 (pod kube-proxy-c) is not ready 61s after it was created (the bound is 60s)',
  );
  assert.equal(rolloutState(ds, [starting], 'other', at(61_000)).failure, undefined, 'another config');
  assert.equal(rolloutState(ds, [starting], undefined, at(61_000)).failure, undefined, 'not a rollout');
  const ready = { ...starting, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  assert.equal(rolloutState(ds, [ready], 'abc', at(600_000)).failure, undefined, 'ready');
});

function row(
  generation: number,
  action: string,
  outcome: string | null,
  customization: object = {},
  source: number | null = null,
) {
  return {
    generation,
    action: action as 'customize',
    outcome,
    source_generation: source,
    kube_proxy_mode: 'ipvs',
    customization: JSON.stringify(customization),
  };
}

test('the rollback target is the newest earlier generation whose outcome was READY, and then the one rolled back to', () => {
  const rows = [
    row(1, 'create', 'READY', { a: 1 }),
    row(2, 'customize', 'READY', { a: 2 }),
    row(2, 'drift', null),
    row(3, 'customize', 'ERROR', { a: 3 }),
    row(4, 'customize', null, { a: 4 }),
  ];
  assert.deepEqual(rollbackTargetOf(rows, 4), {
    generation: 2,
    kubeProxyMode: 'ipvs',
    customization: { a: 2 },
    rolledBack: false,
  });
  assert.equal(rollbackTargetOf(rows.slice(0, 1), 1), undefined, 'nothing earlier was READY');
  const rolledBack = [...rows, row(4, 'rollback', null, { a: 4 }, 2)];
  assert.deepEqual(rollbackTargetOf(rolledBack, 4), {
    generation: 2,
    kubeProxyMode: 'ipvs',
    customization: { a: 2 },
    rolledBack: true,
  });
  // A new generation is no longer rolled back: its candidate is computed afresh.
  assert.equal(rollbackTargetOf([...rolledBack, row(5, 'customize', null, { a: 5 })], 5)?.rolledBack, false);
});

test('a failing rollout rolls back only when it is on, not yet done, and the target is another config', () => {
  const target = { generation: 1, kubeProxyMode: 'ipvs' as const, customization: {}, configHash: 'old' };
  assert.equal(onRolloutFailure(true, 'new', { ...target, rolledBack: false }), 'roll-back');
  assert.equal(onRolloutFailure(false, 'new', { ...target, rolledBack: false }), 'stop');
  assert.equal(onRolloutFailure(true, 'new', undefined), 'stop');
  assert.equal(onRolloutFailure(true, 'old', { ...target, rolledBack: false }), 'stop');
  assert.equal(onRolloutFailure(true, 'new', { ...target, rolledBack: true }), 'stop');
});

test('the admission flags of the kube-apiserver pod are read from its command, sorted', () => {
  const apiServer: V1Pod = {
    spec: {
      containers: [
        {
          name: 'kube-apiserver',
          command: [
            'kube-apiserver',
            '--disable-admission-plugins=AlwaysPullImages',
            '--enable-admission-plugins=NodeRestriction',
            '--v=2',
          ],
        },
      ],
    },
  };
  assert.deepEqual(apiServerFlagsOf(apiServer), [
    '--disable-admission-plugins=AlwaysPullImages',
    '--enable-admission-plugins=NodeRestriction',
  ]);
  assert.equal(apiServerFlagsOf(undefined), undefined);
});

test('the OIDC flags are managed flags too; other flags are not', () => {
  const pod: V1Pod = {
    spec: {
      containers: [
        {
          name: 'kube-apiserver',
          command: ['kube-apiserver', '--oidc-issuer-url=https://issuer', '--oidc-client-id=mks', '--v=2'],
        },
      ],
    },
  };
  assert.deepEqual(apiServerFlagsOf(pod), ['--oidc-client-id=mks', '--oidc-issuer-url=https://issuer']);
});

test("every pool's nodes are asked for, with the pool's template; a pool being deleted asks for none", () => {
  const change = { generation: 2, now: 'T' };
  const front = newPool(
    {
      name: 'front',
      flavorName: 'b3-16',
      desiredNodes: 2,
      template: {
        metadata: { labels: { tier: 'front' } },
        spec: { taints: [{ key: 'k', effect: 'NoSchedule' }] },
      },
    },
    [],
    change,
  );
  const gone = {
    ...newPool({ name: 'gone', desiredNodes: 1 }, [front], change),
    nodes: [],
    status: 'DELETING' as const,
  };
  const nodes = nodesOf({ nodePools: [front, gone] });
  assert.deepEqual(
    nodes.map((node) => node.name),
    front.nodes.map((node) => node.name),
  );
  assert.deepEqual(nodes[0], {
    name: front.nodes[0]!.name,
    pool: 'front',
    flavor: 'b3-16',
    labels: { tier: 'front' },
    annotations: {},
    taints: [{ key: 'k', value: '', effect: 'NoSchedule' }],
    unschedulable: false,
  });
});

test('outdated nodes are those whose kubelet is not on the version, by name', () => {
  const node = (name: string, version: string): V1Node => ({
    metadata: { name },
    status: { nodeInfo: { kubeletVersion: `v${version}` } as NonNullable<V1Node['status']>['nodeInfo'] },
  });
  assert.deepEqual(outdatedNodes([node('b', '1.33.6'), node('a', '1.33.6'), node('c', '1.34.2')], '1.34.2'), [
    'a',
    'b',
  ]);
  assert.deepEqual(outdatedNodes([node('c', '1.34.2')], '1.34.2'), []);
});
