import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isObject, type Json, type JsonObject } from './objects.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';

/** A frozen copy of `value`, all the way down: changing any part of it in place throws. */
function frozen<T extends Json>(value: T): T {
  const copy = JSON.parse(JSON.stringify(value)) as T;
  const freeze = (node: Json): void => {
    if (node === null || typeof node !== 'object') return;
    for (const child of Array.isArray(node) ? node : Object.values(node)) freeze(child);
    Object.freeze(node);
  };
  freeze(copy);
  return copy;
}

const daemonSet = (): JsonObject => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
  spec: {
    selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
    template: {
      metadata: { labels: { 'k8s-app': 'kube-proxy' } },
      spec: {
        containers: [
          { name: 'kube-proxy', image: 'kube-proxy:v1.32', env: [{ name: 'A', value: '1' }] },
          { name: 'sidecar', image: 'sidecar:1' },
        ],
        volumes: [{ name: 'config', configMap: { name: 'kube-proxy' } }],
        tolerations: [{ operator: 'Exists' }],
      },
    },
  },
  status: { numberReady: 3 },
});

test('a strategic merge patch leaves its target as it was and shares the members it does not name', () => {
  const target = frozen(daemonSet());
  const spec = target.spec as JsonObject;
  const template = spec.template as JsonObject;
  const podSpec = template.spec as JsonObject;
  const containers = podSpec.containers as JsonObject[];

  const annotated = strategicMergePatch(target, {
    spec: { template: { metadata: { annotations: { 'mks/hash': 'abc' } } } },
  }) as JsonObject;
  const annotatedSpec = annotated.spec as JsonObject;
  const annotatedTemplate = annotatedSpec.template as JsonObject;
  assert.deepEqual((annotatedTemplate.metadata as JsonObject).annotations, { 'mks/hash': 'abc' });
  assert.deepEqual((annotatedTemplate.metadata as JsonObject).labels, { 'k8s-app': 'kube-proxy' });
  // The parts the patch did not name are the target's own (no copy), the others new.
  assert.equal(annotated.metadata, target.metadata);
  assert.equal(annotated.status, target.status);
  assert.equal(annotatedSpec.selector, spec.selector);
  assert.equal(annotatedTemplate.spec, podSpec);
  assert.notEqual(annotatedSpec, spec);
  assert.notEqual(annotatedTemplate, template);

  // A keyed list: the named item merged into a new one, the others shared, in their order.
  const merged = strategicMergePatch(target, {
    metadata: { labels: { tier: 'node' } },
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'kube-proxy', image: 'kube-proxy:v1.33', env: [{ name: 'B', value: '2' }] },
            { name: 'new', image: 'new:1' },
          ],
          tolerations: [{ key: 'a', operator: 'Exists' }],
        },
      },
    },
  }) as JsonObject;
  const mergedSpec = ((merged.spec as JsonObject).template as JsonObject).spec as JsonObject;
  const mergedContainers = mergedSpec.containers as JsonObject[];
  assert.deepEqual(
    mergedContainers.map((c) => [c.name, c.image]),
    [
      ['kube-proxy', 'kube-proxy:v1.33'],
      ['sidecar', 'sidecar:1'],
      ['new', 'new:1'],
    ],
  );
  assert.deepEqual(mergedContainers[0]!.env, [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ]);
  assert.equal(mergedContainers[1], containers[1]);
  assert.deepEqual(mergedSpec.tolerations, [{ key: 'a', operator: 'Exists' }]);
  assert.equal(mergedSpec.volumes, podSpec.volumes);
  assert.deepEqual((merged.metadata as JsonObject).labels, { 'k8s-app': 'kube-proxy', tier: 'node' });
  assert.equal((merged.metadata as JsonObject).namespace, 'kube-system');

  // Deletions (null, `$patch: delete` of an item, a primitive list's members) build new parents too.
  const deleted = strategicMergePatch(target, {
    metadata: { labels: null, finalizers: ['a'] },
    spec: {
      template: {
        spec: { containers: [{ name: 'sidecar', $patch: 'delete' }], volumes: null },
      },
    },
  }) as JsonObject;
  const deletedSpec = ((deleted.spec as JsonObject).template as JsonObject).spec as JsonObject;
  assert.equal((deleted.metadata as JsonObject).labels, undefined);
  assert.deepEqual((deleted.metadata as JsonObject).finalizers, ['a']);
  assert.deepEqual(
    (deletedSpec.containers as JsonObject[]).map((c) => c.name),
    ['kube-proxy'],
  );
  assert.equal((deletedSpec.containers as JsonObject[])[0], containers[0]);
  assert.ok(!('volumes' in deletedSpec));
  assert.equal(deletedSpec.tolerations, podSpec.tolerations);

  const removed = strategicMergePatch(frozen({ metadata: { finalizers: ['a', 'b', 'c'] } }), {
    metadata: { '$deleteFromPrimitiveList/finalizers': ['b'] },
  }) as JsonObject;
  assert.deepEqual((removed.metadata as JsonObject).finalizers, ['a', 'c']);

  // The target, frozen all the way down, would have thrown on any change in place; it reads the same.
  assert.deepEqual(target, daemonSet());
});

test('a JSON merge patch leaves its target as it was and shares the members it does not name', () => {
  const target = frozen(daemonSet());
  const patched = mergePatch(target, {
    metadata: { labels: { 'k8s-app': null, tier: 'node' } },
    spec: { template: { spec: { tolerations: [] } } },
  }) as JsonObject;
  assert.deepEqual((patched.metadata as JsonObject).labels, { tier: 'node' });
  const podSpec = ((patched.spec as JsonObject).template as JsonObject).spec as JsonObject;
  const targetPodSpec = ((target.spec as JsonObject).template as JsonObject).spec as JsonObject;
  assert.deepEqual(podSpec.tolerations, []);
  assert.equal(podSpec.containers, targetPodSpec.containers);
  assert.equal((patched.spec as JsonObject).selector, (target.spec as JsonObject).selector);
  assert.equal(patched.status, target.status);
  assert.deepEqual(target, daemonSet());
});

test('a JSON patch edits a copy, never its target', () => {
  const target = frozen(daemonSet());
  const patched = jsonPatch(target, [
    { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'kube-proxy:v1.33' },
    { op: 'remove', path: '/status/numberReady' },
  ]);
  assert.ok(isObject(patched));
  const containers = ((patched.spec as JsonObject).template as JsonObject).spec as JsonObject;
  assert.equal((containers.containers as JsonObject[])[0]!.image, 'kube-proxy:v1.33');
  assert.deepEqual(patched.status, {});
  assert.deepEqual(target, daemonSet());
});
