/**
 * The fleet under test, in its own process: the real runtime (`mks serve`: API, the emulated
 * clusters' HTTPS Kubernetes API, the emulator and the reconciler worker) on a temp data dir,
 * with emulated pods that start at once (MKS_POD_START_MS=0, set by the parent) and log level
 * info as in production. The parent (bench/fleet.ts) is the user: it creates and changes the
 * clusters through the signed API (`ready` says where: the ovh.conf of the first start, the
 * project) and verifies them through their Kubernetes API. This process only measures itself.
 *
 * Requests (bench/lib/child.ts):
 *   settle { count, timeoutMs }
 *                          waits until `count` clusters are READY with their newest generation
 *                          observed (one SQL count, polled); answers how many are.
 *   memory { settleMs, timeoutMs, untilQuiet }
 *                          samples RSS over periods of `settleMs` until two in a row load no
 *                          emulated cluster and the last saw no heap compaction (`untilQuiet`;
 *                          bounded by `timeoutMs`), else over one period
 *                          once no more clusters are loaded than the bound allows; answers that
 *                          period's highest sample, the V8 heap, the emulator's residency figures,
 *                          the loads of each period read, the main thread's compactions by the
 *                          end of each, and every isolate's compactions so far (src/memory/).
 *   watchStart             starts sampling RSS, CPU time and Kubernetes API calls (a change);
 *                          answers the emulator's residency figures (its loads so far).
 *   watchStop              stops; answers CPU seconds (the process's and each thread's),
 *                          peak RSS, VmHWM, calls by method, TLS handshakes, the readiness
 *                          counts made meanwhile and their time, the compactions so far, and the
 *                          monotonic window (for profiles).
 *   usage                  CPU time so far and the monotonic clock (for profile windows).
 *
 * The readiness check is one SQL count over the clusters table, so it reads the same on SQLite
 * and PostgreSQL (where other worker processes may do the work).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance as perf } from 'node:perf_hooks';
import v8 from 'node:v8';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { compactionTotals } from '../src/memory/compaction.ts';
import { startRuntime } from '../src/server.ts';
import { freePort } from '../test/support/postgres-server.ts';
import { fatal, serveParent } from './lib/child.ts';
import { GcTally } from './lib/gc-tally.ts';
import { cpuSecondsOfStat } from './lib/thread-cpu.ts';

const LOG_LEVEL = 'info';
/**
 * How often the readiness count runs (the figure's resolution; it shares the server's CPU): every
 * 50 ms, or 50 times as long as the last count took if that is longer, so counting takes at most
 * about 2 % of the main thread. A count of 10,000 clusters takes ≈ 7.5 ms: every 50 ms, the counts
 * took 6.5 s of the main thread during an 80 s change (docs/performance.md).
 */
const POLL_MS = 50;
const POLL_COST_RATIO = 50;

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-fleet-'));

