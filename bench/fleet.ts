/**
 * Section `fleet`: N emulated clusters (--clusters, default 1,000; pods start at once), driven
 * through the signed API as a user would: created (POST …/kube) and waited for READY, then every
 * customization (--changed: that many of them) changed at once (PUT …/customization) and waited
 * for READY with the new generation observed; then a sample of those changed is checked through
 * the clusters' own Kubernetes API, with the kubeconfig the API hands out (the kube-proxy
 * ConfigMap says the new config, every kube-proxy pod loaded it). Any failed call or check makes
 * the row FAILED.
 *
 * Figures, each beside its target (issue 17): the change's seconds (≤ 3 s per 1,000 clusters
 * changed), the server's peak RSS during the change (≤ 500 MiB for a change of 1,000: the
 * kernel's high-water mark over it), its RSS once the fleet is created and
 * settled (≤ 400 MiB, for 10,000 clusters), the RSS per 1,000 idle clusters (settled minus the
 * server's RSS before the first cluster), and the creation's seconds.
 *
 * The server (the real runtime with its reconciler worker: API, HTTPS Kubernetes API, emulator)
 * runs in its own process (bench/fleet-process.ts) on a temp SQLite data dir; the embedded
 * default is the target. bench/fleet-workers.ts drives the same way on PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ApiClient } from '../src/client/api-client.ts';
import { type OvhCredentials, readOvhConf } from '../src/client/ovh-conf.ts';
import { configHash, renderClusterConfig } from '../src/customization/kube-proxy-config.ts';
import { type Child, startChild } from './lib/child.ts';
import { type BenchContext, type FleetFigures, lowerMedian, percent, type Row } from './lib/context.ts';
import { type GcCounts, gcText } from './lib/gc-tally.ts';
import { summarizeProfile } from './lib/profile.ts';
import { coresShare, machineSeconds } from './lib/steal.ts';

/** Seconds per 1,000 clusters on the embedded default (issue 17: 1,000 in ≤ 3 s, 10,000 in ≤ 30 s). */
export const FLEET_TARGET_SECONDS = 3;
export const FLEET_TARGET_CLUSTERS = 1000;
/** Peak RSS of the server while a fleet change touching 1,000 clusters runs (issue 17). */
export const FLEET_TARGET_PEAK_RSS = 500 * 1024 * 1024;
/** RSS of the server with 10,000 clusters created and settled (issue 17). */
export const FLEET_TARGET_SETTLED_RSS = 400 * 1024 * 1024;

/**
 * The customizations the changes set, in turn (a run of several changes alternates them, so each
 * is a real change), and what the rendered config.conf must then say.
 */
const CHANGES = [
  { customization: { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } }, expected: 'syncPeriod: 45s' },
  { customization: { kubeProxy: { iptables: { syncPeriod: 'PT40S' } } }, expected: 'syncPeriod: 40s' },
] as const;
const SAMPLE = 10;
/** API calls the user has in flight at once (creation, the change). */
const CONCURRENCY = 64;
const POPULATE_TIMEOUT_MS = 1_800_000;
const ROLLOUT_TIMEOUT_MS = 600_000;
/**
 * How long RSS is sampled once the fleet has settled (one resync period, MKS_RESYNC_MS); the
 * resyncs' own cost is then measured over one more such period.
 */
const SETTLE_MS = 10_000;
/**
 * How long the settled reading waits for two resync periods in a row that load no cluster (the
 * first resync after creation makes full passes that load evicted clusters: a few periods for
 * 10,000).
 */
const SETTLED_TIMEOUT_MS = 600_000;
const LOADED_CONFIG_ANNOTATION = 'mks.ovh/loaded-config-hash';

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** RSS in anonymous pages (heaps, malloc) and in file-backed ones (code); Linux only. */
  anonymous?: number;
  fileBacked?: number;
  loaded: number;
  loads: number;
  evictions: number;
  /** The settled reading: whether its period loaded no cluster, and the loads of each period waited. */
  quiet?: boolean;
  periods?: number[];
  /** The highest RSS sample of each period. */
  peaks?: number[];
  /** The main thread's compactions (src/memory/) by the end of each period. */
  compacted?: number[];
  compactions?: Compactions;
  /** The main thread's heap by space at the reading: committed (used) MiB. */
  heapSpaces?: string;
}

