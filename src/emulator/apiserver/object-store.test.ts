import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { memoryCluster } from '../../../test/support/object-store.ts';
import { recordEvent } from '../cluster/events.ts';
import type { ObjectStore } from './object-store.ts';
import { jsonOf, type KubeObject } from './objects.ts';
import { RESOURCE } from './resources.ts';

/** A cluster holding namespaces, ConfigMaps, a node and Events about two pods. */
function usedCluster(): ObjectStore {
  const cluster = memoryCluster();
  for (const name of ['kube-system', 'default'])
    cluster.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  cluster.create(RESOURCE.nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } });
  for (const namespace of ['kube-system', 'default'])
    for (const name of ['kube-root-ca.crt', 'extra'])
      cluster.create(RESOURCE.configmaps, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name, namespace },
        data: { key: `${namespace}/${name}` },
      });
  for (const uid of ['uid-a', 'uid-b'])
    recordEvent(
      cluster,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: uid, namespace: 'kube-system', uid } },
      { type: 'Normal', reason: 'Pulled', message: 'image pulled', component: 'kubelet' },
      new Date(0),
    );
  return cluster;
}

const KINDS = [RESOURCE.namespaces, RESOURCE.nodes, RESOURCE.configmaps, RESOURCE.events];

/** The cluster's objects loaded into a new one as rows without digests: text, by namespace and name. */
function loadedAsRows(cluster: ObjectStore): ObjectStore {
  const loaded = memoryCluster();
  for (const kind of KINDS)
    for (const o of cluster.list(kind))
      loaded.restoreRow(kind, o.metadata.namespace ?? '', o.metadata.name ?? '', JSON.stringify(o));
  return loaded;
}

/** What `JSON.parse` and `JSON.stringify` were called on during `run`, by the text's kind. */
function jsonCallsDuring<T>(run: () => T): { value: T; parsed: string[]; stringified: number } {
  const parse = mock.method(JSON, 'parse');
  const stringify = mock.method(JSON, 'stringify');
  try {
    const value = run();
    return {
      value,
      parsed: parse.mock.calls.map((call) => /^\{"kind":"(\w+)"/.exec(String(call.arguments[0]))?.[1] ?? '?'),
      stringified: stringify.mock.calls.length,
    };
  } finally {
    parse.mock.restore();
    stringify.mock.restore();
  }
}

test('objects loaded as their rows are parsed only when read, and answer with their stored text', () => {
  const cluster = usedCluster();
  const loaded = loadedAsRows(cluster);

  // A get parses that object alone; its text is the stored one, serialized again by nothing.
  const get = jsonCallsDuring(() => {
    const object = loaded.get(RESOURCE.configmaps, 'default', 'extra');
    return { object, text: object === undefined ? undefined : jsonOf(object) };
  });
  assert.deepEqual(get.parsed, ['ConfigMap']);
  assert.equal(get.stringified, 0);
  assert.deepEqual(get.value.object, cluster.get(RESOURCE.configmaps, 'default', 'extra'));
  assert.equal(get.value.text, JSON.stringify(cluster.get(RESOURCE.configmaps, 'default', 'extra')));
  // The same object for every reader from then on.
  assert.equal(loaded.get(RESOURCE.configmaps, 'default', 'extra'), get.value.object);
  assert.equal(loaded.get(RESOURCE.configmaps, 'default', 'missing'), undefined);

  // A cluster-scoped object is found by its name alone; lists read every object, in list order.
  assert.deepEqual(loaded.get(RESOURCE.nodes, '', 'node-1'), cluster.get(RESOURCE.nodes, '', 'node-1'));
  for (const kind of KINDS) assert.deepEqual(loaded.list(kind), cluster.list(kind), kind.name);
  assert.deepEqual(loaded.list(RESOURCE.configmaps, 'default'), cluster.list(RESOURCE.configmaps, 'default'));
  // values: in no particular order.
  const names = (objects: Iterable<KubeObject>) => [...objects].map((o) => o.metadata.name).sort();
  assert.deepEqual(names(loaded.values(RESOURCE.namespaces)), names(cluster.values(RESOURCE.namespaces)));
});

test('an index of a kind loaded without digests parses its objects first, and files them as the parsed ones', () => {
  const cluster = usedCluster();
  const loaded = loadedAsRows(cluster);
  // Recording an Event again finds the one recorded through the index of Events by occurrence:
  // built on Events loaded as text without a digest, it parses them to file them.
  const pulledAgain = (c: ObjectStore) =>
    recordEvent(
      c,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'uid-a', namespace: 'kube-system', uid: 'uid-a' } },
      { type: 'Normal', reason: 'Pulled', message: 'image pulled', component: 'kubelet' },
      new Date(1000),
    );
  const parsed = jsonCallsDuring(() => pulledAgain(loaded)).parsed;
  assert.deepEqual(
    parsed.filter((kind) => kind === 'Event'),
    ['Event', 'Event'],
  );
  pulledAgain(cluster);
  const counts = (c: ObjectStore) => c.list(RESOURCE.events).map((e) => [e.involvedObject, e.count]);
  assert.deepEqual(counts(loaded), counts(cluster));
  assert.equal(loaded.list(RESOURCE.events).length, 2);

  // A row loaded once an index of its kind exists is filed by it at once: recording the Event
  // again counts it on this one, first in list order ('late' before 'uid-a.…').
  const [first] = cluster.list(RESOURCE.events);
  loaded.restoreRow(
    RESOURCE.events,
    'kube-system',
    'late',
    JSON.stringify({ ...first, metadata: { ...first!.metadata, name: 'late' } }),
  );
  pulledAgain(loaded);
  assert.deepEqual(
    loaded
      .list(RESOURCE.events)
      .map((e) => [e.metadata.name, (e.involvedObject as { uid: string }).uid, e.count]),
    [
      ['late', 'uid-a', 3],
      [first!.metadata.name, 'uid-a', 2],
      [cluster.list(RESOURCE.events)[1]!.metadata.name, 'uid-b', 1],
    ],
  );
});

