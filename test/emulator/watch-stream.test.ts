/**
 * A watch's stream as kube-apiserver writes it: one line per event, `{"type":…,"object":…}`, the
 * object as a GET answers it (the events are written from the objects' kept text), from a
 * resourceVersion (the change log) and without one (the current objects first, as ADDED).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { openWatch } from '../reliability/raw-http.ts';
import { DIALECTS } from '../support/dialects.ts';
import { waitFor } from '../support/wait.ts';
import { type EmulatorHarness, suiteHarness } from './harness.ts';

const CLUSTER = '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f';
const PATH = '/api/v1/namespaces/default/configmaps';

/** The stream's complete lines, each parsed; every line must be the canonical text of what it parses to. */
function events(text: string): { type: string; object: Record<string, unknown> }[] {
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => {
      const event = JSON.parse(line) as { type: string; object: Record<string, unknown> };
      assert.equal(line, JSON.stringify({ type: event.type, object: event.object }));
      return event;
    });
}

for (const dialect of DIALECTS) {
  describe(`watch streams (${dialect})`, { timeout: 60_000 }, () => {
    const suite = suiteHarness(dialect, {
      clusterId: CLUSTER,
      token: 'watch-stream-token',
      podStartMs: 0,
      nodeCount: 1,
      version: '1.32.13',
    });
    let harness: EmulatorHarness;
    before(() => {
      harness = suite.harness();
    });

    test('each event is one line of type and object, the object as GET answers it', async () => {
      const { core } = harness.kube;
      const list = await core.listNamespacedConfigMap({ namespace: 'default' });
      const from = list.metadata?.resourceVersion ?? '';
      const watch = await openWatch(harness.kube, `${PATH}?watch=1&resourceVersion=${from}`);
      assert.equal(watch.status, 200);
      try {
        await core.createNamespacedConfigMap({
          namespace: 'default',
          body: { metadata: { name: 'watched', labels: { app: 'w' } }, data: { k: 'v1' } },
        });
        const { body: created } = await harness.kube.status(`${PATH}/watched`);
        await core.replaceNamespacedConfigMap({
          name: 'watched',
          namespace: 'default',
          body: { metadata: { name: 'watched' }, data: { k: 'v2' } },
        });
        const { body: replaced } = await harness.kube.status(`${PATH}/watched`);
        await core.deleteNamespacedConfigMap({ name: 'watched', namespace: 'default' });
        const seen = await waitFor(
          () => {
            const all = events(watch.text());
            return all.length >= 3 ? all : undefined;
          },
          { timeoutMs: 10_000, what: 'the watch to deliver the three events' },
        );
        assert.deepEqual(
          seen.map((e) => e.type),
          ['ADDED', 'MODIFIED', 'DELETED'],
        );
        assert.deepEqual(seen[0]!.object, JSON.parse(created));
        assert.deepEqual(seen[1]!.object, JSON.parse(replaced));
        assert.equal((seen[2]!.object.metadata as { name?: string }).name, 'watched', 'the deleted object');
      } finally {
        watch.close();
      }

      // Without a resourceVersion: the objects there are first, as ADDED, each as GET answers it.
      await core.createNamespacedConfigMap({
        namespace: 'default',
        body: { metadata: { name: 'present' }, data: { k: 'v' } },
      });
      const { body: present } = await harness.kube.status(`${PATH}/present`);
      const initial = await openWatch(
        harness.kube,
        `${PATH}?watch=true&fieldSelector=metadata.name%3Dpresent`,
      );
      try {
        const [added] = await waitFor(
          () => {
            const all = events(initial.text());
            return all.length >= 1 ? all : undefined;
          },
          { timeoutMs: 10_000, what: 'the watch to list the present ConfigMap' },
        );
        assert.equal(added!.type, 'ADDED');
        assert.deepEqual(added!.object, JSON.parse(present));
      } finally {
        initial.close();
      }
    });
  });
}
