import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { memoryCluster as bareCluster } from '../../../test/support/object-store.ts';
import { ObjectStore, StoredText } from '../apiserver/object-store.ts';
import type { KubeObject } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { EVENT_DIGEST, type EventInput, pruneEvents, recordEvent } from './events.ts';

/** A cluster in memory only (no store, no controllers), its namespaces created. */
function memoryCluster(): ObjectStore {
  const cluster = bareCluster();
  for (const name of ['kube-system', 'default'])
    cluster.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return cluster;
}

const pod = (name: string, uid: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'kube-system', uid },
});

const pulled = { type: 'Normal', reason: 'Pulled', message: 'image pulled', component: 'kubelet' } as const;

/** The cluster's Events: the uid of the object each is about, its reason and count (sorted). */
const eventsOf = (cluster: ObjectStore) =>
  cluster
    .list(RESOURCE.events)
    .map((e) => [(e.involvedObject as { uid?: string }).uid, e.reason, e.count])
    .sort((x, y) => String(x).localeCompare(String(y)));

test('an Event happening again is counted on the one recorded, through every kind of change to the Events', () => {
  const cluster = memoryCluster();
  const a = pod('a', 'uid-a');
  const b = pod('b', 'uid-b');
  recordEvent(cluster, a, pulled, new Date(0));
  recordEvent(cluster, b, pulled, new Date(0));
  recordEvent(cluster, a, pulled, new Date(1000));
  recordEvent(cluster, a, { ...pulled, reason: 'Started' }, new Date(0));
  assert.deepEqual(eventsOf(cluster), [
    ['uid-a', 'Pulled', 2],
    ['uid-a', 'Started', 1],
    ['uid-b', 'Pulled', 1],
  ]);

  // An Event a client created about the same object, first in list order: it is the one counted.
  cluster.create(RESOURCE.events, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'a.0', namespace: 'kube-system' },
    involvedObject: { kind: 'Pod', name: 'a', namespace: 'kube-system', uid: 'uid-a' },
    reason: 'Pulled',
    message: 'image pulled',
    count: 7,
  });
  recordEvent(cluster, a, pulled, new Date(2000));
  assert.equal(cluster.get(RESOURCE.events, 'kube-system', 'a.0')?.count, 8);

  // A client moves it to another object, then deletes the other: a new one is recorded.
  const moved = cluster.get(RESOURCE.events, 'kube-system', 'a.0')!;
  cluster.update(RESOURCE.events, {
    ...moved,
    involvedObject: { ...(moved.involvedObject as object), uid: 'x' },
  });
  for (const e of cluster.list(RESOURCE.events, 'kube-system'))
    if (e.metadata.name !== 'a.0' && e.reason === 'Pulled')
      cluster.delete(RESOURCE.events, 'kube-system', e.metadata.name ?? '');
  recordEvent(cluster, a, pulled, new Date(3000));
  recordEvent(cluster, b, pulled, new Date(3000));
  assert.deepEqual(eventsOf(cluster), [
    ['uid-a', 'Pulled', 1],
    ['uid-a', 'Started', 1],
    ['uid-b', 'Pulled', 1],
    ['x', 'Pulled', 8],
  ]);

  // The same Events loaded into another store (a cluster loaded again after it left memory).
  const loaded = memoryCluster();
  for (const e of cluster.list(RESOURCE.events)) loaded.restore(RESOURCE.events, e);
  recordEvent(loaded, a, pulled, new Date(4000));
  recordEvent(loaded, b, pulled, new Date(4000));
  assert.deepEqual(eventsOf(loaded), [
    ['uid-a', 'Pulled', 2],
    ['uid-a', 'Started', 1],
    ['uid-b', 'Pulled', 2],
    ['x', 'Pulled', 8],
  ]);

  // The same uid in another namespace is another object's.
  recordEvent(loaded, { ...a, metadata: { ...a.metadata, namespace: 'default' } }, pulled, new Date(5000));
  assert.deepEqual(
    loaded.list(RESOURCE.events, 'default').map((e) => [e.reason, e.count]),
    [['Pulled', 1]],
  );
});

