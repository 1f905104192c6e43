import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { memoryCluster } from '../../../test/support/object-store.ts';
import { DaemonSetController } from '../cluster/daemonset-controller.ts';
import { recordEvent } from '../cluster/events.ts';
import {
  daemonPod,
  indexedNodes,
  kubeProxyConfigMap,
  kubeProxyDaemonSet,
  nodeObject,
} from '../cluster/kubeadm-objects.ts';
import { ClusterTimers } from '../cluster/timers.ts';
import { BodyBytes } from '../store/stored-body.ts';
import { FieldsByShape, leafPaths, trackUpdate } from './managed-fields.ts';
import { type ChangeEvent, ObjectStore } from './object-store.ts';
import {
  clone,
  deepEqual,
  forgetJson,
  inApiOrder,
  type Json,
  type JsonObject,
  jsonOf,
  type KubeObject,
  keptJson,
  parseStored,
  releaseJson,
  rfc3339,
} from './objects.ts';
import { strategicMergePatch } from './patch.ts';
import { RESOURCE } from './resources.ts';

function daemonSet(): KubeObject {
  const ds = kubeProxyDaemonSet('1.31.4');
  ds.metadata.uid = 'uid-1';
  ds.metadata.generation = 2;
  trackUpdate(undefined, ds, 'kubeadm', '2025-01-01T00:00:00Z');
  return ds;
}

