/**
 * What a load of an evicted cluster does, on every engine (docs/emulator.md, "Idle clusters leave
 * memory"): a cluster this process evicted, settled, is loaded as it was stored, and no controller
 * sync runs for it; a cluster the process did not evict itself (after a restart) is synced when it
 * loads, so work in flight resumes. To tell the two apart, a kube-proxy pod's row is deleted from
 * the store while the cluster is out of memory: a state the DaemonSet controller would repair (it
 * recreates the pod), and nothing else could have made. On PostgreSQL also with the clusters leased
 * as under scale-out (`LeaseOwnership`), where the stored resourceVersion tells the same.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { indexedNodes } from '../../src/emulator/cluster/kubeadm-objects.ts';
import { LeaseOwnership } from '../../src/emulator/scale-out/ownership.postgres.ts';
import { createTestDatabase, DIALECTS, type Dialect, type TestDatabase } from '../support/dialects.ts';
import { waitFor } from '../support/wait.ts';
import { type EmulatorHarness, startEmulatorHarness } from './harness.ts';

const TOKEN = 'reload-test-token';
const CLUSTER = '5d1c9a42-7e3b-4f60-8a21-0b9c8d7e6f54';
const TIMEOUT = { timeoutMs: 20_000, intervalMs: 25 };

const CASES = DIALECTS.flatMap((dialect): { dialect: Dialect; leases: boolean }[] =>
  dialect === 'postgres'
    ? [
        { dialect, leases: false },
        { dialect, leases: true },
      ]
    : [{ dialect, leases: false }],
);

for (const { dialect, leases } of CASES) {
  const name = `${dialect}${leases ? ', clusters leased' : ''}`;
  describe(`loading an evicted emulated cluster (${name})`, { timeout: 60_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-emulator-reload-'));
    let testDatabase: TestDatabase;
    let harness: EmulatorHarness | undefined;

    const start = async () => {
      harness = await startEmulatorHarness({
        dir,
        database: testDatabase.config,
        clusterId: CLUSTER,
        token: TOKEN,
        podStartMs: 0,
        residency: { idleMs: 100, maxLoaded: 16 },
        ...(leases
          ? {
              // One process: the URL other processes would forward to is never dialled.
              ownership: (database) =>
                new LeaseOwnership(database, {
                  url: 'https://127.0.0.1:1',
                  leaseMs: 30_000,
                  onError: () => {},
                }),
            }
          : {}),
      });
      return harness;
    };
    const untilEvicted = (h: EmulatorHarness, what: string) =>
      waitFor(() => h.emulator.residency().loaded === 0, {
        ...TIMEOUT,
        what: `the cluster to leave memory ${what}`,
      });
    /** Opens a watch on kube-system's ConfigMaps, which keeps the cluster in memory while open. */
    const holdLoaded = async (h: EmulatorHarness) => {
      const kc = new KubeConfig();
      kc.loadFromFile(h.kubeconfigFile);
      const ended = { error: undefined as unknown, done: false };
      const request = await new Watch(kc).watch(
        '/api/v1/namespaces/kube-system/configmaps',
        { allowWatchBookmarks: false },
        () => {},
        (error) => {
          ended.error = error;
          ended.done = true;
        },
      );
      return {
        /** Whether the watch ended before it was closed (and why). */
        ended,
        close: () => request.abort(),
      };
    };
    const podNames = async (h: EmulatorHarness) =>
      (await h.kube.kubeProxyPods()).map((pod) => pod.metadata!.name!).sort();

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      const h = await start();
      await h.emulator.ensureCluster({ id: CLUSTER, nodes: indexedNodes(CLUSTER, 3), version: '1.32' });
    });
    after(async () => {
      await harness?.stop();
      await testDatabase?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('a settled cluster loads as stored, with no controller sync; after a restart it syncs', async () => {
      let h = harness!;
      const installed = await podNames(h);
      assert.equal(installed.length, 3);
      await untilEvicted(h, 'after the install');

      // Out of memory: a pod's row goes, its resourceVersion stays (nothing a client could do).
      const gone = installed[0]!;
      const deleted = await h.database.db
        .deleteFrom('emulator_objects')
        .where('cluster_id', '=', CLUSTER)
        .where('resource', '=', 'pods')
        .where('name', '=', gone)
        .executeTakeFirst();
      assert.equal(deleted.numDeletedRows, 1n);

      const loads = h.emulator.residency().loads;
      assert.deepEqual(await podNames(h), installed.slice(1), 'the load serves what is stored');
      assert.equal(h.emulator.residency().loads, loads + 1, 'the list loaded the cluster');
      // Had a sync been queued by the load, it would run (recreating the pod) before the cluster
      // could leave memory again: evictable clusters have nothing queued.
      await untilEvicted(h, 'after the list');
      assert.deepEqual(await podNames(h), installed.slice(1), 'no controller synced the loaded cluster');
      await untilEvicted(h, 'after the second list');

      // A restarted process did not evict the cluster: its load syncs, the pod is back.
      await h.stop();
      h = await start();
      const repaired = await waitFor(
        async () => {
          const names = await podNames(h);
          return names.length === 3 && !names.includes(gone) && names;
        },
        { ...TIMEOUT, what: 'the DaemonSet controller to recreate the pod' },
      );
      assert.deepEqual(
        repaired.filter((name) => installed.includes(name)),
        installed.slice(1),
        'the other pods stay',
      );
    });

    test('objects whose text is not ASCII read back as written after a load, and those stored beside them', async () => {
      const h = harness!;
      type ConfigMap = { metadata: { name: string; resourceVersion: string }; data?: Record<string, string> };
      // Multi-byte UTF-8 of every length (2, 3 and 4 bytes), in objects stored next to each other
      // and next to ASCII ones: a load that cut the bodies by characters instead of bytes would
      // shift every body after the first.
      const texts: Record<string, string> = {
        'text-a': 'naïve café',
        'text-b': 'ascii only',
        'text-c': '— ☃ 日本語 — 𝄞 🙂',
        'text-d': '',
      };
      for (const [name, text] of Object.entries(texts))
        await h.kube.kubectl('create', 'configmap', name, '-n', 'default', `--from-literal=text=${text}`);
      const read = async () =>
        Promise.all(
          Object.keys(texts).map((name) => h.kube.json<ConfigMap>('get', 'configmap', name, '-n', 'default')),
        );
      const written = await read();
      assert.deepEqual(
        written.map((configMap) => configMap.data?.text ?? ''),
        Object.values(texts),
      );
      await untilEvicted(h, 'after the ConfigMaps were written');
      const loads = h.emulator.residency().loads;
      // Held in memory from one load (four kubectl processes may start far apart on a busy machine).
      const held = await holdLoaded(h);
      try {
        assert.equal(h.emulator.residency().loads, loads + 1, 'the watch loaded the cluster');
        assert.deepEqual(await read(), written, 'the loaded cluster serves them as written');
        assert.equal(h.emulator.residency().loads, loads + 1, 'the reads were served from that load');
      } finally {
        held.close();
      }
      for (const name of Object.keys(texts))
        await h.kube.kubectl('delete', 'configmap', name, '-n', 'default');
    });

    test('Events read back as stored, kept as text or parsed on load, and new ones recorded beside them', async () => {
      const h = harness!;
      type EventList = { items: { metadata: { name: string }; reason: string; count: number }[] };
      const events = () => h.kube.json<EventList>('get', 'events', '-n', 'kube-system');
      const digests = () =>
        h.database.db
          .selectFrom('emulator_objects')
          .select('digest')
          .where('cluster_id', '=', CLUSTER)
          .where('resource', '=', 'events')
          .execute();
      await untilEvicted(h, 'before the Events are read');
      const stored = await events();
      assert.ok(stored.items.length > 0, 'the cluster recorded Events');
      await untilEvicted(h, 'after the Events were read');
      const rows = await digests();
      assert.equal(rows.length, stored.items.length);
      assert.ok(
        rows.every((row) => row.digest !== null),
        'every Event is stored with its digest',
      );
      assert.deepEqual(await events(), stored, 'Events kept as text until listed read as stored');
      await untilEvicted(h, 'after the second read');

      // Rows written before digests were stored: parsed when the Event index is built or they are read, the same Events.
      await h.database.db
        .updateTable('emulator_objects')
        .set({ digest: null })
        .where('cluster_id', '=', CLUSTER)
        .where('resource', '=', 'events')
        .execute();
      assert.deepEqual(await events(), stored, 'Events without a digest read as stored');
      await untilEvicted(h, 'after the read of Events without a digest');

      // A rollout of the cluster loaded with its Events as text records its own beside them.
      const old = await podNames(h);
      await h.kube.kubectl('rollout', 'restart', 'ds/kube-proxy', '-n', 'kube-system');
      const rolled = await waitFor(
        async () => {
          const names = await podNames(h);
          return names.length === 3 && names.every((name) => !old.includes(name)) && names;
        },
        { ...TIMEOUT, what: 'the kube-proxy pods to be replaced' },
      );
      const after = await waitFor(
        async () => {
          const list = await events();
          const scheduled = list.items.filter((e) => e.reason === 'Scheduled').map((e) => e.metadata.name);
          return rolled.every((pod) => scheduled.some((name) => name.startsWith(`${pod}.`))) && list;
        },
        { ...TIMEOUT, what: "the new pods' Scheduled Events" },
      );
      const byName = new Map(after.items.map((e) => [e.metadata.name, e]));
      for (const e of stored.items)
        assert.deepEqual(byName.get(e.metadata.name), e, `Event ${e.metadata.name} is kept as it was`);
      assert.ok(after.items.length > stored.items.length, 'the rollout recorded Events');
    });

    test('Events stay in the store until something reads them; a namespace deleted takes its stored ones', async () => {
      const h = harness!;
      type EventList = { items: { metadata: { name: string }; message: string }[] };
      const namespace = 'stored-events';
      const event = (name: string) => ({
        metadata: { name, namespace },
        involvedObject: { kind: 'Namespace', apiVersion: 'v1', name: namespace },
        reason: 'Tested',
        message: `event ${name}`,
        type: 'Normal',
        source: { component: 'reload-test' },
      });
      await h.kube.kubectl('create', 'namespace', namespace);
      for (const name of ['first', 'second'])
        await h.kube.core.createNamespacedEvent({ namespace, body: event(name) });
      await untilEvicted(h, 'after the Events were created');
      const { eventLoads, loads } = h.emulator.residency();

      // An open watch (of kube-system's ConfigMaps, no Event) loads the cluster and holds it in
      // memory until the reads below are done: with an idle bound of 100 ms, a pause between two
      // kubectl calls could otherwise evict it, and the next call read the stored Events again.
      const held = await holdLoaded(h);
      try {
        assert.equal(h.emulator.residency().loads, loads + 1, 'the watch loaded the cluster');
        assert.equal(h.emulator.residency().eventLoads, eventLoads, 'the load read no stored Event');

        // A rollout records Events beside those stored, reading none of them.
        const old = await podNames(h);
        // A template change of its own (`rollout restart` refuses a second one within the second).
        const template = {
          spec: { template: { metadata: { annotations: { 'reload-test/roll': 'stored-events' } } } },
        };
        await h.kube.kubectl(
          'patch',
          'ds',
          'kube-proxy',
          '-n',
          'kube-system',
          '-p',
          JSON.stringify(template),
        );
        await waitFor(
          async () => {
            const names = await podNames(h);
            return names.length === 3 && names.every((name) => !old.includes(name));
          },
          { ...TIMEOUT, what: 'the kube-proxy pods to be replaced' },
        );
        assert.equal(h.emulator.residency().eventLoads, eventLoads, 'the rollout read no stored Event');
        // A create under a stored Event's name is refused, still without reading them.
        await assert.rejects(
          h.kube.core.createNamespacedEvent({ namespace, body: event('first') }),
          (error: { code?: number; body?: string }) =>
            error.code === 409 &&
            /events "first" already exists/.test(JSON.parse(String(error.body)).message),
        );
        assert.equal(
          h.emulator.residency().eventLoads,
          eventLoads,
          'the refused create read no stored Event',
        );

        // A list reads them, once: then they are in memory with the new ones.
        const listed = await h.kube.json<EventList>('get', 'events', '-n', namespace);
        assert.deepEqual(
          listed.items.map((e) => [e.metadata.name, e.message]),
          [
            ['first', 'event first'],
            ['second', 'event second'],
          ],
        );
        assert.equal(h.emulator.residency().eventLoads, eventLoads + 1, 'the list read the stored Events');
        const system = await h.kube.json<EventList>('get', 'events', '-n', 'kube-system');
        assert.ok(
          system.items.some((e) => old.some((pod) => e.message === `Deleted pod: ${pod}`)),
          "the rollout's Events are there beside the stored ones",
        );
        assert.equal(h.emulator.residency().eventLoads, eventLoads + 1, 'read once');
        assert.equal(h.emulator.residency().loads, loads + 1, 'the cluster stayed in memory throughout');
        assert.equal(held.ended.done, false, `the watch stayed open (${String(held.ended.error)})`);
      } finally {
        held.close();
      }

      // Out of memory again, the namespace's deletion deletes its Events still in the store only.
      await untilEvicted(h, 'after the Events were read');
      await h.kube.kubectl('delete', 'namespace', namespace, '--wait=false');
      assert.equal(h.emulator.residency().eventLoads, eventLoads + 2, 'the deletion read the stored Events');
      await untilEvicted(h, 'after the namespace was deleted');
      const rows = await h.database.db
        .selectFrom('emulator_objects')
        .select('name')
        .where('cluster_id', '=', CLUSTER)
        .where('resource', '=', 'events')
        .where('namespace', '=', namespace)
        .execute();
      assert.deepEqual(rows, [], "the namespace's Events are gone from the store");
    });

    test("a settled cluster's change does not sync its namespaces again; after a restart it does", async () => {
      let h = harness!;
      type List = { items: { metadata: { name: string } }[] };
      const accounts = async () =>
        (await h.kube.json<List>('get', 'serviceaccounts', '-n', 'default')).items.map(
          (a) => a.metadata.name,
        );
      assert.deepEqual(await accounts(), ['default']);
      await untilEvicted(h, 'before the row is deleted');
      // Out of memory: the namespace's ServiceAccount row goes (nothing a client could do).
      const deleted = await h.database.db
        .deleteFrom('emulator_objects')
        .where('cluster_id', '=', CLUSTER)
        .where('resource', '=', 'serviceaccounts')
        .where('namespace', '=', 'default')
        .executeTakeFirst();
      assert.equal(deleted.numDeletedRows, 1n);

      // A change of the DaemonSet syncs the controllers (they run before the cluster can leave
      // memory again); its namespaces had what every namespace gets when it left: not synced again.
      await h.kube.kubectl('annotate', 'ds/kube-proxy', '-n', 'kube-system', 'reload-test=changed');
      await untilEvicted(h, 'after the change');
      assert.deepEqual(await accounts(), [], 'the namespace controller did not run on the loaded cluster');
      await untilEvicted(h, 'after the list');

      // A restarted process did not evict the cluster: its load syncs the namespaces too.
      await h.stop();
      h = await start();
      await waitFor(async () => (await accounts()).includes('default'), {
        ...TIMEOUT,
        what: "the namespace controller to recreate the namespace's ServiceAccount",
      });
    });
  });
}
