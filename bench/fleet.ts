/**
 * Section `fleet`: N emulated clusters (--clusters, default 1,000; pods start at once) whose
 * customization changes at once. The figure is the time from the first change until every cluster
 * is READY again with the new generation observed, with clusters per second and the server's
 * peak RSS over that window. Creating the fleet is timed too, but is not the figure.
 *
 * The server (the real runtime with its reconciler worker: API, HTTPS Kubernetes API, emulator)
 * runs in its own process (bench/fleet-process.ts) on a temp SQLite data dir; the embedded
 * default is the target. PostgreSQL (1 vs 2 workers) is a later case: the child takes
 * BENCH_DATABASE_URL like the API server does, and its readiness check is plain SQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Child, startChild } from './lib/child.ts';
import type { BenchContext, FleetFigures, Row } from './lib/context.ts';
import { summarizeProfile } from './lib/profile.ts';

/** Seconds for 1,000 clusters on the embedded default (issue: fleet figure). */
export const FLEET_TARGET_SECONDS = 10;
export const FLEET_TARGET_CLUSTERS = 1000;

const CUSTOMIZATION = { kubeProxy: { iptables: { syncPeriod: 'PT45S' } } };
/** What the rendered config.conf must then say. */
const EXPECTED_TEXT = 'syncPeriod: 45s';
const SAMPLE = 10;
const POPULATE_TIMEOUT_MS = 600_000;
const ROLLOUT_TIMEOUT_MS = 300_000;

interface Populated {
  created: number;
  seconds: number;
  ready: number;
}

interface RolledOut {
  clusters: number;
  ready: number;
  accepted: number;
  seconds: number;
  cpuSeconds: number;
  peakRss: number;
  vmHwm: number | undefined;
  kubeCalls: Record<string, number>;
  handshakes: number;
  window: { start: number; end: number };
}

export async function runFleet(context: BenchContext): Promise<Row[]> {
  const clusters = context.options.clusters;
  // The target is for 1,000 clusters; another fleet size is judged at the same rate.
  const target = (FLEET_TARGET_SECONDS * clusters) / FLEET_TARGET_CLUSTERS;
  const name = `fleet: ${clusters} clusters change customization`;
  const profileDir = path.join(context.profileDir, 'mks-fleet-sqlite');
  if (context.options.profile) {
    fs.rmSync(profileDir, { recursive: true, force: true });
    fs.mkdirSync(profileDir, { recursive: true });
  }
  const child = await startChild('fleet-process.ts', [], {
    env: { MKS_POD_START_MS: '0' },
    cpus: context.options.pin ? '0' : undefined,
    cpuProfileDir: context.options.profile ? profileDir : undefined,
  });
  let fleet: FleetFigures | undefined;
  let problems: string[] = [];
  let window: RolledOut['window'] | undefined;
  try {
    const driven = await driveFleet(child, clusters, 'fleet');
    ({ fleet, problems, window } = driven);
    if (driven.rolled !== undefined) {
      const calls = Object.entries(driven.rolled.kubeCalls)
        .map(([method, count]) => `${method} ${(count / clusters).toFixed(1)}`)
        .join(', ');
      process.stderr.write(
        `  fleet: Kubernetes API calls per cluster during the change: ${calls}; TLS handshakes ${driven.rolled.handshakes}\n`,
      );
    }
  } catch (error) {
    problems.push((error as Error).message.split('\n')[0] ?? 'failed');
  } finally {
    await child.stop();
  }
  let profile: Row['profile'];
  if (context.options.profile) {
    const main = fs.readdirSync(profileDir).find((file) => /\.0\.\d+\.cpuprofile$/.test(file));
    if (main !== undefined) {
      profile = summarizeProfile(path.join(profileDir, main), window);
      if (window !== undefined)
        process.stderr.write(`  fleet: profile window ${window.start}–${window.end} µs (monotonic)\n`);
    }
  }
  const verdict =
    fleet === undefined || problems.length > 0 ? 'FAILED' : fleet.seconds <= target ? 'PASS' : 'FAIL';
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
      : `${fleet.seconds.toFixed(2)} s (changes accepted in ${fleet.acceptSeconds.toFixed(2)} s), ${fleet.clustersPerSecond.toFixed(0)} clusters/s, peak RSS ${mib(fleet.peakRssBytes)}, CPU ${(fleet.cpu * 100).toFixed(0)} %; creation ${fleet.createSeconds.toFixed(1)} s; ${fleet.verified} clusters verified${problems.length > 0 ? `; ${row.note}` : ''}`;
  process.stderr.write(`  fleet: ${figures} → ${verdict}\n`);
  return [row];
}

/**
 * Drives a fleet child (bench/fleet-process.ts): creates `clusters` clusters and waits until all
 * are READY, changes every customization at once and waits again, then verifies a sample through
 * the clusters' Kubernetes API. `aroundRollout` is told when the change starts and ends.
 */
export async function driveFleet(
  child: Child,
  clusters: number,
  label: string,
  aroundRollout: { before?(): void; after?(seconds: number): void } = {},
): Promise<{
  fleet: FleetFigures | undefined;
  problems: string[];
  window: RolledOut['window'] | undefined;
  rolled: RolledOut | undefined;
}> {
  const problems: string[] = [];
  process.stderr.write(`  ${label}: creating ${clusters} clusters…\n`);
  const populated = await child.request<Populated>({
    type: 'populate',
    clusters,
    timeoutMs: POPULATE_TIMEOUT_MS,
  });
  if (populated.ready < clusters) {
    problems.push(`only ${populated.ready} of ${clusters} clusters became READY after creation`);
    return { fleet: undefined, problems, window: undefined, rolled: undefined };
  }
  process.stderr.write(
    `  ${label}: created in ${populated.created.toFixed(1)} s, all READY after ${populated.seconds.toFixed(1)} s; changing every customization…\n`,
  );
  aroundRollout.before?.();
  const rolled = await child.request<RolledOut>({
    type: 'rollout',
    customization: CUSTOMIZATION,
    timeoutMs: ROLLOUT_TIMEOUT_MS,
  });
  aroundRollout.after?.(rolled.seconds);
  if (rolled.ready < clusters) {
    problems.push(
      `only ${rolled.ready} of ${clusters} clusters READY ${rolled.seconds.toFixed(0)} s after the change`,
    );
  }
  const verified = await child.request<{ checked: number; problems: string[] }>({
    type: 'verify',
    sample: SAMPLE,
    expect: EXPECTED_TEXT,
  });
  problems.push(...verified.problems);
  const fleet: FleetFigures = {
    clusters,
    createSeconds: populated.seconds,
    acceptSeconds: rolled.accepted,
    seconds: rolled.seconds,
    clustersPerSecond: clusters / rolled.seconds,
    peakRssBytes: rolled.peakRss,
    vmHwmBytes: rolled.vmHwm,
    cpu: rolled.cpuSeconds / rolled.seconds,
    verified: verified.checked,
    kubeCallsPerCluster: Object.values(rolled.kubeCalls).reduce((a, b) => a + b, 0) / clusters,
  };
  return { fleet, problems, window: rolled.window, rolled };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}