/** Per isolate, the compactions the server ran so far (src/memory/compaction.ts `compactionTotals`). */
type Compactions = Record<
  string,
  { count: number; returnedBytes: number; pauseMs: number; cpuMs: number; committedAfter: number }
>;

/** The compactions of `now` less those of `before`, one line. */
function compactionsSince(now: Compactions | undefined, before: Compactions | undefined): string {
  const parts = Object.entries(now ?? {}).flatMap(([isolate, total]) => {
    const was = before?.[isolate] ?? { count: 0, returnedBytes: 0, pauseMs: 0, cpuMs: 0 };
    const count = total.count - was.count;
    if (count === 0) return [];
    return [
      `${isolate} ${count}× (${mib(total.returnedBytes - was.returnedBytes)} of heap returned, pause ${(total.pauseMs - was.pauseMs).toFixed(0)} ms, CPU ${(total.cpuMs - was.cpuMs).toFixed(0)} ms; heap then ${mib(total.committedAfter)})`,
    ];
  });
  return parts.length === 0 ? 'none' : parts.join(', ');
}

interface Watched {
  cpuSeconds: number;
  /** cpuSeconds by thread, the most first (empty without /proc). */
  threads: { main: boolean; name: string; seconds: number; waitSeconds: number }[];
  /** The readiness counts made during the window (on the main thread) and their elapsed time. */
  readinessCounts: { made: number; ms: number };
  peakRss: number;
  compactions?: Compactions;
  peakHeapTotal: number;
  vmHwm: number | undefined;
  kubeCalls: Record<string, number>;
  handshakes: number;
  window: { start: number; end: number };
  loaded: number;
  /** The emulator's cluster loads since the start (`Emulator.residency`). */
  loads: number;
  /** The main thread's event loop over the window (ms of delay; utilization 0–1). */
  eventLoop: { delayP50: number; delayP99: number; delayMax: number; utilization: number };
  /**
   * The reconcile passes that ended in the window: outcomes, durations (ms), and the distinct
   * milliseconds in which they ended with the most that ended in one (passes in step).
   */
  passes: {
    count: number;
    outcomes: Record<string, number>;
    p50: number;
    p90: number;
    max: number;
    endInstants: number;
    mostEndedTogether: number;
  };
  /** The main thread's garbage collections in the window, by kind: count and pause (ms). */
  gc: GcCounts;
}

interface Cluster {
  id: string;
  status: string;
  kubeProxyMode: 'iptables' | 'ipvs';
  customization: Record<string, unknown>;
}