test('an index finds the objects filed under a value as they come and go, one or several', () => {
  const cluster = memoryCluster();
  cluster.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const byColor = (o: KubeObject) => o.metadata.labels?.color;
  const configMap = (name: string, color: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: 'default', labels: { color } },
  });
  const names = (color: string) =>
    cluster
      .filed(RESOURCE.configmaps, byColor, color)
      .map((o) => o.metadata.name)
      .sort();
  const seen = (color: string) => {
    const found = names(color);
    assert.equal(cluster.countFiled(RESOURCE.configmaps, byColor, color), found.length);
    return found;
  };
  cluster.create(RESOURCE.configmaps, configMap('a', 'red'));
  assert.deepEqual(seen('red'), ['a']); // the index is built here, then kept by every write
  cluster.create(RESOURCE.configmaps, configMap('b', 'red'));
  cluster.create(RESOURCE.configmaps, configMap('c', 'blue'));
  assert.deepEqual(seen('red'), ['a', 'b']);
  cluster.update(RESOURCE.configmaps, configMap('a', 'blue'));
  assert.deepEqual(seen('red'), ['b']);
  assert.deepEqual(seen('blue'), ['a', 'c']);
  cluster.update(RESOURCE.configmaps, configMap('b', 'red')); // filed under the same value again
  assert.deepEqual(seen('red'), ['b']);
  cluster.delete(RESOURCE.configmaps, 'default', 'b');
  assert.deepEqual(seen('red'), []);
  cluster.create(RESOURCE.configmaps, configMap('b', 'red'));
  cluster.delete(RESOURCE.configmaps, 'default', 'c');
  cluster.delete(RESOURCE.configmaps, 'default', 'a');
  assert.deepEqual(seen('blue'), []);
  cluster.create(RESOURCE.configmaps, configMap('d', 'blue'));
  assert.deepEqual(seen('blue'), ['d']);
  assert.deepEqual(seen('red'), ['b']);
  assert.deepEqual(seen('green'), []);
});
