import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryCluster } from '../../../test/support/object-store.ts';
import { daemonPod, indexedNodes, kubeProxyDaemonSet, nodeObject } from '../cluster/kubeadm-objects.ts';
import { listJson, listResponse, select } from './lists.ts';
import type { ObjectStore } from './object-store.ts';
import { itemJsonOf, type KubeObject } from './objects.ts';
import { RESOURCE } from './resources.ts';

const memoryStore = (): ObjectStore => memoryCluster('1.31.4');

/** What a list item must read: the object less its apiVersion and kind, through JSON.stringify. */
const expectedItem = (object: KubeObject): string => {
  const { apiVersion: _a, kind: _k, ...rest } = object;
  return JSON.stringify(rest);
};

test('a list answers the same text as its object form, from the items kept text', () => {
  const cluster = memoryStore();
  const now = new Date(0);
  const nodes = indexedNodes('c', 2);
  cluster.create(RESOURCE.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kube-system' },
  });
  for (const [index, node] of nodes.entries())
    cluster.create(RESOURCE.nodes, nodeObject('c', node, index, '1.31.4', now), { manager: 'kubelet' });
  const ds = cluster.create(RESOURCE.daemonsets, kubeProxyDaemonSet('1.31.4'), { manager: 'kubeadm' });
  for (const [index, node] of nodes.entries())
    cluster.create(RESOURCE.pods, daemonPod(ds, 'abc', node.name, `10.0.0.${index + 1}`, now), {
      manager: 'kube-controller-manager',
    });
  const items = select(cluster, RESOURCE.pods, 'kube-system', {});
  assert.equal(items.length, 2);
  // Stored objects put kind first (inApiOrder): the item text is cut from the kept text, not remade.
  assert.deepEqual(Object.keys(items[0]!).slice(0, 2), ['kind', 'apiVersion']);
  for (const item of items) assert.equal(itemJsonOf(item), expectedItem(item));
  const request = { headers: {} } as Parameters<typeof listResponse>[0];
  const deps = { now: () => new Date(0) } as Parameters<typeof listResponse>[1];
  assert.equal(
    listJson(cluster, RESOURCE.pods, items),
    JSON.stringify(listResponse(request, deps, cluster, RESOURCE.pods, 'kube-system', {})),
  );
});

test('a list item of any member order or type reads as JSON.stringify of the rest', () => {
  const objects = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { k: 'v' } },
    { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'b' } },
    { metadata: { name: 'c' }, kind: 'ConfigMap', apiVersion: 'v1' },
    { kind: 'ConfigMap', metadata: { name: 'd' } },
    { apiVersion: 'v1', kind: 'Weird"Kind', metadata: { name: 'e' } },
    { kind: 'ConfigMap', apiVersion: 'v1' },
    { apiVersion: 'v1', kind: 'ConfigMap' },
    { metadata: { name: 'f' } },
  ] as unknown as KubeObject[];
  for (const object of objects)
    assert.equal(itemJsonOf(object), expectedItem(object), JSON.stringify(object));
});
