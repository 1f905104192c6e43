/**
 * What every section gets: the options, the shared load-generator process, a way to start servers
 * under test, to measure one case against one of them, and the hello baseline (measured once per
 * run, on first request).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Child, REPO_DIR, startChild } from './child.ts';
import { type GcCounts, gcBetween, gcText } from './gc-tally.ts';
import type { LoadResult, LoadSpec } from './load.ts';
import type { BenchOptions } from './options.ts';
import { type ProfileSummary, summarizeProfile } from './profile.ts';
import { coresShare, machineSeconds } from './steal.ts';

export interface Measurement extends LoadResult {
  /** CPU used by the server process during the window, as a share of one core. */
  readonly serverCpu: number;
  /** Event-loop utilization of the server during the window (1 = never idle). */
  readonly serverElu: number;
  /** The machine's 1-minute load average when the window ended (other work competing for CPU). */
  readonly loadAverage: number;
  /** Share of the machine's cores' time the hypervisor gave to others in the window (bench/lib/steal.ts). */
  readonly stolen: number;
  /** The server's main-thread garbage collections during the window, by kind. */
  readonly serverGc: GcCounts;
  /** The server's main thread's CPU during the window, as a share of one core (NaN without /proc). */
  readonly serverMainCpu: number;
  /**
   * The part of `serverCpu` spent in the kernel (system time). On loopback it includes the
   * delivery of each answer into the load generator's socket and the wake-up of its thread, which
   * cost more when the server's core is saturated and the load generator's sleeps between answers
   * (docs/performance.md, "Twenty-second round").
   */
  readonly serverSystemCpu: number;
}

/** Server CPU per request, µs, in user space and in the kernel. */
export interface CpuSplit {
  readonly user: number;
  readonly kernel: number;
}

/** A measurement's server CPU per request split into user and kernel time. */
function cpuSplit(measurement: Measurement): CpuSplit {
  return {
    user: microsPerRequest(measurement.serverCpu - measurement.serverSystemCpu, measurement.rps),
    kernel: microsPerRequest(measurement.serverSystemCpu, measurement.rps),
  };
}

export type Verdict = 'PASS' | 'FAIL' | 'FAILED' | 'BASELINE' | 'SKIPPED';

export interface Row {
  readonly section: string;
  readonly name: string;
  readonly dialect: string | undefined;
  readonly measurement: Measurement | undefined;
  /** The hello route's rps measured right before this case. */
  readonly helloRps: number | undefined;
  /** That hello measurement's server CPU per request, µs, split into user and kernel time. */
  readonly helloCpu?: CpuSplit | undefined;
  /**
   * The judged figure: hello's server CPU per request ÷ this case's (how much server work a
   * request costs beside hello's, whatever the load generator, which shares the cores, managed).
   */
  readonly ratio: number | undefined;
  /** API cases measured in several rounds: each round's ratio, in order (`ratio` is their median). */
  readonly roundRatios?: readonly number[] | undefined;
  /** rps of this case ÷ helloRps (printed beside the ratio: noisy on a shared machine). */
  readonly rpsRatio?: number | undefined;
  readonly target: number | undefined;
  readonly verdict: Verdict;
  readonly note: string | undefined;
  readonly profile: ProfileSummary | undefined;
  /** Fleet rows (section `fleet`): their figures instead of a load measurement; target in seconds. */
  readonly fleet?: FleetFigures | undefined;
}