test('jsonOf is the text JSON.stringify gives, also for versions that share parts', () => {
  const ds = daemonSet();
  const objects: unknown[] = [
    ds,
    kubeProxyConfigMap('https://example'),
    nodeObject('cluster', indexedNodes('cluster', 1)[0]!, 0, '1.31.4', new Date(0)),
    daemonPod(ds, 'hash', 'node-0', '10.0.0.2', new Date(0)),
    { apiVersion: 'v1', kind: 'X', metadata: { name: 'a', managedFields: undefined, b: undefined } },
    { a: undefined, spec: undefined, metadata: null, status: { at: new Date(0) } },
    { metadata: 'text', spec: [1, { a: undefined }, null], 'we"ird\n': '\u2028' },
    JSON.parse('{"__proto__": {"a": 1}, "spec": {"__proto__": 2}, "metadata": {"managedFields": []}}'),
    // Odd managedFields entries read as JSON.stringify reads them.
    {
      metadata: {
        managedFields: [
          ds.metadata.managedFields?.[0],
          null,
          undefined,
          () => 1,
          'text',
          { fieldsV1: undefined, manager: 'm' },
          { fieldsV1: [1, { a: undefined }], time: new Date(0) },
          { toJSON: () => 'x' },
        ],
      },
    },
    { metadata: { managedFields: { fieldsV1: {} } } },
    {},
  ];
  for (const object of objects) assert.equal(jsonOf(object as object), JSON.stringify(object));
  // The metadata of an object with a spec, whose fieldsV1 trees' texts are kept: every odd case
  // reads as JSON.stringify reads it.
  const entry = ds.metadata.managedFields![0]!;
  const tree = entry.fieldsV1 as JsonObject;
  assert.ok(Object.isFrozen(tree), 'the trees the field manager builds are frozen');
  const withProto = { name: 'p' } as JsonObject;
  Object.defineProperty(withProto, '__proto__', {
    value: 1,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  withProto.managedFields = [entry];
  // Every member in order, and a toJSON of its own kind's.
  class Entry {
    manager = 'm';
    operation = 'Update';
    apiVersion = 'v1';
    time = 'T';
    fieldsType = 'FieldsV1';
    fieldsV1 = tree;
    toJSON() {
      return 'entry';
    }
  }
  const metadatas: unknown[] = [
    ds.metadata,
    daemonPod(ds, 'hash', 'node-0', '10.0.0.2', new Date(0)).metadata,
    { managedFields: [entry] },
    { name: 'a', managedFields: [entry, entry], after: 1 },
    { name: 'a', managedFields: [entry], after: undefined },
    withProto,
    { name: 'a', managedFields: [], b: 1 },
    { name: 'a', managedFields: { 0: entry } },
    { name: 'a', toJSON: () => 'meta', managedFields: [entry] },
    Object.assign(Object.create({ toJSON: () => 'meta' }), { managedFields: [entry] }),
    { name: 'a', managedFields: [{ ...entry, subresource: 'status' }] },
    { name: 'a', managedFields: [{ ...entry, subresource: undefined }] },
    { name: 'a', managedFields: [{ ...entry, subresource: 'status', extra: 1 }] },
    { name: 'a', managedFields: [{ ...entry, manager: 'we"ird\n\u2028', time: '\u00e9' }] },
    { name: 'a', managedFields: [{ ...entry, fieldsV1: clone(tree) }] },
    { name: 'a', managedFields: [{ ...entry, time: undefined }] },
    { name: 'a', managedFields: [{ ...entry, time: 7 }] },
    { name: 'a', managedFields: [{ fieldsV1: tree, ...entry }] },
    { name: 'a', managedFields: [{ time: entry.time, ...entry }] },
    { name: 'a', managedFields: [{ ...entry, toJSON: () => 'entry' }] },
    { name: 'a', managedFields: [new Entry()] },
    { name: 'a', managedFields: [entry, null, 'x', undefined] },
  ];
  for (const metadata of metadatas) {
    const object = { kind: 'K', metadata, spec: { a: 1 } };
    assert.equal(jsonOf(object), JSON.stringify(object), JSON.stringify(metadata));
  }
  // A status write shares spec and managedFields with the version before: both texts stay exact.
  // (jsonOf(ds) first: its spec's text is kept, then reused for the next version.)
  const next = { ...ds, metadata: { ...ds.metadata, resourceVersion: '7' }, status: { numberReady: 3 } };
  assert.equal(jsonOf(ds), JSON.stringify(ds));
  assert.equal(jsonOf(next), JSON.stringify(next));
});

test('releaseJson gives the text jsonOf gives and keeps none; the next reader composes the same again', () => {
  const store = memoryCluster();
  store.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', uid: 'u' },
  };
  recordEvent(
    store,
    pod,
    { type: 'Normal', reason: 'Pulled', message: 'm', component: 'kubelet' },
    new Date(0),
  );
  const event = store.list(RESOURCE.events)[0]!;
  // The store's write composed the text (the size check) and keeps it for the row and readers.
  assert.equal(keptJson(event), 'text');
  const text = releaseJson(event);
  assert.equal(text, JSON.stringify(event));
  assert.equal(keptJson(event), undefined);
  assert.equal(jsonOf(event), text);
  assert.equal(keptJson(event), 'text');
  // A DaemonSet's text, composed around its spec's, is released the same way.
  const ds = daemonSet();
  assert.equal(releaseJson(ds), JSON.stringify(ds));
  assert.equal(keptJson(ds), undefined);
});

test("an object parsed from its stored bytes answers the bytes' text, decoded again when read, the same when composed", () => {
  const ds = daemonSet();
  const text = JSON.stringify(ds);
  const other = JSON.stringify({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'c' } });
  // Two bodies in one buffer, as a cluster's load reads them (stored-body.ts).
  const bytes = Buffer.from(other + text, 'utf8');
  const start = Buffer.byteLength(other);
  const parsed = parseStored(new BodyBytes(bytes, start, bytes.length));
  assert.deepEqual(parsed, ds);
  // What it keeps until read is the bytes, not a string; once read, the text.
  assert.equal(keptJson(parsed), 'bytes');
  const answered = jsonOf(parsed);
  assert.equal(answered, text);
  assert.equal(keptJson(parsed), 'text');
  assert.equal(jsonOf(parsed), answered);
  // Forgotten (a replaced version), its text is composed again: the same.
  const again = parseStored(new BodyBytes(bytes, start, bytes.length));
  forgetJson(again);
  assert.equal(keptJson(again), undefined);
  assert.equal(jsonOf(again), text);
  // Released (an Event's row), nothing is kept, the next reader composes the same text.
  const released = parseStored(new BodyBytes(bytes, start, bytes.length));
  assert.equal(releaseJson(released), text);
  assert.equal(keptJson(released), undefined);
  // A stored text is kept as read.
  const fromText = parseStored(text);
  assert.equal(keptJson(fromText), 'text');
  assert.equal(jsonOf(fromText), text);
});

