/**
 * Section `workers`: the fleet figure on PostgreSQL with the reconciler in separate `mks worker`
 * processes, once with 1 worker and once with 2, and the scaling ratio (time with 1 / time with 2;
 * target ≥ 1.6). The API and emulated clusters run in one `mks serve --no-worker`-like child
 * (bench/fleet-process.ts with BENCH_WORKER=false); the workers are real `mks worker` processes
 * sharing its database and data directory (key and CA), reaching the clusters through its
 * Kubernetes API. Each run gets a fresh database and fleet (--clusters, default 1,000).
 */
import fs from 'node:fs';
import os from 'node:os';
import { MksProcess } from '../test/support/mks-process.ts';
import { driveFleet, failureLine } from './fleet.ts';
import { startChild } from './lib/child.ts';
import type { BenchContext, FleetFigures, Row } from './lib/context.ts';
import { createPostgresDatabase, postgresAvailable } from './lib/postgres.ts';
import { machineCpuTicks } from './lib/steal.ts';

/** Two workers must reconcile the fleet at least this much faster than one (issue: scale-out). */
export const WORKERS_TARGET_RATIO = 1.6;

const WORKER_START_MS = 120_000;
/** Linux's USER_HZ: /proc times are in these ticks. */
const CLOCK_TICKS = 100;

export async function runFleetWorkers(context: BenchContext): Promise<Row[]> {
  const clusters = context.options.clusters;
  if (!postgresAvailable()) {
    return [skipRow(clusters, 'no PostgreSQL server binaries under /usr/lib/postgresql')];
  }
  const rows: Row[] = [];
  const figures = new Map<number, FleetFigures>();
  for (const workers of [1, 2]) {
    const row = await runCase(clusters, workers);
    if (row.fleet !== undefined && row.verdict !== 'FAILED') figures.set(workers, row.fleet);
    context.progress(row);
    rows.push(row);
  }
  const one = figures.get(1);
  const two = figures.get(2);
  const ratio = one !== undefined && two !== undefined ? one.seconds / two.seconds : undefined;
  const ratioRow = workersRow({
    name: `fleet: 2 workers vs 1 (time ratio, target ≥ ${WORKERS_TARGET_RATIO})`,
    ratio,
    verdict: ratio === undefined ? 'FAILED' : ratio >= WORKERS_TARGET_RATIO ? 'PASS' : 'FAIL',
    note: ratio === undefined ? 'a run failed' : `${ratio.toFixed(2)}×`,
  });
  process.stderr.write(`  workers: 2 workers vs 1: ${ratioRow.note} → ${ratioRow.verdict}\n`);
  rows.push(ratioRow);
  return rows;
}

async function runCase(clusters: number, workers: number): Promise<Row> {
  const name = `fleet: ${clusters} clusters, ${workers} worker${workers === 1 ? '' : 's'}`;
  const databaseUrl = await createPostgresDatabase();
  const child = await startChild('fleet-process.ts', [], {
    mks: true,
    env: { MKS_POD_START_MS: '0', BENCH_DATABASE_URL: databaseUrl, BENCH_WORKER: 'false' },
  });
  const { dataDir, kubePublicUrl } = child.ready as { dataDir: string; kubePublicUrl: string };
  const processes: MksProcess[] = [];
  const problems: string[] = [];
  let fleet: FleetFigures | undefined;
  let workersCpu: number | undefined;
  let machineBusy: number | undefined;
  try {
    for (let i = 0; i < workers; i++) {
      processes.push(
        new MksProcess(['worker'], {
          ...process.env,
          MKS_DATABASE_URL: databaseUrl,
          MKS_DATA_DIR: dataDir,
          MKS_KUBE_PUBLIC_URL: kubePublicUrl,
          MKS_LOG_LEVEL: 'warn',
        }),
      );
    }
    await Promise.all(
      processes.map((worker) =>
        worker.printed(/mks worker is reconciling/, 'mks worker to start', WORKER_START_MS),
      ),
    );
    let workersCpuBefore = 0;
    let machineBefore = machineTicks();
    const driven = await driveFleet(
      child,
      clusters,
      `workers (${workers})`,
      {
        before: () => {
          workersCpuBefore = processes.reduce((sum, worker) => sum + cpuSecondsOf(worker.pid), 0);
          machineBefore = machineTicks();
        },
        after: (seconds) => {
          const machineAfter = machineTicks();
          workersCpu =
            (processes.reduce((sum, worker) => sum + cpuSecondsOf(worker.pid), 0) - workersCpuBefore) /
            seconds;
          machineBusy =
            (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total);
        },
      },
      // Clusters shared between processes: each resync of an evicted one loads it.
      false,
    );
    fleet = driven.fleet;
    problems.push(...driven.problems);
  } catch (error) {
    problems.push(failureLine(error));
  } finally {
    for (const worker of processes) {
      if (!worker.running && problems.length > 0)
        problems.push(`worker exited:\n${worker.output.slice(-1000)}`);
    }
    await Promise.all(processes.map((worker) => worker.kill('SIGTERM')));
    await child.stop();
  }
  const row = workersRow({
    name,
    verdict: fleet === undefined || problems.length > 0 ? 'FAILED' : 'PASS',
    note:
      problems.length > 0
        ? problems.slice(0, 5).join('; ')
        : workersCpu === undefined
          ? undefined
          : `worker processes' CPU ${(workersCpu * 100).toFixed(0)} % (srv CPU is the API process's); all ${os.availableParallelism()} CPUs of the machine ${((machineBusy ?? 0) * 100).toFixed(0)} % busy (PostgreSQL included)`,
    fleet,
  });
  process.stderr.write(
    `  workers: ${name}: ${fleet === undefined ? row.note : `${fleet.seconds.toFixed(2)} s, ${fleet.clustersPerSecond.toFixed(0)} clusters/s, API process CPU ${(fleet.cpu * 100).toFixed(0)} %`}\n`,
  );
  return row;
}

/** The machine's CPU ticks from /proc/stat: busy (all but idle and iowait) and total. */
function machineTicks(): { busy: number; total: number } {
  const fields = machineCpuTicks();
  if (fields === undefined) return { busy: 0, total: 0 };
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** A row of this section: PostgreSQL, no load measurement, no profile, no target in seconds. */
function workersRow(
  row: Pick<Row, 'name' | 'verdict' | 'note'> & Partial<Pick<Row, 'ratio' | 'fleet'>>,
): Row {
  return {
    section: 'workers',
    dialect: 'postgres',
    measurement: undefined,
    helloRps: undefined,
    ratio: undefined,
    target: undefined,
    profile: undefined,
    ...row,
  };
}

function skipRow(clusters: number, why: string): Row {
  return workersRow({ name: `fleet: ${clusters} clusters, 1 vs 2 workers`, verdict: 'SKIPPED', note: why });
}

/** CPU seconds process `pid` has used so far (Linux /proc). */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
