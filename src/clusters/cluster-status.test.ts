import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  applied,
  deleted,
  failed,
  INSTALLING,
  isResetting,
  isRestarting,
  nextGeneration,
  reconcilerTask,
  reportsReady,
} from './cluster-status.ts';
import { clusterTokenCheck, clusterTokens } from './cluster-tokens.ts';
import type { ClusterRecord, ClusterStatus } from './clusters.model.ts';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:01:00.000Z';

const cluster: ClusterRecord = Object.freeze({
  id: 'c1',
  projectId: 'p1',
  name: 'one',
  region: 'GRA7',
  version: '1.31',
  updatePolicy: 'ALWAYS_UPDATE',
  kubeProxyMode: 'iptables',
  customization: {},
  nodePools: [],
  ipRestrictions: [],
  openIdConnect: null,
  plan: 'free',
  privateNetworkId: null,
  nodesSubnetId: null,
  loadBalancersSubnetId: null,
  privateNetworkConfiguration: null,
  ...INSTALLING,
  tokenEpoch: 1,
  createdAt: T0,
  updatedAt: T0,
  deletedAt: null,
});

test('a customization during installation or reset keeps that status; otherwise it redeploys', () => {
  const installing = nextGeneration(cluster, 'customize', { name: 'renamed' }, T1);
  assert.equal(installing.status, 'INSTALLING');
  assert.equal(installing.generation, 2);
  assert.equal(installing.name, 'renamed');
  assert.equal(installing.updatedAt, T1);
  const ready = { ...cluster, status: 'READY' as const, statusMessage: null };
  assert.equal(nextGeneration(ready, 'customize', {}, T1).status, 'REDEPLOYING');
  assert.equal(nextGeneration({ ...cluster, status: 'RESETTING' }, 'customize', {}, T1).status, 'RESETTING');
  assert.equal(
    nextGeneration({ ...cluster, status: 'ERROR', statusMessage: 'x' }, 'reset', {}, T1).statusMessage,
    null,
  );
  assert.equal(nextGeneration(ready, 'reset', {}, T1).status, 'RESETTING');
  assert.equal(nextGeneration(ready, 'delete', {}, T1).status, 'DELETING');
});

test('a restart redeploys a READY cluster, folds into a change in progress, and is made until observed', () => {
  const ready = { ...cluster, status: 'READY' as const, generation: 4, observedGeneration: 4 };
  const restarting = nextGeneration(ready, 'restart', { restartGeneration: 5 }, T1);
  assert.equal(restarting.status, 'REDEPLOYING');
  assert.equal(isRestarting(restarting), true);
  for (const status of ['INSTALLING', 'RESETTING', 'UPDATING'] as const)
    assert.equal(nextGeneration({ ...ready, status }, 'restart', {}, T1).status, status);
  // A change made meanwhile does not cancel it; once its generation is observed, it is made.
  const folded = nextGeneration(restarting, 'customize', {}, T1);
  assert.equal(isRestarting(folded), true);
  assert.equal(isRestarting(applied(folded, 6, 'READY', null, T1)), false);
  assert.equal(isRestarting(ready), false, 'never restarted: restartGeneration 0');
});

test('only the newest generation makes a cluster READY; an older one only advances what was observed', () => {
  const two = nextGeneration(cluster, 'customize', {}, T0);
  const older = applied(two, 1, 'READY', null, T1);
  assert.equal(older.status, 'INSTALLING');
  assert.equal(older.observedGeneration, 1);
  const newest = applied(two, 2, 'READY', null, T1);
  assert.equal(newest.status, 'READY');
  assert.equal(newest.observedGeneration, 2);
  assert.equal(newest.updatedAt, T1);
  assert.equal(
    applied(newest, 2, 'READY', null, '2027-01-01T00:00:00.000Z'),
    newest,
    'no change, same record',
  );
});

test('a cluster being deleted keeps DELETING whatever a late pass reports, then becomes DELETED', () => {
  const deleting = nextGeneration({ ...cluster, status: 'READY' }, 'delete', {}, T0);
  assert.equal(applied(deleting, 2, 'READY', null, T1), deleting);
  assert.equal(failed(deleting, 'boom', T1), deleting);
  const gone = deleted(deleting, T1);
  assert.equal(gone.status, 'DELETED');
  assert.equal(gone.deletedAt, T1);
  assert.equal(gone.observedGeneration, gone.generation);
});

test('a terminal failure puts the cluster in ERROR with its reason, whatever the generation', () => {
  const error = failed(cluster, 'HTTP 401', T1);
  assert.equal(error.status, 'ERROR');
  assert.equal(error.statusMessage, 'HTTP 401');
  assert.equal(error.generation, cluster.generation);
});

test('the reconciler destroys a cluster being deleted, converges a live one, and leaves a deleted one', () => {
  assert.equal(reconcilerTask(undefined), 'none');
  assert.equal(reconcilerTask(cluster), 'converge');
  const deleting = nextGeneration({ ...cluster, status: 'READY' }, 'delete', {}, T0);
  assert.equal(reconcilerTask(deleting), 'destroy');
  assert.equal(reconcilerTask(deleted(deleting, T1)), 'none');
});

test('a converged cluster is reported READY only after applying a generation or to leave ERROR', () => {
  const ready = applied(cluster, 1, 'READY', null, T0);
  assert.equal(reportsReady(cluster), true, 'installing');
  assert.equal(reportsReady(ready), false, 'already READY and applied');
  assert.equal(reportsReady(failed(ready, 'kube-proxy crashed', T1)), true, 'recovering from ERROR');
  const reset = nextGeneration(ready, 'reset', {}, T1);
  assert.equal(isResetting(reset), true);
  assert.equal(isResetting(applied(reset, reset.generation, 'READY', null, T1)), false, 'reset applied');
});

test("a cluster token is checked against the cluster's current epoch only", async () => {
  const token = clusterTokens(Buffer.alloc(32, 7));
  assert.notEqual(token('c1', 1), token('c1', 2));
  assert.notEqual(token('c1', 1), token('c2', 1));
  let epoch = 1;
  let status: ClusterStatus = 'READY';
  const check = clusterTokenCheck(token, {
    get: async (id) => (id === 'c1' ? { id, tokenEpoch: epoch, status, deletedAt: null } : undefined),
  });
  assert.equal(await check('c1', token('c1', 1)), true);
  assert.equal(await check('c1', `${token('c1', 1)}x`), false);
  assert.equal(await check('c2', token('c2', 1)), false, 'an unknown cluster');
  epoch = 2;
  assert.equal(await check('c1', token('c1', 1)), false, 'a token of an earlier epoch');
  assert.equal(await check('c1', token('c1', 2)), true);
  status = 'DELETING';
  assert.equal(await check('c1', token('c1', 2)), false, 'a cluster whose deletion was accepted');
});