test('inApiOrder writes members as kube-apiserver does, an own "__proto__" kept as a member', () => {
  const object = JSON.parse(
    '{"status":{"a":1},"spec":{"b":2},"__proto__":{"c":3},"metadata":{"x":1,"managedFields":[],"name":"n","labels":{}},"kind":"K","data":null}',
  ) as KubeObject;
  const ordered = inApiOrder(object);
  assert.equal(
    JSON.stringify(ordered),
    '{"kind":"K","metadata":{"name":"n","labels":{},"managedFields":[],"x":1},"spec":{"b":2},"__proto__":{"c":3},"data":null,"status":{"a":1}}',
  );
  assert.equal(Object.getPrototypeOf(ordered), Object.prototype);
  assert.equal(ordered.spec, object.spec, 'members are shared, not copied');
});

test('rfc3339 stamps each date to its second, the same text for dates of one second', () => {
  assert.equal(rfc3339(new Date('2026-12-05T10:00:00.900Z')), '2026-12-05T10:00:00Z');
  assert.equal(rfc3339(new Date('2026-12-05T10:00:00.100Z')), '2026-12-05T10:00:00Z');
  assert.equal(rfc3339(new Date('2026-12-05T10:00:01.000Z')), '2026-12-05T10:00:01Z');
  assert.equal(rfc3339(new Date('1969-12-31T23:59:59.500Z')), '1969-12-31T23:59:59Z');
  assert.equal(rfc3339(new Date('1970-01-01T00:00:00.000Z')), '1970-01-01T00:00:00Z');
  assert.throws(() => rfc3339(new Date(Number.NaN)), RangeError);
});

/** The leaf paths a managedFields entry owns, read back from its fieldsV1. */
function ownedPaths(fields: Json | undefined, path: string[] = [], out: string[] = []): string[] {
  const node = fields as JsonObject;
  // Members (`f:name`) and keyed list items (`k:{"name":"a"}`, a path segment as they are); a
  // map or item owned itself (`.`) is its path followed by '.'.
  const children = Object.keys(node).filter((key) => key.startsWith('f:') || key.startsWith('k:'));
  if (path.length > 0 && node['.'] !== undefined) out.push(JSON.stringify([...path, '.']));
  else if (path.length > 0 && children.length === 0) out.push(JSON.stringify(path));
  for (const key of children)
    ownedPaths(node[key], [...path, key.startsWith('f:') ? key.slice(2) : key], out);
  return out;
}

test('a created object is owned, leaf by leaf, by its creator', () => {
  const ds = daemonSet();
  const objects: KubeObject[] = [
    ds,
    daemonPod(ds, 'hash', 'node-0', '10.0.0.2', new Date(0)),
    kubeProxyConfigMap('https://example'),
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'x', labels: { gone: undefined as unknown as string }, annotations: {} },
      data: {
        a: undefined as unknown as Json,
        b: null,
        c: [],
        d: { e: { f: undefined as unknown as Json } },
      },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'only-untracked' } },
  ];
  for (const input of objects) {
    const object = clone(input);
    delete object.metadata.managedFields;
    trackUpdate(undefined, object, 'me', 'T');
    const expected = [...leafPaths(object as unknown as JsonObject)]
      .filter(([, value]) => value !== undefined)
      .map(([path]) => path);
    const entries: JsonObject[] = object.metadata.managedFields ?? [];
    if (expected.length === 0) {
      assert.ok(entries.length === 0, 'no leaf, no managedFields');
      continue;
    }
    assert.ok(entries.length === 1, 'one entry');
    const entry = entries[0]!;
    assert.deepEqual(
      { ...entry, fieldsV1: undefined },
      {
        manager: 'me',
        operation: 'Update',
        apiVersion: object.apiVersion,
        time: 'T',
        fieldsType: 'FieldsV1',
        fieldsV1: undefined,
      },
    );
    // The same paths; fieldsV1 lists them in byte order, as structured-merge-diff does.
    assert.deepEqual(ownedPaths(entry.fieldsV1), [...expected].sort());
    // Maps below the top level are owned as a whole too ('.'); top-level structs are not, and
    // top-level maps (a ConfigMap's data) are, as kube-apiserver records them.
    const fields = entry.fieldsV1 as JsonObject;
    for (const [key, value] of Object.entries(fields)) {
      const isMap = key === 'f:data' && Object.keys(value as JsonObject).length > 0;
      assert.deepEqual((value as JsonObject)['.'], isMap ? {} : undefined, key);
    }
  }
});