test("a namespace keeps its 500 latest Events, whatever else the cluster's other namespaces hold", () => {
  const cluster = memoryCluster();
  for (let i = 0; i < 30; i++) {
    const other = {
      ...pod(`d${i}`, `d${i}`),
      metadata: { name: `d${i}`, namespace: 'default', uid: `d${i}` },
    };
    recordEvent(cluster, other, pulled, new Date(0));
  }
  // Two by two in the same second: of two as old, the first in list order goes first (p0 before p1).
  for (let i = 0; i < 503; i++)
    recordEvent(cluster, pod(`p${i}`, `uid-${i}`), pulled, new Date(Math.floor(i / 2) * 1000));
  const uidsIn = (namespace: string) =>
    new Set(cluster.list(RESOURCE.events, namespace).map((e) => (e.involvedObject as { uid: string }).uid));
  assert.equal(cluster.list(RESOURCE.events, 'kube-system').length, 500);
  assert.deepEqual(
    ['uid-0', 'uid-1', 'uid-2', 'uid-3', 'uid-502'].map((uid) => uidsIn('kube-system').has(uid)),
    [false, false, false, true, true],
    'the oldest three went',
  );
  assert.equal(cluster.list(RESOURCE.events, 'default').length, 30);

  // Past the bound by more than one (Events a client created): the oldest go, as many as needed.
  for (const name of ['tie-c', 'tie-a', 'tie-b'])
    cluster.create(RESOURCE.events, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: 'kube-system' },
      involvedObject: { kind: 'Pod', name, namespace: 'kube-system', uid: name },
      reason: 'Pulled',
      lastTimestamp: '1969-12-31T23:59:59Z',
    });
  recordEvent(cluster, pod('p600', 'uid-600'), pulled, new Date(600_000));
  assert.equal(cluster.list(RESOURCE.events, 'kube-system').length, 500);
  assert.deepEqual(
    ['tie-a', 'tie-b', 'tie-c', 'uid-3', 'uid-4', 'uid-600'].map((uid) => uidsIn('kube-system').has(uid)),
    [false, false, false, false, true, true],
    "the client's three and the oldest recorded went",
  );
  // Counting again still finds the Events that stayed.
  recordEvent(cluster, pod('p502', 'uid-502'), pulled, new Date(700_000));
  assert.equal(cluster.list(RESOURCE.events, 'kube-system').filter((e) => e.count === 2).length, 1);
});

/** The cluster's Events loaded into a new cluster as the store's rows load them: text and digest. */
function loadedAsText(cluster: ObjectStore): ObjectStore {
  const loaded = memoryCluster();
  for (const e of cluster.list(RESOURCE.events))
    loaded.restoreText(RESOURCE.events, JSON.stringify(e), EVENT_DIGEST.read(EVENT_DIGEST.of(e)));
  return loaded;
}

/** How many Events `JSON.parse` read during `run` (the field manager parses its own paths). */
function eventParsesDuring(run: () => void): number {
  const parse = mock.method(JSON, 'parse');
  try {
    run();
    return parse.mock.calls.filter((call) => String(call.arguments[0]).startsWith('{"kind":"Event"')).length;
  } finally {
    parse.mock.restore();
  }
}

