import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDefaults } from './defaults.ts';
import type { KubeObject } from './objects.ts';
import { RESOURCE } from './resources.ts';

/** The value at a dotted path (list items by index). */
const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);

const minimal = (): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'DaemonSet',
  metadata: { name: 'd' },
  spec: {
    template: {
      spec: {
        containers: [
          {
            name: 'c',
            image: 'example/c:1.0',
            env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          },
          { name: 'latest', image: 'example/c' },
        ],
        volumes: [
          { name: 'v', configMap: { name: 'cm' } },
          { name: 'h', hostPath: { path: '/x' } },
        ],
        serviceAccountName: 'sa',
      },
    },
  },
});

test('a DaemonSet written without defaults reads back with those kube-apiserver fills in', () => {
  const object = minimal();
  const before = object.spec;
  applyDefaults(RESOURCE.daemonsets, object);
  assert.deepEqual(minimal().spec, before, 'the given spec is replaced, not changed in place');
  const spec = object.spec;
  assert.equal(at(spec, 'revisionHistoryLimit'), 10);
  assert.deepEqual(at(spec, 'updateStrategy'), {
    type: 'RollingUpdate',
    rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
  });
  assert.equal(at(spec, 'template.metadata.creationTimestamp'), null);
  assert.equal(at(spec, 'template.spec.restartPolicy'), 'Always');
  assert.equal(at(spec, 'template.spec.dnsPolicy'), 'ClusterFirst');
  assert.equal(at(spec, 'template.spec.serviceAccount'), 'sa');
  assert.equal(at(spec, 'template.spec.containers.0.imagePullPolicy'), 'IfNotPresent');
  assert.equal(at(spec, 'template.spec.containers.1.imagePullPolicy'), 'Always');
  assert.equal(at(spec, 'template.spec.containers.0.env.0.valueFrom.fieldRef.apiVersion'), 'v1');
  assert.equal(at(spec, 'template.spec.volumes.0.configMap.defaultMode'), 420);
  assert.equal(at(spec, 'template.spec.volumes.1.hostPath.type'), '');
});

test('values given are kept, and a spec already defaulted stays the same object', () => {
  const object = minimal();
  const spec = object.spec as Record<string, unknown>;
  spec.updateStrategy = { type: 'OnDelete' };
  (at(spec, 'template.spec') as Record<string, unknown>).restartPolicy = 'Never';
  applyDefaults(RESOURCE.daemonsets, object);
  assert.deepEqual(at(object.spec, 'updateStrategy'), { type: 'OnDelete' });
  assert.equal(at(object.spec, 'template.spec.restartPolicy'), 'Never');
  const defaulted = object.spec;
  applyDefaults(RESOURCE.daemonsets, object);
  assert.equal(object.spec, defaulted);
});

test('a spec that has every default is kept as it is, without a copy; one missing one is copied', () => {
  const once = minimal();
  applyDefaults(RESOURCE.daemonsets, once);
  // A new object with the defaulted spec's content: not known as defaulted, yet nothing to add.
  const complete = { ...once, spec: JSON.parse(JSON.stringify(once.spec)) } as KubeObject;
  const spec = complete.spec;
  applyDefaults(RESOURCE.daemonsets, complete);
  assert.equal(complete.spec, spec);
  // One default missing deep down: filled in on a copy, the rest as before.
  const lacking = { ...once, spec: JSON.parse(JSON.stringify(once.spec)) } as KubeObject;
  delete (at(lacking.spec, 'template.spec.containers.1') as Record<string, unknown>).imagePullPolicy;
  const given = lacking.spec;
  applyDefaults(RESOURCE.daemonsets, lacking);
  assert.notEqual(lacking.spec, given);
  assert.equal(at(given, 'template.spec.containers.1.imagePullPolicy'), undefined, 'not changed in place');
  assert.deepEqual(lacking.spec, once.spec);
  // A spec the defaults cannot walk fails as it did.
  const odd = { ...once, spec: { template: { spec: { containers: 5 } } } } as unknown as KubeObject;
  assert.throws(() => applyDefaults(RESOURCE.daemonsets, odd), TypeError);
});
