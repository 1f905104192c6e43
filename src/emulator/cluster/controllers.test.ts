import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { ObjectStore } from '../apiserver/object-store.ts';
import { RESOURCE } from '../apiserver/resources.ts';
import { Controllers } from './controllers.ts';
import { ROOT_CA_CONFIG_MAP, SERVICE_CA_CONFIG_MAP } from './namespace-controller.ts';

/** A cluster in memory whose every change reaches the controllers, as the emulator wires them. */
function cluster(): { cluster: ObjectStore; controllers: Controllers } {
  const controllers = new Controllers({
    logger: pino({ level: 'silent' }),
    podStartMs: 0,
    now: () => new Date(0),
    caPem: 'CA',
  });
  const store: ObjectStore = new ObjectStore(
    { id: 'c', version: '1.32', nodeCount: 0, resourceVersion: 0, busy: false, createdAt: 'T' },
    {
      persistObject: () => {},
      persistMeta: () => {},
      persistLog: () => {},
      loadDeferred: () => {},
      onChange: (changed, event) => controllers.onChange(changed, event),
      now: () => new Date(0),
    },
  );
  return { cluster: store, controllers };
}

const defaults = (store: ObjectStore, namespace: string) => [
  store.get(RESOURCE.serviceaccounts, namespace, 'default')?.metadata.name,
  store.get(RESOURCE.configmaps, namespace, ROOT_CA_CONFIG_MAP)?.data,
  store.get(RESOURCE.configmaps, namespace, SERVICE_CA_CONFIG_MAP)?.metadata.name,
];
const complete = ['default', { 'ca.crt': 'CA' }, SERVICE_CA_CONFIG_MAP];

test('every namespace gets its default objects back after any change, syncs after syncs', () => {
  const { cluster: store, controllers } = cluster();
  store.create(RESOURCE.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'kube-system' },
  });
  controllers.sync(store);
  assert.deepEqual(defaults(store, 'kube-system'), complete);

  // Syncs for other reasons (a pod, a node) in between leave them as they are.
  store.create(RESOURCE.nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-0' } });
  controllers.sync(store);
  assert.deepEqual(defaults(store, 'kube-system'), complete);

  // Each of them deleted by a client comes back at the next sync.
  for (const [resource, name] of [
    [RESOURCE.configmaps, ROOT_CA_CONFIG_MAP],
    [RESOURCE.configmaps, SERVICE_CA_CONFIG_MAP],
    [RESOURCE.serviceaccounts, 'default'],
  ] as const) {
    store.delete(resource, 'kube-system', name);
    controllers.sync(store);
    controllers.sync(store);
    assert.deepEqual(defaults(store, 'kube-system'), complete, `${resource.name} ${name}`);
  }

  // A new namespace gets them too.
  store.create(RESOURCE.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } });
  controllers.sync(store);
  assert.deepEqual(defaults(store, 'team'), complete);

  // Another cluster (as one loaded again from the store) gets its own first pass.
  const { cluster: other, controllers: others } = cluster();
  other.restore(RESOURCE.namespaces, {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'restored', uid: 'u', resourceVersion: '1' },
  });
  others.sync(other);
  assert.deepEqual(defaults(other, 'restored'), complete);
});