/** Peak RSS, sampled (for the settle's periods: a sample every `everyMs`). */
class RssSampler {
  peak = 0;
  readonly #timer: NodeJS.Timeout;
  constructor(everyMs: number) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

/**
 * The change's peak RSS, exact and without sampling: the kernel's high-water mark (VmHWM), reset
 * when the window begins (`clear_refs` 5, Linux ≥ 4.0). Sampling RSS every 25 ms instead missed
 * what rose and fell between two samples, and cost the main thread it measured ≈ 0.6 % of a
 * change by the profile (a /proc read each: docs/performance.md, "Eighteenth round"). Where the
 * mark cannot be reset, the sampler.
 */
class ChangePeakRss {
  readonly #sampler: RssSampler | undefined;
  /** The process's high-water mark before the reset (creation's peak). */
  readonly #before = vmHwmBytes();
  constructor() {
    try {
      fs.writeFileSync('/proc/self/clear_refs', '5');
      this.#sampler = undefined;
    } catch {
      this.#sampler = new RssSampler(25);
    }
  }
  /** The change's peak RSS. */
  stop(): number {
    if (this.#sampler !== undefined) return this.#sampler.stop();
    return Math.max(vmHwmBytes() ?? 0, process.memoryUsage.rss());
  }
  /** The process's high-water mark over its whole life (creation included), as before the reset. */
  lifeHighWater(): number | undefined {
    const now = vmHwmBytes();
    if (now === undefined || this.#before === undefined) return now ?? this.#before;
    return Math.max(now, this.#before);
  }
}

function vmHwmBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * What RSS is made of (/proc/self/smaps_rollup): anonymous pages (every thread's V8 heap, malloc
 * arenas, SQLite's caches) and the rest, file-backed (the node binary's and native modules' code).
 */
function rssParts(): { anonymous?: number; fileBacked?: number } {
  try {
    const text = fs.readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kib = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
    const anonymous = kib('Anonymous') * 1024;
    return { anonymous, fileBacked: kib('Rss') * 1024 - anonymous };
  } catch {
    return {};
  }
}

/** The main thread's V8 heap by space, committed (used), in MiB: where its total sits. */
function heapSpaces(): string {
  const mib = (bytes: number) => Math.round(bytes / (1024 * 1024));
  return v8
    .getHeapSpaceStatistics()
    .filter((space) => space.space_size >= 1024 * 1024)
    .map(
      (space) =>
        `${space.space_name.replace(/_space$/, '')} ${mib(space.space_size)} (${mib(space.space_used_size)})`,
    )
    .join(', ');
}

/** The main thread's V8 heap (the reconciler thread's is in RSS only). */
function heapOf(usage: NodeJS.MemoryUsage): { heapUsed: number; heapTotal: number; external: number } {
  return { heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external };
}

const hrtimeMicros = () => Number(process.hrtime.bigint() / 1000n);

/** One thread's figures (/proc/self/task/<tid>): CPU seconds, run-queue wait seconds, name. */
interface ThreadTimes {
  seconds: number;
  /** Time runnable but waiting for a core (schedstat's second field); NaN without schedstat. */
  waitSeconds: number;
  name: string;
}

/**
 * CPU seconds of each thread of this process by thread id (/proc/self/task/<tid>/stat: utime and
 * stime, in clock ticks of 10 ms), with the time it waited for a core (schedstat) and its name;
 * empty where /proc is not there. The main thread's id is the pid; the others are the reconciler
 * thread, V8's GC helpers, the SQLite checkpointer, libuv's pool.
 */
function threadCpuSeconds(): Map<number, ThreadTimes> {
  const cpu = new Map<number, ThreadTimes>();
  try {
    for (const tid of fs.readdirSync('/proc/self/task')) {
      try {
        const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        let waitSeconds = Number.NaN;
        try {
          const sched = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ');
          waitSeconds = Number(sched[1]) / 1e9;
        } catch {
          // no schedstat (a kernel without CONFIG_SCHEDSTATS)
        }
        cpu.set(Number(tid), {
          seconds: cpuSecondsOfStat(stat),
          waitSeconds,
          name,
        });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return cpu;
}

try {
  const config = loadConfig(
    {
      dataDir,
      listen: `127.0.0.1:${await freePort()}`,
      kubeListen: `127.0.0.1:${await freePort()}`,
      databaseUrl: process.env.BENCH_DATABASE_URL,
      logLevel: LOG_LEVEL,
    },
    {
      ...process.env,
      MKS_LOG_LEVEL: undefined,
      MKS_DATABASE_URL: undefined,
      MKS_DATA_DIR: undefined,
      // BENCH_WORKER=false: the reconciler runs in separate `mks worker` processes (bench/fleet-workers.ts).
      MKS_WORKER: process.env.BENCH_WORKER ?? 'true',
      // The figures measure throughput: one bench credential must not be held to a client's rate.
      MKS_RATE_LIMIT_PER_SECOND: '0',
    },
  );
  const logger = createLogger(config.logLevel);
  const runtime = await startRuntime(config, logger);
  const { services } = runtime;
  const projectId = runtime.first.projectId;
  if (projectId === undefined) throw new Error('bootstrap created no project');
  // Kubernetes API calls by method (what the reconciler costs the clusters), and TLS handshakes.
  let kubeCalls: Record<string, number> = {};
  let handshakes = 0;
  const countCall = (method: string | undefined) => {
    kubeCalls[method ?? '?'] = (kubeCalls[method ?? '?'] ?? 0) + 1;
  };
  runtime.kubeApp.server.on('request', (request: { method?: string }) => countCall(request.method));
  // The calls the reconciler makes in memory (src/reconcile/kube/local-kube.ts) go to the
  // instance's router, not through the listener.
  const routing = runtime.kubeApp.routing.bind(runtime.kubeApp);
  runtime.kubeApp.routing = (request, reply) => {
    countCall(request.method);
    routing(request, reply);
  };
  runtime.kubeApp.server.on('secureConnection', () => {
    handshakes++;
  });
  /**
   * The reconcile passes that ended while watching: their outcome, duration and end (ms, the main
   * thread's clock, where the loop learns of it).
   */
  let passes: { outcome: string; ms: number; endedAt: number }[] = [];
  runtime.reconciler?.onPass((outcome, seconds) => {
    if (watch !== undefined) passes.push({ outcome, ms: seconds * 1000, endedAt: performance.now() });
  });

  /** The readiness counts made while watching, and the time they took (they run on the main thread). */
  let counts = { made: 0, ms: 0 };
  /** How long the last readiness count took. */
  let lastCountMs = 0;
  /** Clusters of the fleet that are READY with their newest generation observed. */
  const settled = async (): Promise<number> => {
    const started = performance.now();
    const row = await services.database.db
      .selectFrom('clusters')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('project_id', '=', projectId)
      .where('deleted_at', 'is', null)
      .where('status', '=', 'READY')
      .whereRef('observed_generation', '=', 'generation')
      .executeTakeFirstOrThrow();
    lastCountMs = performance.now() - started;
    counts.made++;
    counts.ms += lastCountMs;
    return Number(row.n);
  };

  const waitSettled = async (count: number, timeoutMs: number): Promise<number> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const n = await settled();
      if (n >= count) return n;
      if (performance.now() > deadline) return n;
      const pause = Math.max(POLL_MS, POLL_COST_RATIO * lastCountMs);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  /** Two periods in a row without a load: the passes had ended before the last one began. */
  const quiet = (periods: readonly number[]) =>
    periods.length >= 2 && periods.at(-1) === 0 && periods.at(-2) === 0;
  /** Every isolate's compactions so far (src/memory/). */
  const compactionCount = () =>
    Object.values(compactionTotals()).reduce((sum, total) => sum + total.count, 0);
  /**
   * RSS once the fleet is settled. The first resync after creation still makes full passes that
   * load evicted clusters (a cluster's resync is free only once a pass found it settled), so with
   * `untilQuiet` the reading is taken over a period of `settleMs` (a resync period) in which no
   * cluster was loaded, after one that loaded none either (the first such period still holds the
   * last passes' clusters and garbage as it begins) and in which no isolate compacted its heap (the
   * burst's end: its RSS samples before the compaction are the burst's, not the settled fleet's),
   * and answers the loads of each period waited. Without it (the
   * clusters shared between processes on PostgreSQL, whose resyncs load evicted clusters) it waits
   * until no more clusters are loaded than the bound allows, then reads one period; with
   * `settleMs` 0 (the baseline), at once.
   */
  const memory = async (settleMs: number, timeoutMs: number, untilQuiet: boolean) => {
    const deadline = performance.now() + timeoutMs;
    const residency = () => runtime.emulator.residency();
    while (!untilQuiet && residency().loaded > config.emulator.maxLoaded && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const periods: number[] = [];
    const peaks: number[] = [];
    /** The main thread's compactions (src/memory/) by the end of each period. */
    const compacted: number[] = [];
    let sampler: RssSampler;
    let compactedIn = 0;
    for (;;) {
      const loadsBefore = residency().loads;
      const compactionsBefore = compactionCount();
      sampler = new RssSampler(100);
      await new Promise((resolve) => setTimeout(resolve, settleMs));
      sampler.stop();
      periods.push(residency().loads - loadsBefore);
      peaks.push(sampler.peak);
      compacted.push(compactionTotals().main?.count ?? 0);
      compactedIn = compactionCount() - compactionsBefore;
      if (
        !untilQuiet ||
        (quiet(periods) && compactedIn === 0) ||
        settleMs === 0 ||
        performance.now() > deadline
      )
        break;
    }
    return {
      type: 'memory',
      rss: sampler.peak,
      ...rssParts(),
      ...heapOf(process.memoryUsage()),
      ...runtime.emulator.residency(),
      quiet: quiet(periods) && compactedIn === 0,
      periods,
      peaks,
      compacted,
      compactions: compactionTotals(),
      heapSpaces: heapSpaces(),
    };
  };

  let watch:
    | {
        peakRss: ChangePeakRss;
        heapSampler: NodeJS.Timeout;
        cpu: NodeJS.CpuUsage;
        threadCpu: Map<number, ThreadTimes>;
        startMicros: number;
        peakHeap: () => number;
        loopDelay: ReturnType<typeof monitorEventLoopDelay>;
        utilization: ReturnType<typeof perf.eventLoopUtilization>;
        gc: GcTally;
      }
    | undefined;
  const watchStart = () => {
    let peakHeap = 0;
    const peakRss = new ChangePeakRss();
    // The main thread's heap, sampled (V8's statistics: no /proc read).
    const heapSampler = setInterval(() => {
      peakHeap = Math.max(peakHeap, v8.getHeapStatistics().total_heap_size);
    }, 25);
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const gc = new GcTally();
    watch = {
      gc,
      peakRss,
      heapSampler,
      cpu: process.cpuUsage(),
      threadCpu: threadCpuSeconds(),
      startMicros: hrtimeMicros(),
      peakHeap: () => peakHeap,
      loopDelay,
      utilization: perf.eventLoopUtilization(),
    };
    passes = [];
    kubeCalls = {};
    handshakes = 0;
    counts = { made: 0, ms: 0 };
    // The emulator's loads and evictions so far, so a window's own can be told.
    return { type: 'watching', ...runtime.emulator.residency() };
  };
  const watchStop = () => {
    if (watch === undefined) throw new Error('watchStop without watchStart');
    const cpu = process.cpuUsage(watch.cpu);
    const threadCpu = threadCpuSeconds();
    const before = watch.threadCpu;
    // CPU seconds per thread over the window, the most first; the main thread is the pid.
    const threads = [...threadCpu]
      .map(([tid, now]) => ({
        main: tid === process.pid,
        name: now.name,
        seconds: now.seconds - (before.get(tid)?.seconds ?? 0),
        waitSeconds: now.waitSeconds - (before.get(tid)?.waitSeconds ?? 0),
      }))
      .filter((thread) => thread.seconds > 0)
      .sort((a, b) => b.seconds - a.seconds);
    const peakRss = watch.peakRss.stop();
    clearInterval(watch.heapSampler);
    watch.loopDelay.disable();
    const gc = watch.gc.stop();
    const ms = (ns: number) => ns / 1e6;
    const durations = passes.map((pass) => pass.ms).sort((a, b) => a - b);
    const quantile = (q: number) =>
      durations[Math.min(durations.length - 1, Math.floor(q * durations.length))] ?? 0;
    const outcomes: Record<string, number> = {};
    for (const pass of passes) outcomes[pass.outcome] = (outcomes[pass.outcome] ?? 0) + 1;
    // Passes whose ends the loop learned of in the same millisecond: those a claim started together
    // and that went on in step (docs/performance.md, "Twenty-eighth round").
    const endedTogether = new Map<number, number>();
    let mostEndedTogether = 0;
    for (const pass of passes) {
      const at = Math.floor(pass.endedAt);
      const ended = (endedTogether.get(at) ?? 0) + 1;
      endedTogether.set(at, ended);
      mostEndedTogether = Math.max(mostEndedTogether, ended);
    }
    const result = {
      // The main thread's event loop over the window: how long a timer or an I/O callback waited
      // for its turn beyond its due time (sampled every 5 ms), and the share of the time it ran.
      eventLoop: {
        delayP50: ms(watch.loopDelay.percentile(50)),
        delayP99: ms(watch.loopDelay.percentile(99)),
        delayMax: ms(watch.loopDelay.max),
        utilization: perf.eventLoopUtilization(watch.utilization).utilization,
      },
      passes: {
        count: passes.length,
        outcomes,
        p50: quantile(0.5),
        p90: quantile(0.9),
        max: durations.at(-1) ?? 0,
        endInstants: endedTogether.size,
        mostEndedTogether,
      },
      gc,
      type: 'watched',
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      threads,
      readinessCounts: counts,
      peakRss,
      peakHeapTotal: watch.peakHeap(),
      vmHwm: watch.peakRss.lifeHighWater(),
      kubeCalls,
      handshakes,
      window: { start: watch.startMicros, end: hrtimeMicros() },
      compactions: compactionTotals(),
      ...runtime.emulator.residency(),
    };
    watch = undefined;
    return result;
  };

  serveParent(
    async (message) => {
      switch (message.type) {
        case 'settle':
          return {
            type: 'settled',
            ready: await waitSettled(message.count as number, message.timeoutMs as number),
          };
        case 'memory':
          return memory(message.settleMs as number, message.timeoutMs as number, message.untilQuiet === true);
        case 'watchStart':
          return watchStart();
        case 'watchStop':
          return watchStop();
        case 'usage':
          return { type: 'usage', cpu: process.cpuUsage(), hrtimeMicros: hrtimeMicros() };
        default:
          throw new Error(`unknown request '${message.type}'`);
      }
    },
    async () => {
      await runtime.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  );
  process.send?.({
    type: 'ready',
    pid: process.pid,
    database: config.database.kind,
    dataDir,
    kubePublicUrl: config.kubePublicUrl,
    ovhConf: runtime.first.file,
    projectId,
    region: config.regions[0],
    maxLoaded: config.emulator.maxLoaded,
  });
} catch (error) {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fatal(error);
}