export async function runFleet(context: BenchContext): Promise<Row[]> {
  const clusters = context.options.clusters;
  const changed = context.options.changed ?? clusters;
  // The target is for 1,000 clusters changed; another count is judged at the same rate.
  const target = (FLEET_TARGET_SECONDS * changed) / FLEET_TARGET_CLUSTERS;
  const name =
    changed === clusters
      ? `fleet: ${clusters} clusters change customization`
      : `fleet: ${changed} of ${clusters} clusters change customization`;
  const profileDir = path.join(context.profileDir, 'mks-fleet-sqlite');
  if (context.options.profile) {
    fs.rmSync(profileDir, { recursive: true, force: true });
    fs.mkdirSync(profileDir, { recursive: true });
  }
  const child = await startChild('fleet-process.ts', [], {
    mks: true,
    env: { MKS_POD_START_MS: '0' },
    cpus: context.options.pin ? '0' : undefined,
    cpuProfileDir: context.options.profile ? profileDir : undefined,
  });
  let fleet: FleetFigures | undefined;
  let problems: string[] = [];
  let window: Watched['window'] | undefined;
  try {
    const driven = await driveFleet(child, clusters, 'fleet', {}, true, changed, context.options.rounds);
    ({ fleet, problems, window } = driven);
    if (driven.rolled !== undefined) {
      const calls = Object.entries(driven.rolled.kubeCalls)
        .map(([method, count]) => `${method} ${(count / changed).toFixed(1)}`)
        .join(', ');
      process.stderr.write(
        `  fleet: Kubernetes API calls per cluster during the change: ${calls}; TLS handshakes ${driven.rolled.handshakes}\n`,
      );
      process.stderr.write(`  fleet: ${threadsLine(driven.rolled, driven.fleet?.seconds, changed)}\n`);
      process.stderr.write(`  fleet: ${passesLine(driven.rolled)}\n`);
    }
  } catch (error) {
    problems.push(failureLine(error));
  } finally {
    await child.stop();
  }
  // The judged change's window on the server's monotonic clock: what a CPU profile is cut to, and
  // `perf record -k mono`'s clock, for `perf report --time` (docs/performance.md, "Thirtieth round").
  if (window !== undefined)
    process.stderr.write(`  fleet: change window ${window.start}–${window.end} µs (monotonic)\n`);
  let profile: Row['profile'];
  if (context.options.profile) {
    const main = fs.readdirSync(profileDir).find((file) => /\.0\.\d+\.cpuprofile$/.test(file));
    if (main !== undefined) profile = summarizeProfile(path.join(profileDir, main), window);
  }
  const verdict =
    fleet === undefined || problems.length > 0
      ? 'FAILED'
      : fleet.seconds <= target &&
          fleet.peakRssBytes <= FLEET_TARGET_PEAK_RSS &&
          (clusters < 10_000 || fleet.settledRssBytes <= FLEET_TARGET_SETTLED_RSS)
        ? 'PASS'
        : 'FAIL';
  const row: Row = {
    section: 'fleet',
    name,
    dialect: 'sqlite',
    measurement: undefined,
    helloRps: undefined,
    ratio: undefined,
    target,
    verdict,
    note: problems.length > 0 ? problems.slice(0, 5).join('; ') : undefined,
    profile,
    fleet,
  };
  const figures =
    fleet === undefined
      ? (row.note ?? '')
      : [
          `change ${fleet.seconds.toFixed(2)} s (target ≤ ${target.toFixed(target < 10 ? 1 : 0)} s; changes accepted in ${fleet.acceptSeconds.toFixed(2)} s), ${fleet.clustersPerSecond.toFixed(0)} clusters/s, CPU ${(fleet.cpu * 100).toFixed(0)} %, machine idle ${percent(fleet.idle)}, stolen ${percent(fleet.stolen)}, ${((fleet.cpu * fleet.seconds * 1000) / changed).toFixed(1)} ms server CPU per cluster changed (moves less with the machine's load than the seconds)`,
          ...(fleet.changes === undefined
            ? []
            : [
                `the median of ${fleet.changes.length} changes, each from the fleet settled again: ${fleet.changes.map((change) => `${change.seconds.toFixed(2)} s`).join(', ')} (${fleet.changes.map((change) => `${change.cpuMsPerCluster.toFixed(1)}`).join(', ')} ms server CPU per cluster)`,
              ]),
          `peak RSS during the change ${mib(fleet.peakRssBytes)}${fleet.changes === undefined ? '' : ` (the highest of the ${fleet.changes.length})`} (target ≤ ${mib(FLEET_TARGET_PEAK_RSS)} for a change of 1,000 clusters)`,
          `RSS settled after creation ${mib(fleet.settledRssBytes)} (target ≤ ${mib(FLEET_TARGET_SETTLED_RSS)} for 10,000 clusters; ${fleet.loadedAfterCreation} clusters in memory), before the first cluster ${mib(fleet.baselineRssBytes)}`,
          `RSS per 1,000 idle clusters ${mib(fleet.rssPerThousandIdleBytes)}`,
          `creation ${fleet.createSeconds.toFixed(1)} s (${(clusters / fleet.createSeconds).toFixed(0)} clusters/s until all READY)`,
          `${fleet.verified} clusters verified through their Kubernetes API${problems.length > 0 ? `; ${row.note}` : ''}`,
        ].join('\n         ');
  process.stderr.write(`  fleet: ${figures}\n  fleet: → ${verdict}\n`);
  return [row];
}

/**
 * Drives a fleet child (bench/fleet-process.ts) as a user: creates `clusters` clusters through the
 * signed API and waits until all are READY, measures the settled server, changes the customization
 * of `changed` of them (every one by default) at once and waits again, then verifies a sample of
 * those through the clusters' Kubernetes API; `rounds` times, each change from the fleet settled
 * again, the median change judged. `aroundRollout` is told when each change starts and ends. The
 * change's figures per cluster are per cluster changed.
 */