/** What the fleet section measures (bench/fleet.ts). */
export interface FleetFigures {
  readonly clusters: number;
  /** How many of them the change touched (the figures "per cluster" of the change are per these). */
  readonly changed: number;
  /** Seconds to create the fleet and see it all READY (not the figure). */
  readonly createSeconds: number;
  /** Seconds until every change was accepted (part of the figure). */
  readonly acceptSeconds: number;
  /** The figure: seconds from the first change until every cluster is READY with it observed. */
  readonly seconds: number;
  /** Clusters changed per second. */
  readonly clustersPerSecond: number;
  /** Peak RSS of the server process over the change window (its high-water mark since the window began). */
  readonly peakRssBytes: number;
  /** The process's high-water mark (creation included). */
  readonly vmHwmBytes: number | undefined;
  /** RSS of the server before the first cluster. */
  readonly baselineRssBytes: number;
  /**
   * RSS of the server once the fleet is created and settled: the highest sample over a resync
   * period that loaded no cluster, after another that loaded none (bench/fleet-process.ts).
   */
  readonly settledRssBytes: number;
  /** (settled − baseline) per 1,000 clusters. */
  readonly rssPerThousandIdleBytes: number;
  /** Emulated clusters in memory once settled. */
  readonly loadedAfterCreation: number;
  /** Server CPU over the change window, as a share of one core. */
  readonly cpu: number;
  /** Share of the machine's cores' time the hypervisor gave to others over the change (bench/lib/steal.ts). */
  readonly stolen: number;
  /**
   * Share of the machine's cores' time no thread was ready to run over the change (idle and
   * iowait; bench/lib/steal.ts): with the main thread waiting for a core, the machine had one.
   */
  readonly idle: number;
  /**
   * Every change of a run of several (`--rounds`), in order; the figures above are the median
   * one's by seconds, but for the peak RSS, the highest of them.
   */
  readonly changes?: readonly {
    readonly seconds: number;
    readonly cpuMsPerCluster: number;
    readonly peakRssBytes: number;
    readonly stolen: number;
    readonly idle: number;
  }[];
  /** Clusters whose ConfigMap and kube-proxy pods were checked through their Kubernetes API. */
  readonly verified: number;
  /** Requests the clusters' Kubernetes API served during the change, per cluster changed. */
  readonly kubeCallsPerCluster: number;
  /**
   * The settled fleet over one more resync period (after the settled-RSS one): loads of evicted
   * clusters, Kubernetes API calls and server CPU (share of one core), all the resyncs' cost.
   */
  readonly resync: { readonly loads: number; readonly kubeCalls: number; readonly cpu: number };
  /**
   * The change's server CPU by thread, in ms per cluster changed, the most first: the main thread
   * (`main`), then the others (the reconciler thread, V8's helpers); empty without /proc.
   */
  readonly cpuMsPerClusterByThread: readonly { readonly main: boolean; readonly ms: number }[];
}

export interface ServerUnderTest {
  readonly child: Child;
  /** Stops the server; with --profile, summarizes its CPU profile over the measured window. */
  stop(): Promise<ProfileSummary | undefined>;
}

interface Usage {
  cpu: NodeJS.CpuUsage;
  elu: { idle: number; active: number };
  gc: GcCounts;
  /** The main thread's CPU so far (bench/lib/thread-cpu.ts; 10 ms ticks), µs. */
  mainCpuMicros: number;
  hrtimeMicros: number;
}

export class BenchContext {
  readonly options: BenchOptions;
  readonly profileDir: string;
  readonly #loader: Child;
  #helloServer: Promise<ServerUnderTest> | undefined;
  #helloProfile: ProfileSummary | undefined;
  readonly #helloMeasurements: Measurement[] = [];
  /** The last measured window per server pid, in monotonic microseconds (for profiles). */
  readonly #windows = new Map<number, { start: number; end: number }>();

  private constructor(options: BenchOptions, loader: Child) {
    this.options = options;
    this.#loader = loader;
    this.profileDir = path.join(REPO_DIR, '.bench', 'profiles');
  }

  static async create(options: BenchOptions): Promise<BenchContext> {
    const loader = await startChild('load-process.ts', [], { cpus: options.pin ? '1' : undefined });
    return new BenchContext(options, loader);
  }

  /** Prints a finished row at once (the table comes at the end). */
  progress(row: Row): void {
    const m = row.measurement;
    const figures =
      m === undefined
        ? (row.note ?? '')
        : `${m.rps.toFixed(0)} rps, p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, server CPU ${(m.serverCpu * 100).toFixed(0)} %, loader CPU ${(m.loaderCpu * 100).toFixed(0)} %, load avg ${m.loadAverage.toFixed(1)}, stolen ${percent(m.stolen)}, server's main-thread collections ${gcText(m.serverGc)}`;
    const where = row.dialect === undefined ? '' : ` [${row.dialect}]`;
    const cpu =
      m === undefined
        ? ''
        : `, ${cpuMicrosPerRequest(m).toFixed(1)} µs CPU/req (main thread ${microsPerRequest(m.serverMainCpu, m.rps).toFixed(1)}; ${splitText(cpuSplit(m))})`;
    const versus =
      row.ratio === undefined
        ? ''
        : ` = ${(row.ratio * 100).toFixed(1)} % of hello by CPU/req, ${((row.rpsRatio ?? 0) * 100).toFixed(1)} % by rps (hello ${row.helloRps?.toFixed(0)} rps${row.helloCpu === undefined ? '' : `, ${splitText(row.helloCpu)}`})`;
    process.stderr.write(
      `  ${row.section}: ${row.name}${where}: ${figures}${cpu}${versus} → ${row.verdict}\n`,
    );
  }

