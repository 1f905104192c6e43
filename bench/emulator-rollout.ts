/**
 * The emulator's side of a fleet change, alone (docs/performance.md, "The fleet's change"):
 * --clusters (200) emulated clusters of 3 nodes in one Emulator on a temp SQLite file, mounted
 * on a Fastify app; then, for every cluster, what a reconcile pass asks of its Kubernetes API
 * (the kube-proxy ConfigMap changed, the DaemonSet's template annotated) through `app.inject`
 * (no TLS, no sockets, no reconciler), and the rollouts run until every DaemonSet reports all its
 * pods updated and available. Prints the process's CPU time per cluster changed (every thread's:
 * the main thread's apart, bench/lib/thread-cpu.ts), the wall time and the process's RSS. Run
 * alone, interleaved with another commit's for an A/B:
 * `node --import tsx bench/emulator-rollout.ts [--clusters N] [--rounds R] [--profile FILE]
 * [--allocations] [--heap]`; `--profile` writes a .cpuprofile of the rounds after the first
 * (cluster creation and the warm-up round left out); `--allocations` samples what those rounds
 * allocate (collected objects included) and prints the bytes allocated per rollout (a figure the
 * machine's load does not move, unlike CPU time) and the 25 functions that allocated most;
 * `--heap` prints, after each round (outside its CPU time), the heap left after a full collection
 * once the round's rows are written, and what it grew by per rollout: what a rollout leaves in
 * memory (the watch log's versions, the Events, the texts kept) while its cluster stays loaded.
 */
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { roundsMeasurement } from './lib/allocations.ts';
import { DAEMONSET, KUBE_SYSTEM, startBenchEmulator } from './lib/emulator.ts';
import { mainThreadCpuMicros } from './lib/thread-cpu.ts';

const { values } = parseArgs({
  options: {
    clusters: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    profile: { type: 'string' },
    allocations: { type: 'boolean', default: false },
    heap: { type: 'boolean', default: false },
  },
});
const clusters = Number(values.clusters);
const rounds = Number(values.rounds);
const bench = await startBenchEmulator(clusters);
const { emulator, ids } = bench;

try {
  const call = bench.call;
  const rolledOut = async (id: string) => {
    const ds = await call(id, 'GET', DAEMONSET);
    const status = ds.status ?? {};
    return (
      status.observedGeneration === ds.metadata.generation &&
      status.updatedNumberScheduled === 3 &&
      status.numberAvailable === 3
    );
  };

  // A full collection without --expose-gc on the command line (as src/memory/heap.ts gets one).
  let collect: (() => void) | undefined;
  if (values.heap === true) {
    v8.setFlagsFromString('--expose-gc');
    try {
      collect = vm.runInNewContext('gc') as () => void;
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  let heapBefore: number | undefined;

  const measured = roundsMeasurement({
    profileFile: values.profile,
    allocations: values.allocations === true,
  });
  for (let round = 1; round <= rounds; round++) {
    if (round === 2) await measured?.start();
    const hash = `round-${round}`;
    const cpu = process.cpuUsage();
    const mainCpu = mainThreadCpuMicros();
    const started = performance.now();
    await Promise.all(
      ids.map(async (id) => {
        // A config kube-proxy loads: the installed one, with a comment of this round.
        const current = (await call(id, 'GET', `${KUBE_SYSTEM}/configmaps/kube-proxy`)) as unknown as {
          data: Record<string, string>;
        };
        const text = `${current.data['config.conf']!.replace(/\n# round-\d+\n$/, '\n')}# ${hash}\n`;
        await call(
          id,
          'PATCH',
          `${KUBE_SYSTEM}/configmaps/kube-proxy?fieldManager=mks&force=true`,
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'kube-proxy', namespace: 'kube-system' },
            data: { 'config.conf': text },
          },
          'application/apply-patch+yaml',
        );
        await call(
          id,
          'PATCH',
          DAEMONSET,
          { spec: { template: { metadata: { annotations: { 'bench/round': hash } } } } },
          'application/strategic-merge-patch+json',
        );
      }),
    );
    let pending = ids;
    while (pending.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const done = await Promise.all(pending.map(rolledOut));
      pending = pending.filter((_, i) => !done[i]);
    }
    const used = process.cpuUsage(cpu);
    const main = (mainThreadCpuMicros() - mainCpu) / 1000 / clusters;
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `round ${round}: ${clusters} rollouts, ${((used.user + used.system) / 1000 / clusters).toFixed(2)} ms CPU per cluster (main thread ${main.toFixed(2)}), ${seconds.toFixed(2)} s; RSS ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB; ${JSON.stringify(emulator.residency())}\n`,
    );
    if (collect !== undefined) {
      // Every row written first (storedBytes flushes the store before it reads).
      await emulator.storedBytes(ids[0]!);
      collect();
      const heap = process.memoryUsage().heapUsed;
      const grown =
        heapBefore === undefined
          ? ''
          : `, ${((heap - heapBefore) / 1024 / clusters).toFixed(1)} KiB per rollout more`;
      process.stdout.write(`  heap after a full collection: ${(heap / 1048576).toFixed(1)} MiB${grown}\n`);
      heapBefore = heap;
    }
  }
  await measured?.stop(clusters * (rounds - 1), 'rollout', `rounds 2–${rounds}`);
} finally {
  await bench.close();
}