export async function driveFleet(
  child: Child,
  clusters: number,
  label: string,
  aroundRollout: { before?(): void; after?(seconds: number): void } = {},
  /**
   * Whether the settled reading waits for a resync period that loads no cluster: one process
   * serving every cluster (SQLite). Clusters shared between processes (PostgreSQL) are loaded by
   * each resync of an evicted one, so there it waits for the bound on loaded clusters instead.
   */
  untilQuiet = true,
  changed = clusters,
  /**
   * How many times the fleet is changed, each from the fleet settled again (alternating two
   * customizations): the judged change is the median by seconds.
   */
  rounds = 1,
): Promise<{
  fleet: FleetFigures | undefined;
  problems: string[];
  window: Watched['window'] | undefined;
  rolled: Watched | undefined;
}> {
  const problems: string[] = [];
  const ready = child.ready as { ovhConf: string; projectId: string; region: string };
  const client = new ApiClient(readOvhConf(ready.ovhConf) as OvhCredentials);
  const kube = `/cloud/project/${ready.projectId}/kube`;
  const baseline = await child.request<Memory>({ type: 'memory', settleMs: 0, timeoutMs: 0 });

  process.stderr.write(`  ${label}: creating ${clusters} clusters through the API…\n`);
  const started = performance.now();
  const ids = await inParallel(clusters, async (i) => {
    const created = await client.call<Cluster>('POST', kube, { name: `fleet-${i}`, region: ready.region });
    return created.id;
  });
  const created = (performance.now() - started) / 1000;
  const populated = await child.request<{ ready: number }>({
    type: 'settle',
    count: clusters,
    timeoutMs: POPULATE_TIMEOUT_MS,
  });
  const createSeconds = (performance.now() - started) / 1000;
  if (populated.ready < clusters) {
    problems.push(`only ${populated.ready} of ${clusters} clusters became READY after creation`);
    return { fleet: undefined, problems, window: undefined, rolled: undefined };
  }
  process.stderr.write(
    `  ${label}: created in ${created.toFixed(1)} s, all READY after ${createSeconds.toFixed(1)} s; measuring the settled server…\n`,
  );
  const settled = await child.request<Memory>({
    type: 'memory',
    settleMs: SETTLE_MS,
    timeoutMs: SETTLED_TIMEOUT_MS,
    untilQuiet,
  });
  const periods = settled.periods ?? [];
  process.stderr.write(
    !untilQuiet
      ? `  ${label}: RSS read over one resync period once no more clusters were loaded than the bound allows (cluster loads in it: ${periods.join(', ')})\n`
      : settled.quiet
        ? `  ${label}: settled after ${periods.length} resync period(s) of ${SETTLE_MS / 1000} s (cluster loads per period: ${periods.join(', ')}; their peak RSS: ${(settled.peaks ?? []).map(mib).join(', ')}; the main thread's compactions by the end of each: ${(settled.compacted ?? []).join(', ')}); RSS ${mib(settled.rss)} read over the last, after one that loaded none, and with no heap compaction in it\n`
        : `  ${label}: NOT settled: for ${SETTLED_TIMEOUT_MS / 1000} s no two resync periods in a row loaded no cluster with no heap compaction in the last (loads per period: ${periods.join(', ')}; the main thread's compactions by the end of each: ${(settled.compacted ?? []).join(', ')}); RSS read over the last\n`,
  );
  process.stderr.write(
    `  ${label}: memory compactions after creation (src/memory/): ${compactionsSince(settled.compactions, baseline.compactions)}\n`,
  );
  if (untilQuiet && !settled.quiet)
    problems.push(
      `the fleet did not settle: its resyncs still loaded clusters, or its heaps were still being compacted, after ${SETTLED_TIMEOUT_MS / 1000} s`,
    );
  // The settled fleet's own work: one resync period, nothing asked.
  await child.request({ type: 'watchStart' });
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const resynced = await child.request<Watched & Memory>({ type: 'watchStop' });
  const resync = {
    loads: resynced.loads - settled.loads,
    kubeCalls: Object.values(resynced.kubeCalls).reduce((a, b) => a + b, 0),
    cpu: resynced.cpuSeconds / (SETTLE_MS / 1000),
  };
  process.stderr.write(
    `  ${label}: settled, one resync period: ${resync.loads} cluster loads, ${resync.kubeCalls} Kubernetes API calls, server CPU ${(resync.cpu * 100).toFixed(1)} % (by thread: ${resynced.threads
      .filter((thread) => thread.main || thread.seconds >= 0.05)
      .slice(0, 5)
      .map(
        (thread) =>
          `${thread.main ? 'main' : 'thread'} ${((thread.seconds / (SETTLE_MS / 1000)) * 100).toFixed(1)} %`,
      )
      .join(', ')})\n`,
  );
  // The changes: the first from the settled fleet measured above, each later one from the fleet
  // settled again (its clusters evicted, its heaps compacted), as a user's next change finds it.
  const readings: ChangeReading[] = [];
  let before: Memory = settled;
  for (let round = 0; round < rounds; round++) {
    const of = rounds === 1 ? '' : ` (${round + 1} of ${rounds})`;
    if (round > 0) {
      const again = await child.request<Memory>({
        type: 'memory',
        settleMs: SETTLE_MS,
        timeoutMs: SETTLED_TIMEOUT_MS,
        untilQuiet,
      });
      process.stderr.write(
        `  ${label}: settled again after ${(again.periods ?? []).length} resync period(s) (cluster loads per period: ${(again.periods ?? []).join(', ')}); RSS ${mib(again.rss)}, ${again.loaded} clusters in memory\n`,
      );
      if (untilQuiet && !again.quiet)
        problems.push(`the fleet did not settle again before change ${round + 1}`);
      before = again;
    }
    process.stderr.write(
      changed === clusters
        ? `  ${label}: changing every customization${of}…\n`
        : `  ${label}: changing the customization of ${changed} of the ${clusters} clusters${of}…\n`,
    );
    const reading = await changeOnce(
      child,
      client,
      kube,
      ids,
      changed,
      clusters,
      CHANGES[round % CHANGES.length]!,
      aroundRollout,
    );
    problems.push(...reading.problems);
    readings.push(reading);
    process.stderr.write(
      `  ${label}: memory compactions since the settled reading (${round === 0 ? 'its resync period, ' : ''}the change; none expected): ${compactionsSince(reading.watched.compactions, before.compactions)}\n`,
    );
    if (rounds > 1)
      process.stderr.write(
        `  ${label}: change ${round + 1} of ${rounds}: ${reading.seconds.toFixed(2)} s, ${((reading.watched.cpuSeconds * 1000) / changed).toFixed(1)} ms server CPU per cluster, peak RSS ${mib(reading.watched.peakRss)}, machine idle ${percent(reading.idle)}, stolen ${percent(reading.stolen)}\n`,
      );
  }
  // The judged change: the median by seconds (the lower middle one for an even count); the peak
  // RSS is the highest of them all, the memory target holding for every change.
  const median = lowerMedian(readings, (reading) => reading.seconds)!;
  const watched = median.watched;
  const fleet: FleetFigures = {
    clusters,
    changed,
    createSeconds,
    acceptSeconds: median.acceptSeconds,
    seconds: median.seconds,
    clustersPerSecond: changed / median.seconds,
    peakRssBytes: Math.max(...readings.map((reading) => reading.watched.peakRss)),
    vmHwmBytes: watched.vmHwm,
    baselineRssBytes: baseline.rss,
    settledRssBytes: settled.rss,
    rssPerThousandIdleBytes: ((settled.rss - baseline.rss) * 1000) / clusters,
    loadedAfterCreation: settled.loaded,
    cpu: watched.cpuSeconds / median.seconds,
    stolen: median.stolen,
    idle: median.idle,
    verified: median.verified,
    kubeCallsPerCluster: Object.values(watched.kubeCalls).reduce((a, b) => a + b, 0) / changed,
    cpuMsPerClusterByThread: watched.threads.map(({ main, seconds }) => ({
      main,
      ms: (seconds * 1000) / changed,
    })),
    resync,
    ...(rounds === 1
      ? {}
      : {
          changes: readings.map((reading) => ({
            seconds: reading.seconds,
            cpuMsPerCluster: (reading.watched.cpuSeconds * 1000) / changed,
            peakRssBytes: reading.watched.peakRss,
            stolen: reading.stolen,
            idle: reading.idle,
          })),
        }),
  };
  process.stderr.write(
    `  ${label}: main-thread heap settled ${mib(settled.heapUsed)} used of ${mib(settled.heapTotal)} (by space, committed (used) MiB: ${settled.heapSpaces}), peak ${mib(watched.peakHeapTotal)} during the ${rounds === 1 ? '' : 'median '}change; settled RSS ${mib(settled.anonymous ?? Number.NaN)} anonymous (heaps, malloc), ${mib(settled.fileBacked ?? Number.NaN)} file-backed (code); emulated clusters loaded ${settled.loaded} settled, ${watched.loaded} after the change; ${settled.loads} loads and ${settled.evictions} evictions by then; ${median.loads} cluster loads during the change (${(median.loads / changed).toFixed(2)} per cluster changed)\n`,
  );
  return { fleet, problems, window: watched.window, rolled: watched };
}