  async close(): Promise<void> {
    await this.stopHello();
    await this.#loader.stop();
  }

  /** Stops the hello server (with --profile, keeps its profile for the baseline row). */
  async stopHello(): Promise<void> {
    const server = this.#helloServer;
    this.#helloServer = undefined;
    if (server !== undefined) this.#helloProfile = (await (await server).stop()) ?? this.#helloProfile;
  }

  /** Starts `bench/server-process.ts <kind>`; `profileName` turns on --cpu-prof when --profile is set. */
  async startServer(
    kind: 'mks' | 'hello',
    options: { env?: NodeJS.ProcessEnv; profileName?: string } = {},
  ): Promise<ServerUnderTest> {
    const profile = this.options.profile && options.profileName !== undefined;
    const profileDir = path.join(this.profileDir, options.profileName ?? kind);
    if (profile) {
      fs.rmSync(profileDir, { recursive: true, force: true });
      fs.mkdirSync(profileDir, { recursive: true });
    }
    const child = await startChild('server-process.ts', [kind], {
      mks: kind === 'mks',
      env: options.env,
      cpus: this.options.pin ? '0' : undefined,
      cpuProfileDir: profile ? profileDir : undefined,
    });
    return {
      child,
      stop: async () => {
        await child.stop();
        if (!profile) return undefined;
        // The main thread's profile (thread id 0), not the module loader's.
        const main = fs.readdirSync(profileDir).find((name) => /\.0\.\d+\.cpuprofile$/.test(name));
        if (main === undefined) return undefined;
        return summarizeProfile(path.join(profileDir, main), this.#windows.get(child.pid));
      },
    };
  }

  /** A warm-up run (not measured), then the measured run, with the server's CPU use around it. */
  async measure(server: Child, spec: Omit<LoadSpec, 'duration' | 'connections' | 'pipelining'>) {
    const { duration, warmup, connections, pipelining } = this.options;
    const full = { ...spec, connections, pipelining };
    if (warmup > 0) await this.#loader.request({ type: 'run', spec: { ...full, duration: warmup } });
    const before = await server.request<Usage>({ type: 'usage' });
    const machineBefore = machineSeconds();
    const { result } = await this.#loader.request<{ result: LoadResult }>({
      type: 'run',
      spec: { ...full, duration },
    });
    const after = await server.request<Usage>({ type: 'usage' });
    const machineAfter = machineSeconds();
    this.#windows.set(server.pid, { start: before.hrtimeMicros, end: after.hrtimeMicros });
    const wallSeconds = (after.hrtimeMicros - before.hrtimeMicros) / 1e6;
    const cpu = (after.cpu.user + after.cpu.system - before.cpu.user - before.cpu.system) / 1e6 / wallSeconds;
    const active = after.elu.active - before.elu.active;
    const idle = after.elu.idle - before.elu.idle;
    const measurement: Measurement = {
      ...result,
      serverCpu: cpu,
      serverElu: active + idle === 0 ? 0 : active / (active + idle),
      loadAverage: os.loadavg()[0]!,
      stolen: coresShare(machineBefore.stolen, machineAfter.stolen, wallSeconds),
      serverGc: gcBetween(before.gc, after.gc),
      serverMainCpu: (after.mainCpuMicros - before.mainCpuMicros) / 1e6 / wallSeconds,
      serverSystemCpu: (after.cpu.system - before.cpu.system) / 1e6 / wallSeconds,
    };
    return measurement;
  }

  /**
   * Measures the bare Fastify hello route now. Its server process is started once and kept; every
   * round of a case measures it right before itself, so a ratio compares two runs seconds apart
   * (this matters on a shared machine, where the background load drifts).
   */
  async measureHello(): Promise<Measurement> {
    this.#helloServer ??= this.startServer('hello', { profileName: 'hello' });
    const server = await this.#helloServer;
    const port = server.child.ready.port as number;
    const measurement = await this.measure(server.child, {
      url: `http://127.0.0.1:${port}`,
      requests: [{ method: 'GET', path: '/hello', headers: {} }],
      check: { equals: '{"hello":"world"}' },
    });
    this.#helloMeasurements.push(measurement);
    return measurement;
  }

  /** The baseline row: the median hello measurement of the run (by rps). */
  helloRow(): Row | undefined {
    const all = [...this.#helloMeasurements].sort((a, b) => a.rps - b.rps);
    const median = lowerMedian(all, (measurement) => measurement.rps);
    if (median === undefined) return undefined;
    const failed = all.some((measurement) => failures(measurement) > 0);
    const spread =
      all.length > 1
        ? `median of ${all.length} measurements (one before each round of each case), ${all[0]!.rps.toFixed(0)}–${all.at(-1)!.rps.toFixed(0)} rps`
        : undefined;
    return {
      section: 'baseline',
      name: HELLO_NAME,
      dialect: undefined,
      measurement: median,
      helloRps: median.rps,
      ratio: 1,
      rpsRatio: 1,
      target: undefined,
      verdict: failed ? 'FAILED' : 'BASELINE',
      note: [spread, ...all.map(failureNote)].filter((text) => text !== undefined).join('; ') || undefined,
      profile: this.#helloProfile,
    };
  }
}