test('Events loaded as text are counted again, bounded and read as the Events parsed, parsing only what is read', () => {
  const cluster = memoryCluster();
  for (let i = 0; i < 499; i++)
    recordEvent(cluster, pod(`p${i}`, `uid-${i}`), pulled, new Date(Math.floor(i / 2) * 1000));
  // Events a client created: no involvedObject, no lastTimestamp, a reason that is not a string.
  cluster.create(RESOURCE.events, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'bare', namespace: 'kube-system' },
  });
  cluster.create(RESOURCE.events, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'odd', namespace: 'kube-system' },
    involvedObject: { uid: 'uid-7' },
    reason: 7,
    message: null,
    lastTimestamp: '1970-01-01T00:00:00Z',
  } as unknown as KubeObject);
  const loaded = loadedAsText(cluster);
  const parsed = memoryCluster();
  for (const e of cluster.list(RESOURCE.events)) parsed.restore(RESOURCE.events, e);

  // 501 Events in kube-system. Counting one again parses that one Event; recording new ones past
  // the bound parses only those deleted, the oldest: 'odd' and p0 (as old as 'odd' and p1, first
  // in list order), then p1.
  const changes = (c: ObjectStore) => {
    recordEvent(c, pod('p5', 'uid-5'), pulled, new Date(600_000));
    recordEvent(c, pod('q', 'uid-q'), pulled, new Date(600_000));
    recordEvent(c, pod('r', 'uid-r'), pulled, new Date(600_000));
  };
  assert.equal(
    eventParsesDuring(() => changes(loaded)),
    4,
    'only the Events the changes read are parsed',
  );
  changes(parsed);
  // The same Events (those just recorded have names and uids of their own in each cluster).
  const view = (c: ObjectStore) =>
    c.list(RESOURCE.events).map((e) => {
      const recorded = /^[qr]\./.test(e.metadata.name ?? '');
      return [
        recorded ? e.metadata.name?.slice(0, 1) : e.metadata.name,
        recorded ? undefined : e.metadata.uid,
        (e.involvedObject as { uid?: string } | undefined)?.uid,
        e.reason,
        e.count,
        e.lastTimestamp,
      ];
    });
  assert.deepEqual(view(loaded), view(parsed));
  assert.equal(loaded.get(RESOURCE.events, 'kube-system', 'odd'), undefined, 'the oldest went');
  assert.equal(loaded.get(RESOURCE.events, 'kube-system', 'bare')?.metadata.name, 'bare');
  assert.equal(loaded.list(RESOURCE.events, 'kube-system').length, 500);
  assert.deepEqual(
    loaded
      .list(RESOURCE.events)
      .find((e) => (e.involvedObject as { uid?: string } | undefined)?.uid === 'uid-5')?.count,
    2,
  );

  // Every read path sees the Events as they were stored, the same object each time.
  const again = loadedAsText(cluster);
  const stored = cluster.list(RESOURCE.events);
  const first = again.get(RESOURCE.events, 'kube-system', stored[0]!.metadata.name!);
  assert.deepEqual(first, stored[0]);
  assert.equal(again.list(RESOURCE.events)[0], first, 'a parsed Event takes the place of its text');
  assert.deepEqual(again.list(RESOURCE.events, 'kube-system'), stored);
  assert.deepEqual([...again.values(RESOURCE.events)].length, stored.length);
});

