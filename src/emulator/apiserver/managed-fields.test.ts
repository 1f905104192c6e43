import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonPod, kubeProxyDaemonSet } from '../cluster/kubeadm-objects.ts';
import { fromFieldsV1, leafPaths, trackUpdate } from './managed-fields.ts';
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

/** The walk of a fieldsV1 tree as it was written first (arrays of segments, one stringify per path). */
function referencePaths(fields: Json | undefined): string[] {
  const out = new Set<string>();
  const walk = (node: Json | undefined, path: string[]) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
    const whole = Object.keys(node).some((k) => k.startsWith('v:') || k.startsWith('i:'));
    const children = Object.keys(node).filter((k) => k.startsWith('f:') || k.startsWith('k:'));
    const self = typeof node['.'] === 'object' && node['.'] !== null && !Array.isArray(node['.']);
    if (path.length > 0 && (whole || (children.length === 0 && !self))) {
      out.add(JSON.stringify(path));
      return;
    }
    if (path.length > 0 && self) out.add(JSON.stringify([...path, '.']));
    for (const key of children) walk(node[key], [...path, key.startsWith('f:') ? key.slice(2) : key]);
  };
  walk(fields, []);
  return [...out];
}

test('the paths read from a parsed fieldsV1 tree are those of the tree, in its order', () => {
  // Trees as the field manager writes them, read back as a cluster loaded from the store has them
  // (parsed: not the module's frozen trees, so walked).
  const ds = kubeProxyDaemonSet('1.32.0');
  const patched = clone(ds);
  ((patched.spec as JsonObject).template as JsonObject).metadata = { annotations: { a: 'b' } };
  trackUpdate(ds, patched, 'mks', '2026-01-01T00:00:00Z');
  const pod = daemonPod(ds, 'hash', 'node-0', '10.0.0.2', new Date(0));
  trackUpdate(undefined, pod, 'kube-controller-manager', '2026-01-01T00:00:00Z');
  const trees = [...(patched.metadata.managedFields ?? []), ...(pod.metadata.managedFields ?? [])].map(
    (entry) => JSON.parse(JSON.stringify(entry.fieldsV1)) as Json,
  );
  assert.ok(trees.length >= 2);
  // Odd trees: set items and positions (owned whole), a key "." beside members, an item's own
  // `.`, empty maps, members that are not objects, a member name that needs escaping.
  trees.push(
    { 'f:spec': { 'f:list': { 'v:"a"': {}, 'v:"b"': {} }, 'f:pos': { 'i:0': {} }, 'f:x': {} } },
    { 'f:a': { '.': {}, 'f:b': {}, 'f:c': { 'k:{"name":"n"}': { '.': {}, 'f:name': {} } } } },
    {
      'f:weird "name"\\': {},
      'f:n': 1,
      'f:m': null,
      'v:"top"': {},
      'f:o': { 'f:p': { 'i:3': {}, 'f:q': {} } },
    },
    { 'f:only': { '.': {} } },
    {},
  );
  for (const tree of trees) {
    const expected = referencePaths(tree);
    assert.deepEqual([...fromFieldsV1(tree)], expected);
    // Each path is one JSON array of segments, as the walk of an object names it.
    for (const path of expected) assert.ok(Array.isArray(JSON.parse(path)));
  }
  assert.ok(Math.max(...trees.map((tree) => referencePaths(tree).length)) > 40, 'real trees among them');
  assert.deepEqual([...fromFieldsV1(undefined)], []);
  assert.deepEqual([...fromFieldsV1('text')], []);
});
