import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonPod, kubeProxyDaemonSet } from '../cluster/kubeadm-objects.ts';
import { leafPaths } from './managed-fields.ts';
import { clone, type Json, type JsonObject, type KubeObject } from './objects.ts';
import { strategicMergePatch } from './patch.ts';

/** The walk's leaves in order, from fresh copies of every part (nothing walked before). */
const freshLeaves = (object: JsonObject, part: 'main' | 'status' = 'main') => [
  ...leafPaths(clone(object), part),
];

/** A map of `n` members (big enough for the walk to keep its leaves). */
const bigMap = (n: number): JsonObject =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, { v: i }]));

test('the walk finds the same leaves in a subtree it walked before as in a fresh copy', () => {
  const ds = kubeProxyDaemonSet('1.32.0');
  const first = [...leafPaths(ds as unknown as JsonObject)];
  assert.deepEqual(first, freshLeaves(ds as unknown as JsonObject));
  assert.ok(first.length > 40, 'the template spec is big enough to be kept');

  // A patched version shares its template's spec with the walked one: the same leaves as a copy's.
  const patched = strategicMergePatch(ds as unknown as Json, {
    spec: { template: { metadata: { annotations: { a: 'b' } } } },
  }) as JsonObject;
  const template = (patched.spec as JsonObject).template as JsonObject;
  assert.equal(template.spec, ((ds.spec as JsonObject).template as JsonObject).spec);
  assert.deepEqual([...leafPaths(patched)], freshLeaves(patched));
  assert.ok(leafPaths(patched).has('["spec","template","metadata","annotations","a"]'));

  // Its pods share the template's containers under other paths.
  const pod = daemonPod(ds, 'hash', 'node-0', '10.0.0.2', new Date(0)) as unknown as JsonObject;
  assert.deepEqual([...leafPaths(pod)], freshLeaves(pod));

  // The same subtree under another path of one object: each path its own leaves.
  const shared = bigMap(20);
  const twice = { apiVersion: 'v1', kind: 'Thing', metadata: { name: 't' }, spec: { a: shared, b: shared } };
  const leaves = [...leafPaths(twice)];
  assert.deepEqual(leaves, freshLeaves(twice));
  assert.ok(leaves.some(([path]) => path === '["spec","b","k19","v"]'));

  // The same subtree at the same path of another kind (another shape): that kind's leaves.
  const podSpec = template.spec as JsonObject;
  const other = {
    apiVersion: 'v1',
    kind: 'Thing',
    metadata: { name: 'u' },
    spec: { template: { spec: podSpec } },
  };
  assert.deepEqual([...leafPaths(other)], freshLeaves(other));
  assert.ok(leafPaths(other).has('["spec","template","spec","containers"]'), 'an atomic list there');
  assert.ok(!leafPaths(other).has('["spec","template","spec","containers",".""]'));

  // A status walk is not the main one.
  const withStatus = { ...(patched as unknown as KubeObject), status: { numberReady: 1, ...bigMap(20) } };
  assert.deepEqual(
    [...leafPaths(withStatus as unknown as JsonObject, 'status')],
    freshLeaves(withStatus as unknown as JsonObject, 'status'),
  );
});