test('Events left in the store by a load: counted toward the bound, asked for past it, unread till then', () => {
  // A cluster whose load left its 499 kube-system Events (and 2 of default) in the store.
  const source = memoryCluster();
  for (let i = 0; i < 499; i++)
    recordEvent(source, pod(`p${i}`, `uid-${i}`), pulled, new Date(Math.floor(i / 2) * 1000));
  const stored = source.list(RESOURCE.events).map((e) => ({
    namespace: e.metadata.namespace ?? '',
    name: e.metadata.name ?? '',
    text: JSON.stringify(e),
    digest: EVENT_DIGEST.of(e),
  }));
  const asked: ObjectStore[] = [];
  const cluster = new ObjectStore(
    { id: 'c', version: '1.32', nodeCount: 1, resourceVersion: 1_000, busy: false, createdAt: 'T' },
    {
      persistObject: () => {},
      persistMeta: () => {},
      persistLog: () => {},
      loadDeferred: (c) => asked.push(c),
      onChange: () => {},
      now: () => new Date(0),
    },
  );
  for (const name of ['kube-system', 'default'])
    cluster.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  cluster.defer(RESOURCE.events, [
    ...stored.map((e) => [e.namespace, e.name] as const),
    ['default', 'x'],
    ['default', 'y'],
  ]);
  assert.equal(cluster.deferredCount(RESOURCE.events, 'kube-system'), 499);
  assert.equal(cluster.isDeferred(RESOURCE.events, 'kube-system', stored[0]!.name), true);
  assert.throws(
    () => cluster.list(RESOURCE.events),
    /events read before those left in the store were loaded/,
  );
  assert.throws(() => cluster.get(RESOURCE.events, 'kube-system', stored[0]!.name), /left in the store/);
  assert.throws(
    () => cluster.create(RESOURCE.events, { apiVersion: 'v1', kind: 'Event', metadata: stored[0]! }),
    (error: { code?: number }) => error.code === 409,
    "a stored Event's name is taken",
  );

  // The 500th fits: nothing asked. An Event happening again is counted among those in memory.
  recordEvent(cluster, pod('a', 'uid-a'), pulled, new Date(900_000));
  recordEvent(cluster, pod('a', 'uid-a'), pulled, new Date(901_000));
  assert.deepEqual(asked, []);
  // The 501st goes past the bound: the stored ones are asked for, and nothing is deleted yet.
  recordEvent(cluster, pod('b', 'uid-b'), pulled, new Date(902_000));
  assert.deepEqual(asked, [cluster]);

  // Brought in (as the emulator does: only those still deferred), then pruned.
  const restored: string[] = [];
  cluster.restoreDeferred(
    RESOURCE.events,
    [...stored, { namespace: 'default', name: 'not-deferred' }],
    (e) => {
      restored.push(e.name);
      if ('text' in e) cluster.restoreText(RESOURCE.events, e.text, EVENT_DIGEST.read(e.digest));
    },
  );
  assert.equal(restored.length, 499, 'only the deferred rows are restored');
  assert.equal(cluster.isDeferred(RESOURCE.events), false);
  pruneEvents(cluster);
  const kept = cluster.list(RESOURCE.events, 'kube-system');
  assert.equal(kept.length, 500);
  assert.deepEqual(
    ['uid-0', 'uid-a', 'uid-b'].map((uid) =>
      kept.some((e) => (e.involvedObject as { uid: string }).uid === uid),
    ),
    [false, true, true],
    'the oldest stored one went',
  );
  assert.equal(kept.find((e) => (e.involvedObject as { uid: string }).uid === 'uid-a')?.count, 2);
});