/** One change of the fleet, as measured (`changeOnce`). */
interface ChangeReading {
  readonly seconds: number;
  readonly acceptSeconds: number;
  readonly stolen: number;
  readonly idle: number;
  readonly watched: Watched;
  /** Cluster loads during the change. */
  readonly loads: number;
  readonly verified: number;
  readonly problems: string[];
}

/**
 * Changes the customization of the first `changed` clusters to `change` at once (PUT, CONCURRENCY
 * in flight) and waits until every cluster is READY with its newest generation observed; then
 * checks a sample of those changed through their Kubernetes API.
 */
async function changeOnce(
  child: Child,
  client: ApiClient,
  kube: string,
  ids: readonly string[],
  changed: number,
  clusters: number,
  change: (typeof CHANGES)[number],
  aroundRollout: { before?(): void; after?(seconds: number): void },
): Promise<ChangeReading> {
  const problems: string[] = [];
  aroundRollout.before?.();
  const before = await child.request<{ loads: number }>({ type: 'watchStart' });
  const machineBefore = machineSeconds();
  const t0 = performance.now();
  await inParallel(changed, (i) =>
    client.call('PUT', `${kube}/${ids[i]}/customization`, change.customization),
  );
  const acceptSeconds = (performance.now() - t0) / 1000;
  // Every cluster READY with its newest generation observed: the unchanged ones already are.
  const rolledOut = await child.request<{ ready: number }>({
    type: 'settle',
    count: clusters,
    timeoutMs: ROLLOUT_TIMEOUT_MS,
  });
  const seconds = (performance.now() - t0) / 1000;
  const machineAfter = machineSeconds();
  const stolen = coresShare(machineBefore.stolen, machineAfter.stolen, seconds);
  const idle = coresShare(machineBefore.idle, machineAfter.idle, seconds);
  const watched = await child.request<Watched>({ type: 'watchStop' });
  aroundRollout.after?.(seconds);
  if (rolledOut.ready < clusters) {
    problems.push(
      `only ${rolledOut.ready} of ${clusters} clusters READY ${seconds.toFixed(0)} s after the change`,
    );
  }
  const step = Math.max(1, Math.floor(changed / SAMPLE));
  const sample = ids
    .slice(0, changed)
    .filter((_, index) => index % step === 0)
    .slice(0, SAMPLE);
  for (const id of sample) problems.push(...(await verifyCluster(client, kube, id, change.expected)));
  return {
    seconds,
    acceptSeconds,
    stolen,
    idle,
    watched,
    loads: watched.loads - before.loads,
    verified: sample.length,
    problems,
  };
}

