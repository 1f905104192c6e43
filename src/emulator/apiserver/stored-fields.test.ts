import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeProxyDaemonSet } from '../cluster/kubeadm-objects.ts';
import { trackUpdate } from './managed-fields.ts';
import { jsonOf, type KubeObject, parseJson } from './objects.ts';
import { fieldsV1Ranges } from './stored-fields.ts';

const entry = (manager: string, fieldsV1: unknown, extra: Record<string, unknown> = {}) => ({
  manager,
  operation: 'Update',
  apiVersion: 'v1',
  time: '2026-12-06T10:00:00Z',
  fieldsType: 'FieldsV1',
  fieldsV1,
  ...extra,
});

/** Texts as the store keeps them (JSON.stringify's layout), with awkward members around the trees. */
const TEXTS: Record<string, object> = {
  'two managers, keys with escaped quotes': {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      annotations: { note: 'a "quoted" } { value \\', 'x/y': '[]' },
      managedFields: [
        entry('a', { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } }),
        entry(
          'b',
          { 'f:spec': { 'f:containers': { 'k:{"name":"c"}': { '.': {}, 'f:image': {} } } } },
          {
            subresource: 'status',
          },
        ),
      ],
    },
    spec: { containers: [{ name: 'c', image: 'i' }] },
  },
  'metadata after other members, numbers and literals': {
    count: 3,
    ok: true,
    none: null,
    list: [1, 'two', { three: [3] }],
    metadata: { generation: 2, managedFields: [entry('m', { 'f:data': { 'f:k': {} } })] },
    data: { k: 'v' },
  },
  'an entry without fieldsV1, and one that is not an object': {
    metadata: { managedFields: [{ manager: 'x' }, 'odd', entry('y', { 'f:a': {} })] },
  },
  'a managedFields key outside metadata': {
    spec: { managedFields: [entry('not-metadata', { 'f:z': {} })] },
    metadata: { name: 'n', managedFields: [entry('real', { 'f:a': { '.': {} } })] },
  },
  'unicode and control characters in values': {
    metadata: {
      name: 'u',
      labels: { t: 'é\u2028\u0001😀\\"' },
      managedFields: [entry('u', { 'f:metadata': { 'f:labels': { 'f:t': {} } } })],
    },
  },
};

/** Every fieldsV1 object member of a JSON value, in the order JSON.stringify writes them. */
function fieldsV1Members(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) fieldsV1Members(item, out);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, member] of Object.entries(value)) {
      if (key === 'fieldsV1' && typeof member === 'object' && member !== null && !Array.isArray(member))
        out.push(JSON.stringify(member));
      fieldsV1Members(member, out);
    }
  }
  return out;
}

test('fieldsV1Ranges finds every fieldsV1 object member of a text, as written', () => {
  for (const [name, object] of Object.entries(TEXTS)) {
    const text = JSON.stringify(object);
    const ranges = fieldsV1Ranges(text);
    assert.ok(ranges !== undefined, name);
    assert.deepEqual(
      Array.from({ length: ranges.length / 2 }, (_, index) =>
        text.slice(ranges[index * 2], ranges[index * 2 + 1]),
      ),
      fieldsV1Members(object),
      name,
    );
  }
  // A member name inside a string is not one: its quotes are escaped.
  const inString = JSON.stringify({ metadata: { annotations: { a: '{"fieldsV1":{"f:x":{}}}' } } });
  assert.deepEqual(fieldsV1Ranges(inString), []);
  assert.deepEqual(fieldsV1Ranges('{}'), []);
  assert.deepEqual(fieldsV1Ranges('{"metadata":{"managedFields":[]}}'), []);
  // Laid out otherwise (white space): not found, so the text is parsed whole.
  assert.deepEqual(fieldsV1Ranges('{"metadata":{"managedFields":[{"fieldsV1": {"a":{}}}]}}'), []);
});

test('fieldsV1Ranges gives up on an object that does not end', () => {
  for (const text of [
    '{"metadata":{"managedFields":[{"fieldsV1":{"a":{}',
    '{"metadata":{"managedFields":[{"fieldsV1":{"k:{\\"name\\":\\"a\\"}":{}',
    '{"fieldsV1":{"unterminated}}}',
  ]) {
    assert.equal(fieldsV1Ranges(text), undefined, text);
  }
});

test('parseJson reads what JSON.parse reads, and shares the trees of equal texts', () => {
  for (const [name, object] of Object.entries(TEXTS)) {
    const text = JSON.stringify(object);
    const parsed = parseJson(text);
    assert.deepEqual(parsed, JSON.parse(text), name);
    assert.equal(JSON.stringify(parsed), text, name);
    assert.equal(jsonOf(parsed), text, name);
  }
  const text = JSON.stringify(TEXTS['two managers, keys with escaped quotes']);
  const [first, second] = [parseJson(text), parseJson(text)];
  assert.notEqual(first, second);
  const trees = (object: KubeObject) => object.metadata.managedFields!.map((e) => e.fieldsV1);
  trees(first).forEach((tree, index) => {
    assert.equal(tree, trees(second)[index], 'one tree for one text');
    assert.ok(Object.isFrozen(tree));
  });
  // A null where the text had one is the text's own: the object is still read right.
  const withNull = JSON.stringify({
    metadata: { managedFields: [entry('n', null), entry('o', { 'f:a': {} })] },
  });
  assert.deepEqual(parseJson(withNull), JSON.parse(withNull));
  // Trees outside managedFields, or two in one entry, do not match its entries: read whole.
  const outside = JSON.stringify(TEXTS['a managedFields key outside metadata']);
  assert.deepEqual(parseJson(outside), JSON.parse(outside));
  const duplicate = '{"metadata":{"managedFields":[{"fieldsV1":{"a":{}},"fieldsV1":{"b":{}}}]}}';
  assert.deepEqual(parseJson(duplicate), JSON.parse(duplicate));
  // Not JSON: refused as JSON.parse refuses it.
  assert.throws(() => parseJson('{"metadata":{"managedFields":[{"fieldsV1":{"a":{}}'), SyntaxError);
});

test('an object read back from its text is written as the object it was', () => {
  // A DaemonSet as the emulator stores it (created, then its status written), read back and
  // updated: the next version's text is that of the object never stored, its managers the same.
  const ds = kubeProxyDaemonSet('1.32.0');
  ds.metadata.namespace = 'kube-system';
  trackUpdate(undefined, ds, 'kubeadm', '2026-12-06T10:00:00Z');
  const withStatus: KubeObject = { ...ds, status: { desiredNumberScheduled: 3, numberReady: 3 } };
  trackUpdate(ds, withStatus, 'kube-controller-manager', '2026-12-06T10:00:01Z', 'status');
  const text = jsonOf(withStatus);
  const read = parseJson(text);
  assert.deepEqual(read, withStatus);
  const update = (object: KubeObject): KubeObject => {
    const spec = object.spec as Record<string, unknown>;
    const next: KubeObject = { ...object, spec: { ...spec, minReadySeconds: 5 } };
    trackUpdate(object, next, 'mks', '2026-12-06T11:00:00Z');
    return next;
  };
  const [fromRead, fromStored] = [update(read), update(withStatus)];
  assert.equal(JSON.stringify(fromRead), JSON.stringify(fromStored));
  assert.equal(jsonOf(fromRead), jsonOf(fromStored));
  // The managers the update left alone keep the tree read back, shared.
  const kept = fromRead.metadata.managedFields!.find((e) => e.manager === 'kubeadm')!;
  assert.equal(kept.fieldsV1, read.metadata.managedFields!.find((e) => e.manager === 'kubeadm')!.fieldsV1);
});