test('an Event of a shape seen before is stored as its text: the text the object path stores, digest and watch alike', () => {
  const persisted: { name: string; stored: unknown }[] = [];
  const sent: { type: string; object: KubeObject }[] = [];
  const cluster = new ObjectStore(
    { id: 'c', version: '1.32', nodeCount: 1, resourceVersion: 0, busy: false, createdAt: 'T' },
    {
      persistObject: (_cluster, resource, _namespace, name, stored) => {
        if (resource === RESOURCE.events) persisted.push({ name, stored });
      },
      persistMeta: () => {},
      persistLog: () => {},
      loadDeferred: () => {},
      onChange: () => {},
      now: () => new Date(Date.UTC(2026, 11, 6, 8, 0, 0)),
    },
  );
  for (const name of ['kube-system', 'default'])
    cluster.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  cluster.watchers.add({
    resource: RESOURCE.events,
    namespace: undefined,
    send: (event) => sent.push({ type: event.type, object: event.object }),
    close: () => {},
  });
  // A component of its own: its shapes are new to this process, so each first Event takes the
  // object path and teaches the shape's tree.
  const component = `events-test-${process.pid}-${Date.now()}`;
  const shapes: [string, KubeObject, Partial<EventInput>][] = [
    ['with host', pod('a', 'uid-a'), { host: 'node-1' }],
    ['without host', pod('a', 'uid-a'), {}],
    [
      'involved object without kind and apiVersion, escapes in the message',
      {
        metadata: { name: 'cm', namespace: 'default', uid: 'uid-c', resourceVersion: '5' },
      } as unknown as KubeObject,
      { message: 'say "hé" \\ \u2028 \u0007 😀' },
    ],
  ];
  /** The members the two Events differ by, replaced: the rest must read the same, in the same order. */
  const normalized = (event: KubeObject) => {
    const copy = JSON.parse(JSON.stringify(event));
    for (const key of ['name', 'uid', 'resourceVersion', 'creationTimestamp']) copy.metadata[key] = key;
    copy.metadata.managedFields[0].time = 'time';
    for (const key of ['name', 'uid', 'resourceVersion']) copy.involvedObject[key] = key;
    copy.firstTimestamp = copy.lastTimestamp = 'time';
    return JSON.stringify(copy);
  };
  for (const shape of shapes) {
    const [what, object, overrides] = shape;
    // A reason of its own: no Event of another shape is counted again instead.
    const input = { ...pulled, component, reason: `Shape${shapes.indexOf(shape)}`, ...overrides };
    const other = {
      ...object,
      metadata: { ...object.metadata, name: 'other', uid: 'uid-other', resourceVersion: '9' },
    };
    persisted.length = 0;
    sent.length = 0;
    recordEvent(cluster, object, input, new Date(Date.UTC(2026, 11, 6, 8, 0, 1)));
    recordEvent(cluster, other, input, new Date(Date.UTC(2026, 11, 6, 8, 0, 2)));
    assert.equal(persisted.length, 2, what);
    const [first, second] = persisted as [
      { name: string; stored: unknown },
      { name: string; stored: unknown },
    ];
    assert.ok(!(first.stored instanceof StoredText), `${what}: the first of its shape is built as an object`);
    assert.ok(second.stored instanceof StoredText, `${what}: the next one is stored as its text`);
    const stored = second.stored;
    const namespace = object.metadata.namespace!;
    const viaObject = cluster.get(RESOURCE.events, namespace, first.name)!;
    const viaText = cluster.get(RESOURCE.events, namespace, second.name)!;
    assert.equal(normalized(viaText), normalized(viaObject), `${what}: the same members, in the same order`);
    assert.equal(stored.text, JSON.stringify(viaText), `${what}: the stored text is the object's JSON`);
    assert.equal((viaText.involvedObject as { uid: string }).uid, 'uid-other');
    assert.equal(viaText.lastTimestamp, '2026-12-06T08:00:02Z');
    assert.equal(viaText.metadata.creationTimestamp, '2026-12-06T08:00:00Z');
    assert.equal(viaText.metadata.resourceVersion, String(cluster.meta.resourceVersion));
    assert.equal(stored.digestText, EVENT_DIGEST.of(viaText), `${what}: the digest the object path writes`);
    assert.deepEqual(
      sent.map((event) => [event.type, event.object.metadata.name]),
      [
        ['ADDED', first.name],
        ['ADDED', second.name],
      ],
      `${what}: both reach the watchers`,
    );
    assert.deepEqual(sent[1]!.object, viaText);
    // Happening again, it is counted on the Event stored as text.
    recordEvent(cluster, other, input, new Date(Date.UTC(2026, 11, 6, 8, 0, 3)));
    assert.equal(cluster.get(RESOURCE.events, namespace, second.name)?.count, 2, what);
  }
});

test("an object created as its text gets create's checks: its name, its namespace, a free name", () => {
  const cluster = memoryCluster();
  recordEvent(cluster, pod('a', 'uid-a'), pulled, new Date(0));
  const [taken] = cluster.list(RESOURCE.events);
  const before = cluster.meta.resourceVersion;
  const compose = () => {
    throw new Error('not composed: the checks come first');
  };
  const refused = (namespace: string, name: string) => () =>
    cluster.createText(RESOURCE.events, namespace, name, compose, undefined);
  assert.throws(refused('kube-system', 'Not_A_Name'), { code: 422 });
  assert.throws(refused('absent', 'e.1'), { code: 404, message: 'namespaces "absent" not found' });
  assert.throws(refused('kube-system', taken!.metadata.name!), { code: 409 });
  assert.equal(cluster.meta.resourceVersion, before, 'no resourceVersion taken');
  assert.deepEqual(
    cluster.list(RESOURCE.events).map((event) => event.metadata.name),
    [taken!.metadata.name],
    'nothing stored',
  );
});