/** Runs `call(0 … count-1)` with CONCURRENCY calls in flight; the results in order. */
async function inParallel<T>(count: number, call: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await call(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, lane));
  return results;
}

/**
 * One cluster as its user sees it: READY through the API, and through its Kubernetes API (the
 * kubeconfig the API hands out, client-node) the kube-proxy ConfigMap with the new config and
 * every kube-proxy pod having loaded it. Lists what is wrong.
 */
async function verifyCluster(
  client: ApiClient,
  kube: string,
  id: string,
  expected: string,
): Promise<string[]> {
  const problems: string[] = [];
  const cluster = await client.call<Cluster>('GET', `${kube}/${id}`);
  if (cluster.status !== 'READY') problems.push(`${id}: status ${cluster.status}`);
  const { content } = await client.call<{ content: string }>('POST', `${kube}/${id}/kubeconfig`);
  const config = new KubeConfig();
  config.loadFromString(content);
  const core = config.makeApiClient(CoreV1Api);
  const configMap = await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kube-proxy' });
  const text = configMap.data?.['config.conf'] ?? '';
  if (!text.includes(expected)) problems.push(`${id}: the ConfigMap lacks '${expected}'`);
  const desired = renderClusterConfig(cluster.kubeProxyMode, cluster.customization as never);
  if (text !== desired) problems.push(`${id}: the ConfigMap's config.conf is not the desired one`);
  const hash = configHash(text);
  const pods = await core.listNamespacedPod({
    namespace: 'kube-system',
    labelSelector: 'k8s-app=kube-proxy',
  });
  const nodes = await core.listNode();
  if (pods.items.length !== nodes.items.length || pods.items.length === 0)
    problems.push(`${id}: ${pods.items.length} kube-proxy pods for ${nodes.items.length} nodes`);
  for (const pod of pods.items) {
    const loaded = pod.metadata?.annotations?.[LOADED_CONFIG_ANNOTATION];
    if (loaded !== hash) problems.push(`${id}: pod ${pod.metadata?.name} loaded ${loaded}, not ${hash}`);
  }
  return problems;
}