/** `memoryStore` holding kube-system and kube-proxy's DaemonSet as kubeadm creates it. */
function withKubeProxy(onChange: (event: ChangeEvent) => void): {
  cluster: ObjectStore;
  daemonSet: KubeObject;
} {
  const cluster = memoryStore(onChange);
  cluster.create(RESOURCE.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kube-system' },
  });
  const daemonSet = cluster.create(RESOURCE.daemonsets, kubeProxyDaemonSet('1.31.4'), { manager: 'kubeadm' });
  return { cluster, daemonSet };
}

/** An object store in memory only, at time 0, telling each change to `onChange`. */
function memoryStore(onChange: (event: ChangeEvent) => void): ObjectStore {
  return new ObjectStore(
    { id: 'c', version: '1.31.4', nodeCount: 1, resourceVersion: 0, busy: false, createdAt: 'T' },
    {
      persistObject: () => {},
      persistMeta: () => {},
      persistLog: () => {},
      loadDeferred: () => {},
      onChange: (_cluster, event) => onChange(event),
      now: () => new Date(0),
    },
  );
}

test('writes share the parts they keep and never change a stored version', () => {
  const changes: unknown[] = [];
  const { cluster, daemonSet: created } = withKubeProxy((event) => changes.push(event.type));
  const snapshot = JSON.stringify(created);

  const statusWrite = cluster.update(
    RESOURCE.daemonsets,
    { ...created, status: { numberReady: 1 } },
    { subresource: 'status', owned: true },
  );
  assert.equal(statusWrite.spec, created.spec, 'a status write keeps the spec it shares');
  assert.equal(statusWrite.metadata.generation, created.metadata.generation);
  assert.notEqual(statusWrite.metadata.resourceVersion, created.metadata.resourceVersion);

  const patched = strategicMergePatch(statusWrite as unknown as Json, {
    spec: { template: { metadata: { annotations: { a: 'b' } } } },
  }) as unknown as KubeObject;
  const specWrite = cluster.update(RESOURCE.daemonsets, patched, { manager: 'mks', owned: true });
  assert.equal(specWrite.status, statusWrite.status, 'a spec write keeps the status');
  assert.equal(specWrite.metadata.generation, (created.metadata.generation ?? 0) + 1);

  // The same status again is no write at all.
  const again = cluster.update(
    RESOURCE.daemonsets,
    { ...specWrite, status: clone(specWrite.status) },
    { subresource: 'status' },
  );
  assert.equal(again, specWrite);

  const deleted = cluster.delete(RESOURCE.daemonsets, 'kube-system', 'kube-proxy');
  assert.equal(deleted.spec, specWrite.spec);
  assert.equal(JSON.stringify(created), snapshot, 'the first version is unchanged');
  assert.deepEqual(changes, ['ADDED', 'ADDED', 'MODIFIED', 'MODIFIED', 'DELETED']);
});

test("objects created from a shape's fieldsV1 (a DaemonSet's pods, Events) carry what the field manager's walk gives each", () => {
  const { cluster, daemonSet: ds } = withKubeProxy(() => {});
  // As the DaemonSet controller creates its pods: the second node's takes the first's tree.
  const podFields = new FieldsByShape(8);
  const pods = ['node-0', 'node-1'].map((node, i) => {
    const pod = cluster.create(RESOURCE.pods, daemonPod(ds, 'hash', node, `10.0.0.${i}`, new Date(0)), {
      manager: 'kube-controller-manager',
      sameShapeAs: podFields.get('ds'),
    });
    podFields.learn('ds', pod);
    return pod;
  });
  assert.ok(podFields.get('ds') !== undefined);
  const noKind = { ...pods[1]!, kind: undefined } as unknown as KubeObject;
  // Each shape twice (the second takes the first's tree): with and without a host, an object without a kind.
  for (const [i, object] of [pods[0]!, pods[1]!, noKind, noKind].entries()) {
    recordEvent(
      cluster,
      object,
      { type: 'Normal', reason: 'Pulled', message: `m${i}`, component: 'kubelet', host: 'n' },
      new Date(0),
    );
    recordEvent(
      cluster,
      object,
      { type: 'Normal', reason: 'Scheduled', message: `m${i}`, component: 'default-scheduler' },
      new Date(0),
    );
  }
  const events = cluster.list(RESOURCE.events);
  assert.equal(events.length, 8);
  const created = [
    ...pods.map((pod) => [pod, 'kube-controller-manager'] as const),
    ...events.map((event) => [event, String((event.source as JsonObject).component)] as const),
  ];
  for (const [object, manager] of created) {
    const walked = clone(object);
    delete walked.metadata.managedFields;
    trackUpdate(undefined, walked, manager, '1970-01-01T00:00:00Z');
    assert.ok((object.metadata.managedFields ?? []).length === 1, object.metadata.name);
    assert.deepEqual(object.metadata.managedFields, walked.metadata.managedFields, object.metadata.name);
  }
});