const HELLO_NAME = 'GET /hello (bare Fastify)';

export function failures(measurement: Measurement): number {
  return measurement.non2xx + measurement.errors + measurement.mismatches;
}

export function failureNote(measurement: Measurement): string | undefined {
  if (failures(measurement) === 0) return undefined;
  const codes = Object.entries(measurement.statusCodes)
    .map(([code, count]) => `${code}×${count}`)
    .join(' ');
  return `errors: non-2xx ${measurement.non2xx} (${codes}), socket errors ${measurement.errors} (timeouts ${measurement.timeouts}), body mismatches ${measurement.mismatches}; e.g. ${measurement.sampleFailure ?? '-'}`;
}

/** Server CPU time per answered request, in microseconds (all the server's threads). */
export function cpuMicrosPerRequest(measurement: Measurement): number {
  return microsPerRequest(measurement.serverCpu, measurement.rps);
}

/**
 * The median of `items` by `key`: the lower middle one for an even count (the judged round of the
 * API cases and of the fleet's changes, the hello row); undefined when there are none.
 */
export function lowerMedian<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  const ordered = [...items].sort((a, b) => key(a) - key(b));
  return ordered[Math.floor((ordered.length - 1) / 2)];
}

/** A share as a percentage with one decimal, or "-" where it could not be read. */
export function percent(share: number): string {
  return Number.isNaN(share) ? '-' : `${(share * 100).toFixed(1)} %`;
}

function splitText(split: CpuSplit): string {
  return `user ${split.user.toFixed(1)} + kernel ${split.kernel.toFixed(1)} µs`;
}

/** µs of CPU per request from a share of one core over a window and the requests per second. */
function microsPerRequest(cpuShare: number, rps: number): number {
  return rps === 0 ? Number.POSITIVE_INFINITY : (cpuShare / rps) * 1e6;
}

/**
 * Compares a case with the hello measurement made right before it, and with its target: the
 * target is judged on server CPU per request (hello's ÷ the case's), which does not depend on how
 * much of the shared cores the load generator took; the rps ratio is kept beside it.
 */
export function judge(
  base: Omit<Row, 'ratio' | 'rpsRatio' | 'verdict' | 'note' | 'helloRps'>,
  hello: Measurement,
): Row {
  const measurement = base.measurement;
  if (measurement === undefined) {
    return { ...base, helloRps: hello.rps, ratio: undefined, verdict: 'FAILED', note: 'not measured' };
  }
  const ratio = cpuMicrosPerRequest(hello) / cpuMicrosPerRequest(measurement);
  const rpsRatio = measurement.rps / hello.rps;
  const failed = failures(measurement) > 0 || measurement.ok === 0;
  const verdict = failed ? 'FAILED' : base.target === undefined || ratio >= base.target ? 'PASS' : 'FAIL';
  return {
    ...base,
    helloRps: hello.rps,
    helloCpu: cpuSplit(hello),
    ratio,
    rpsRatio,
    verdict,
    note: failureNote(measurement),
  };
}