/**
 * Where the change's CPU went by thread: the main thread (API, emulated clusters and their
 * Kubernetes API, store), the reconciler thread, V8's GC helpers; on two cores their sum bounds
 * the change as much as the main thread alone does. And what the bench's own readiness counts took.
 */
function threadsLine(watched: Watched, seconds: number | undefined, clusters: number): string {
  const perCluster = (cpuSeconds: number) => `${((cpuSeconds * 1000) / clusters).toFixed(1)} ms`;
  const busy = (cpuSeconds: number) =>
    seconds === undefined ? '' : `, ${((cpuSeconds / seconds) * 100).toFixed(0)} % of the window`;
  // The main thread, then the busiest others: mks's by their names (`mks-reconciler`,
  // `mks-checkpoint`: src/thread-name.ts), V8's helper threads as node leaves them (`node`).
  const top = watched.threads.filter((thread) => thread.main || thread.seconds >= 0.05).slice(0, 8);
  const split =
    watched.threads.length === 0
      ? 'threads not measured (no /proc)'
      : top
          .map(
            (thread) =>
              `${thread.main ? 'main' : thread.name} ${thread.seconds.toFixed(2)} s (${perCluster(thread.seconds)}${busy(thread.seconds)}${Number.isNaN(thread.waitSeconds) ? '' : `; ${thread.waitSeconds.toFixed(2)} s waiting for a core`})`,
          )
          .join(', ');
  const counts = watched.readinessCounts;
  return `server CPU over the change ${watched.cpuSeconds.toFixed(2)} s (${perCluster(watched.cpuSeconds)} per cluster), by thread: ${split}; the bench's readiness counts: ${counts.made}, ${counts.ms.toFixed(0)} ms elapsed on the main thread`;
}

/**
 * A failed run's problem for the table: its first line; the rest (a child's last output, when it
 * exited) goes to stderr, not lost.
 */
export function failureLine(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  if (message.includes('\n')) process.stderr.write(`${message}\n`);
  return message.split('\n')[0] ?? 'failed';
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** The passes that ran the change and the main thread's event loop meanwhile: what paces the rate. */
function passesLine(watched: Watched): string {
  const { passes, eventLoop } = watched;
  const outcomes = Object.entries(passes.outcomes)
    .map(([outcome, count]) => `${outcome} ${count}`)
    .join(', ');
  return `reconcile passes ${passes.count} (${outcomes}), duration p50 ${passes.p50.toFixed(0)} ms, p90 ${passes.p90.toFixed(0)} ms, max ${passes.max.toFixed(0)} ms, ended in ${passes.endInstants} distinct ms (at most ${passes.mostEndedTogether} in one); main event loop ${(eventLoop.utilization * 100).toFixed(0)} % busy, delay p50 ${eventLoop.delayP50.toFixed(1)} ms, p99 ${eventLoop.delayP99.toFixed(1)} ms, max ${eventLoop.delayMax.toFixed(0)} ms; main thread's collections: ${gcText(watched.gc)}`;
}