test("a DaemonSet's pods and revision in other clusters of one template carry the walk's fieldsV1, their owner's uid put in", () => {
  const controller = new DaemonSetController({
    now: () => new Date(0),
    timers: new ClusterTimers(pino({ level: 'silent' })),
    enqueue: () => {},
    graceful: false,
  });
  const clusters = [0, 1].map(() => {
    const { cluster, daemonSet: ds } = withKubeProxy(() => {});
    for (const [i, node] of indexedNodes('c', 2).entries())
      cluster.create(RESOURCE.nodes, nodeObject('c', node, i, '1.31.4', new Date(0)));
    controller.sync(cluster);
    return { cluster, ds };
  });
  assert.notEqual(clusters[0]!.ds.metadata.uid, clusters[1]!.ds.metadata.uid);
  const specFields = (object: KubeObject) =>
    (object.metadata.managedFields?.[0]?.fieldsV1 as JsonObject | undefined)?.['f:spec'];
  for (const { cluster, ds } of clusters) {
    const created = [...cluster.list(RESOURCE.pods), ...cluster.list(RESOURCE.controllerrevisions)];
    assert.equal(created.length, 3);
    for (const object of created) {
      assert.equal(object.metadata.ownerReferences?.[0]?.uid, ds.metadata.uid);
      const walked = clone(object);
      delete walked.metadata.managedFields;
      trackUpdate(undefined, walked, 'kube-controller-manager', '1970-01-01T00:00:00Z');
      // The same text: the same members in the same order.
      assert.equal(
        JSON.stringify(object.metadata.managedFields),
        JSON.stringify(walked.metadata.managedFields),
      );
      // The text stored, composed around the kept text of its tree (the shape's, its owner's
      // uid put in), is JSON.stringify's.
      assert.equal(jsonOf(object), JSON.stringify(object));
    }
    // A cluster's pods share the one tree made for their owner.
    const [a, b] = cluster.list(RESOURCE.pods);
    assert.equal(a!.metadata.managedFields![0]!.fieldsV1, b!.metadata.managedFields![0]!.fieldsV1);
  }
  // The second cluster's took the first's tree (sharing its parts), not a walk of their own.
  const [first, second] = clusters.map(({ cluster }) => cluster.list(RESOURCE.pods)[0]!);
  assert.ok(specFields(first!) !== undefined);
  assert.equal(specFields(second!), specFields(first!));
  // A tree without exactly one owner reference gives nothing to put another owner in.
  const events = new FieldsByShape(2);
  events.learn('event', clusters[0]!.cluster.list(RESOURCE.events)[0]!);
  assert.ok(events.get('event') !== undefined);
  assert.equal(events.get('event', 'uid'), undefined);
});

