/**
 * Loading an evicted emulated cluster, alone (docs/performance.md, "Sixth round: loading an
 * evicted cluster"): --clusters (300) clusters of 3 nodes in one Emulator on a temp SQLite file,
 * each taken through --rollouts (3) kube-proxy rollouts (ConfigMap applied, DaemonSet template
 * annotated, through `app.inject`) so it holds what a cluster in use holds (Events, container
 * logs, ControllerRevisions); then --rounds (5) rounds in which every cluster, evicted, is loaded
 * again by one GET of its kube-proxy ConfigMap. Prints the process's CPU time per load (the GET
 * and the controllers' work after the load included, so whatever a load costs is counted; every
 * thread's, the main thread's apart: bench/lib/thread-cpu.ts) and the wall time. `--change`: each
 * round's load is a kube-proxy rollout instead of a GET (the
 * fleet's change: loaded, rolled out, written back), and the figure is the CPU per cluster so
 * loaded and changed. `--profile FILE` writes a .cpuprofile of the rounds after the first;
 * `--allocations` prints what those rounds allocate per cluster (bench/lib/allocations.ts);
 * `--survivors` only what of it outlives a scavenge (what full collections then mark).
 * `--postgres`: on a throwaway PostgreSQL server (test/support/postgres-server.ts) instead of SQLite.
 * `--idle MS`: how long a cluster stays in memory unused (50 ms; 500 with `--change`).
 * `node --import tsx bench/emulator-load.ts [--clusters N] [--rollouts R] [--rounds L] [--change]
 * [--idle MS] [--profile FILE] [--allocations] [--survivors] [--postgres]`
 */
import { parseArgs } from 'node:util';
import { roundsMeasurement } from './lib/allocations.ts';
import { DAEMONSET, KUBE_SYSTEM, startBenchEmulator } from './lib/emulator.ts';
import { createPostgresDatabase, stopPostgres } from './lib/postgres.ts';
import { mainThreadCpuMicros } from './lib/thread-cpu.ts';

const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: '300' },
    rollouts: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    profile: { type: 'string' },
    postgres: { type: 'boolean', default: false },
    change: { type: 'boolean', default: false },
    allocations: { type: 'boolean', default: false },
    survivors: { type: 'boolean', default: false },
    idle: { type: 'string' },
  },
});
const clusters = Number(values.clusters);
const CONFIG_MAP = `${KUBE_SYSTEM}/configmaps/kube-proxy`;
// Idle clusters leave memory after 50 ms (the sweeper runs every 25 ms); with --change after
// 500 ms, so that fewer clusters leave between two calls of their rollout and load twice in a
// round (the round prints its loads).
const bench = await startBenchEmulator(
  clusters,
  { idleMs: Number(values.idle ?? (values.change ? 500 : 50)), maxLoaded: clusters },
  values.postgres ? await createPostgresDatabase() : undefined,
);
const { database, emulator, ids } = bench;

try {
  const call = bench.call;
  const until = async (what: string, done: () => boolean | Promise<boolean>) => {
    const deadline = performance.now() + 120_000;
    while (!(await done())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  /** A kube-proxy rollout of cluster `id` (its `rollout`th), awaited until every pod is updated. */
  const rolloutOf = async (id: string, rollout: number) => {
    await call(
      id,
      'PATCH',
      `${CONFIG_MAP}?fieldManager=mks&force=true`,
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system' },
        data: {
          'config.conf': `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n# rollout ${rollout}\n`,
        },
      },
      'application/apply-patch+yaml',
    );
    await call(
      id,
      'PATCH',
      DAEMONSET,
      { spec: { template: { metadata: { annotations: { 'bench/rollout': String(rollout) } } } } },
      'application/strategic-merge-patch+json',
    );
    await until(`${id}'s rollout ${rollout}`, async () => {
      const ds = await call(id, 'GET', DAEMONSET);
      const status = ds.status ?? {};
      return status.observedGeneration === ds.metadata.generation && status.updatedNumberScheduled === 3;
    });
  };

  const rollouts = Number(values.rollouts);
  const rounds = Number(values.rounds);
  for (let rollout = 1; rollout <= rollouts; rollout++)
    await Promise.all(ids.map((id) => rolloutOf(id, rollout)));

  const rows = await database.db
    .selectFrom('emulator_objects')
    .select([
      'resource',
      (eb) => eb.fn.countAll<number>().as('rows'),
      (eb) => eb.fn.sum<number>(eb.fn('length', ['body'])).as('chars'),
    ])
    .groupBy('resource')
    .execute();
  const perCluster = (n: number) => (Number(n) / clusters).toFixed(1);
  process.stdout.write(
    `stored per cluster: ${rows.map((r) => `${r.resource} ${perCluster(r.rows)} (${perCluster(r.chars / 1024)} KiB)`).join(', ')}\n`,
  );

  const measured = roundsMeasurement({
    profileFile: values.profile,
    allocations: values.allocations === true,
    survivors: values.survivors === true,
  });
  for (let round = 1; round <= rounds; round++) {
    await until('every cluster to leave memory', () => emulator.residency().loaded === 0);
    if (round === 2) await measured?.start();
    const loads = emulator.residency().loads;
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadCpuMicros();
    const started = performance.now();
    await Promise.all(
      ids.map((id) => (values.change ? rolloutOf(id, rollouts + round) : call(id, 'GET', CONFIG_MAP))),
    );
    // What the load queued (the controllers' sync) runs before the clusters can leave again.
    await until('every cluster to leave memory', () => emulator.residency().loaded === 0);
    const used = process.cpuUsage(cpu);
    const main = (mainThreadCpuMicros() - mainCpu) / clusters;
    const loaded = emulator.residency().loads - loads;
    // A change may still load a cluster twice (left memory between two of its calls while the
    // others' went first); a GET loads each once.
    if (values.change ? loaded < clusters : loaded !== clusters)
      throw new Error(`${loaded} loads for ${clusters} clusters`);
    process.stdout.write(
      `round ${round}: ${loaded} loads, ${((used.user + used.system) / clusters).toFixed(0)} µs CPU per ${values.change ? 'cluster loaded and rolled out' : 'load'} (main thread ${main.toFixed(0)}), ${((performance.now() - started) / 1000).toFixed(2)} s\n`,
    );
  }
  await measured?.stop(clusters * (rounds - 1), 'cluster', `rounds 2–${rounds}`);
} finally {
  await bench.close();
  await stopPostgres();
}
