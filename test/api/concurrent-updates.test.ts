/**
 * Concurrent changes of one cluster. On PostgreSQL through two independent service instances on
 * one database (two pools, two stores, each with its own in-process state: two API processes as
 * far as the database can tell); on SQLite, whose embedded engine has one writing process, through
 * one instance.
 *
 * A customization PUT merges its body into the current customization, so every accepted change
 * must have been computed from the row as it truly was: the history must read as one sequence
 * where each entry is the previous one with one patch applied, with generations 2, 3, … in commit
 * order, and the stored row must be the last entry.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Config, loadConfig } from '../../src/config.ts';
import type { Customization, CustomizationInput } from '../../src/customization/customization.model.ts';
import { createLogger } from '../../src/logger.ts';
import { openServices, type Services } from '../../src/services.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';

const UPDATES = 50;

/** Even updates set kube-proxy (each a distinct sync period), odd ones the admission plugins. */
function patch(index: number): CustomizationInput {
  if (index % 2 === 0) return { kubeProxy: { iptables: { syncPeriod: `PT${100 + index}S` } } };
  return index % 4 === 1
    ? { apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } } }
    : { apiServer: { admissionPlugins: { enabled: ['AlwaysPullImages', 'NodeRestriction'], disabled: [] } } };
}

for (const dialect of DIALECTS) {
  describe(`concurrent changes of one cluster (${dialect})`, () => {
    let database: TestDatabase;
    let dataDir: string;
    /** Two instances on PostgreSQL; on SQLite the same one twice. */
    let instances: Services[];
    let projectId: string;

    before(async () => {
      database = await createTestDatabase(dialect);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-test-concurrent-'));
      const config: Config = loadConfig({ dataDir, databaseUrl: database.url, logLevel: 'silent' }, {});
      const logger = createLogger('silent');
      const first = await openServices(config, logger);
      instances = [first, dialect === 'postgres' ? await openServices(config, logger) : first];
      const accountId = await first.authStore.createAccount();
      projectId = (await first.projects.create({ accountId, name: 'concurrency' })).id;
    });
    after(async () => {
      for (const services of new Set(instances)) await services.close();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const createCluster = async (name: string) =>
      (await instances[0]!.clusters.create(projectId, { name, region: instances[0]!.config.regions[0] })).id;

    async function customizeHistory(id: string) {
      const rows = await instances[0]!.clusterStore.history(id);
      return rows.map((row) => ({
        id: Number(row.id),
        generation: Number(row.generation),
        action: row.action,
        customization: JSON.parse(row.customization) as Customization,
      }));
    }

    test(`${UPDATES} concurrent customization updates all land, each computed from the one before`, async () => {
      const id = await createCluster('contended');
      const patches = Array.from({ length: UPDATES }, (_, index) => patch(index));
      // All started at once, alternating between the instances.
      const answers = await Promise.all(
        patches.map((body, index) =>
          instances[index % instances.length]!.clusters.updateCustomization(projectId, id, body),
        ),
      );
      const acceptedGenerations = answers.map((answer) => {
        const match = /generation (\d+) is being applied/.exec(answer.message);
        assert.ok(match, answer.message);
        return Number(match[1]);
      });
      assert.deepEqual(
        [...acceptedGenerations].sort((a, b) => a - b),
        Array.from({ length: UPDATES }, (_, index) => index + 2),
        'every update was accepted with its own generation',
      );

      const history = await customizeHistory(id);
      assert.equal(history[0]!.action, 'create');
      const changes = history.slice(1);
      assert.equal(changes.length, UPDATES, 'the history holds every update');
      assert.deepEqual(
        changes.map((entry) => [entry.action, entry.generation]),
        Array.from({ length: UPDATES }, (_, index) => ['customize', index + 2]),
        'generations are distinct and increase in commit order',
      );

      // Replay: each entry is the previous one with exactly one of the patches applied.
      const unusedKubeProxy = new Set(
        patches.filter((_, index) => index % 2 === 0).map((p) => JSON.stringify(p)),
      );
      let apiServerPatches = 0;
      let previous = history[0]!.customization;
      for (const entry of changes) {
        const { apiServer, kubeProxy } = entry.customization;
        if (JSON.stringify(kubeProxy) !== JSON.stringify(previous.kubeProxy)) {
          const applied = JSON.stringify({ kubeProxy });
          assert.ok(
            unusedKubeProxy.delete(applied),
            `generation ${entry.generation}: ${applied} was sent once`,
          );
          assert.deepEqual(apiServer, previous.apiServer, `generation ${entry.generation} kept apiServer`);
        } else {
          // An admission-plugins patch (it may set what was already there): kube-proxy is kept.
          apiServerPatches++;
          assert.ok(apiServer !== undefined, `generation ${entry.generation} set the admission plugins`);
        }
        previous = entry.customization;
      }
      assert.equal(unusedKubeProxy.size, 0, 'every kube-proxy patch is in the history');
      assert.equal(apiServerPatches, UPDATES / 2);
      // Each answer names the generation that committed its own patch.
      patches.forEach((body, index) => {
        const entry = changes[acceptedGenerations[index]! - 2]!;
        if (body.kubeProxy !== undefined) assert.deepEqual(entry.customization.kubeProxy, body.kubeProxy);
        else assert.deepEqual(entry.customization.apiServer, body.apiServer);
      });

      for (const services of instances) {
        const stored = await services.clusterStore.get(id);
        assert.equal(stored?.generation, UPDATES + 1);
        assert.deepEqual(stored?.customization, previous, 'the stored customization is the last committed');
      }
      const work = await instances[0]!.database.db
        .selectFrom('reconcile_work')
        .select('generation')
        .where('cluster_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.equal(Number(work.generation), UPDATES + 1, 'the reconciler is asked for the last generation');
    });

    test('a change made elsewhere is the base of the next one (no stale overwrite)', async () => {
      const id = await createCluster('stale');
      const [a, b] = [instances[0]!, instances[1]!];
      await b.clusters.updateCustomization(projectId, id, patch(0)); // b has now seen the row
      await a.clusters.update(projectId, id, { name: 'renamed elsewhere' }); // no new generation
      await a.clusters.updateCustomization(projectId, id, patch(1));
      const answer = await b.clusters.updateCustomization(projectId, id, patch(2));
      assert.match(answer.message, /generation 4 is being applied/);
      for (const services of instances) {
        const stored = await services.clusters.get(projectId, id);
        assert.equal(stored.name, 'renamed elsewhere', 'the rename made elsewhere is kept');
        assert.equal(stored.generation, 4);
        assert.deepEqual(stored.customization, {
          apiServer: { admissionPlugins: { enabled: ['NodeRestriction'], disabled: ['AlwaysPullImages'] } },
          kubeProxy: { iptables: { syncPeriod: 'PT102S' } },
        });
      }
      const history = await customizeHistory(id);
      assert.deepEqual(
        history.map((entry) => entry.generation),
        [1, 2, 3, 4],
      );
    });

    test('a refused update changes nothing, and the next one still applies', async () => {
      const id = await createCluster('refused');
      const [a, b] = [instances[0]!, instances[1]!];
      await a.clusters.updateCustomization(projectId, id, patch(0));
      await assert.rejects(
        b.clusters.updateCustomization(projectId, id, { kubeProxy: { iptables: { syncPeriod: 'soon' } } }),
        /syncPeriod/,
      );
      const before = await customizeHistory(id);
      assert.equal(before.length, 2);
      await b.clusters.updateCustomization(projectId, id, patch(2));
      const stored = await a.clusters.get(projectId, id);
      assert.equal(stored.generation, 3);
      assert.deepEqual(stored.customization, { kubeProxy: { iptables: { syncPeriod: 'PT102S' } } });
    });
  });
}