test("a status write's managed fields are the field manager's walk, after writes with and without a manager", () => {
  const { cluster, daemonSet: created } = withKubeProxy(() => {});
  const templatePath = JSON.stringify(['spec', 'template', 'spec', 'priorityClassName']);
  /** A status write through the store, checked against trackUpdate on copies (every path looked up). */
  const statusWrite = (current: KubeObject, numberReady: number): KubeObject => {
    const status = { numberReady };
    const walked = { ...clone(current), status: clone(status) } as KubeObject;
    trackUpdate(clone(current), walked, 'kube-controller-manager', '1970-01-01T00:00:00Z', 'status');
    const written = cluster.update(
      RESOURCE.daemonsets,
      { ...current, status },
      { subresource: 'status', owned: true, manager: 'kube-controller-manager' },
    );
    assert.deepEqual(written.metadata.managedFields, walked.metadata.managedFields);
    return written;
  };
  const kubeadmPaths = (object: KubeObject) =>
    ownedPaths(object.metadata.managedFields?.find((e) => e.manager === 'kubeadm')?.fieldsV1);

  // After a write with a manager: every owner's path is in the object.
  const patched = strategicMergePatch(created as unknown as Json, {
    spec: { template: { metadata: { annotations: { a: 'b' } } } },
  }) as unknown as KubeObject;
  const afterPatch = statusWrite(
    cluster.update(RESOURCE.daemonsets, patched, { manager: 'mks', owned: true }),
    1,
  );
  assert.ok(kubeadmPaths(afterPatch).includes(templatePath));
  const again = statusWrite(afterPatch, 2);
  assert.equal(again.metadata.managedFields?.length, 3);

  // A write without a manager keeps the entries, a path kubeadm owned included, though the field
  // is gone; the next status write by a manager drops it, as the walk does.
  const spec = clone(again.spec) as JsonObject;
  delete ((spec.template as JsonObject).spec as JsonObject).priorityClassName;
  const internal = cluster.update(RESOURCE.daemonsets, { ...again, spec }, { owned: true });
  assert.ok(kubeadmPaths(internal).includes(templatePath));
  assert.ok(!kubeadmPaths(statusWrite(internal, 3)).includes(templatePath));
});

test('deepEqual compares members, an undefined one as absent, a "__proto__" one as any other', () => {
  const equal: [unknown, unknown][] = [
    [{ a: 1, b: undefined }, { a: 1 }],
    [{ a: [1, { b: null }] }, { a: [1, { b: null }] }],
    [JSON.parse('{"__proto__": {}}'), JSON.parse('{"__proto__": {}}')],
  ];
  const different: [unknown, unknown][] = [
    [{ a: 1 }, { a: 1, b: 2 }],
    [{ a: undefined }, { a: null }],
    [[undefined], [null]],
    [{ a: [] }, { a: {} }],
    // An own "__proto__" member is compared with the other's own member, not its prototype.
    [JSON.parse('{"__proto__": {}}'), { a: 1 }],
    [JSON.parse('{"__proto__": {}}'), {}],
  ];
  for (const [a, b] of equal) assert.ok(deepEqual(a, b) && deepEqual(b, a), JSON.stringify([a, b]));
  for (const [a, b] of different) assert.ok(!deepEqual(a, b) && !deepEqual(b, a), JSON.stringify([a, b]));
});

test("the store refuses an object over etcd's limit by its UTF-8 bytes, and keeps what it had", () => {
  const store = memoryCluster();
  store.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
  const configMap = (data: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', namespace: 'default' },
    data,
  });
  // Multi-byte characters: within the limit in UTF-16 units, past it in UTF-8 bytes.
  assert.throws(
    () => store.create(RESOURCE.configmaps, configMap({ a: '€'.repeat(600_000) })),
    /request is too large/,
  );
  const small = store.create(RESOURCE.configmaps, configMap({ a: 'x' }));
  // Escaped characters count as their escapes (`\u0001`: six bytes).
  assert.throws(
    () => store.update(RESOURCE.configmaps, configMap({ a: 'x', b: '\u0001'.repeat(300_000) })),
    /request is too large/,
  );
  assert.equal(store.get(RESOURCE.configmaps, 'default', 'c'), small);
  // Just under the limit in one-byte characters: stored.
  store.update(RESOURCE.configmaps, configMap({ a: 'x', b: 'y'.repeat(1_500_000) }));
  assert.notEqual(store.get(RESOURCE.configmaps, 'default', 'c'), small);
  // An object with a spec (its text composed around the spec's): the same rule.
  const pod = (image: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { containers: [{ name: 'c', image }] },
  });
  assert.throws(() => store.create(RESOURCE.pods, pod('€'.repeat(600_000))), /request is too large/);
  assert.equal(store.get(RESOURCE.pods, 'default', 'p'), undefined);
  const stored = store.create(RESOURCE.pods, pod('y'.repeat(1_400_000)));
  assert.equal(jsonOf(stored), JSON.stringify(stored));
});
