/**
 * Compacts the process's memory once when its work goes quiet after a burst: a fleet created or
 * changed, a resync that loaded evicted clusters. V8 keeps the pages a burst made its heaps commit
 * until allocation slows enough for its memory reducer, and a settled fleet's resync keeps
 * allocating a little all the time, so without this the burst's high-water mark stays as RSS
 * (docs/performance.md, "Sixth round: a settled fleet's memory").
 *
 * Quiet is told by the work itself, not by CPU: no change committed through the API (the
 * reconcile outbox's signal), no API request answered (a compaction pauses the main thread for
 * 0.1–0.5 s: not while clients are being served), no emulated cluster loaded or evicted, no
 * reconcile pass other than one that found its cluster as it was (outcome `done`), for `quietMs`. Then every isolate
 * collects its heap in full, each only if its heap grew since its own last compaction (heap.ts),
 * and nothing runs again until the next burst.
 */
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { burstGrowth, type Compaction, compactIfGrown, quietHeapGrowth, ThreadCompactions } from './heap.ts';

export interface QuietOptions {
  /** How long no work must be seen before the burst counts as ended. */
  readonly quietMs: number;
  /** How often the signals polled are read, and quiet is judged. */
  readonly checkMs: number;
}

/**
 * Three seconds at least: a reconcile pass ends and the next of a rollout starts within
 * `MKS_PROGRESS_MS` (1 s by default), so a rollout is never taken for quiet. With emulated
 * clusters, longer than they take to leave memory once idle (`quietFor`).
 */
export const QUIET: QuietOptions = { quietMs: 3_000, checkMs: 1_000 };

/**
 * The quiet period for a process whose emulated clusters leave memory `evictionDelayMs` after
 * their last use: longer than that, by one check. The clusters a burst loaded are then evicted
 * (an eviction is work) before the burst counts as ended, and the compaction returns their memory
 * too. With a shorter period it could run between the last load and those evictions, with the
 * clusters still live, and not again after (their leaving makes the heap no larger): a fleet of
 * 1,000 once settled at 270 MiB that way, 97 MiB of heap left after the compaction.
 */
export function quietFor(evictionDelayMs: number | undefined, base: QuietOptions = QUIET): QuietOptions {
  if (evictionDelayMs === undefined) return base;
  return { ...base, quietMs: Math.max(base.quietMs, evictionDelayMs + base.checkMs) };
}

/**
 * Runs `onQuiet` once after each burst of activity, when none has been seen for `quietMs`.
 * Activity is an event (`activity()`) or a move of the `polled` figure (read every `checkMs`).
 */
export class QuietWatch {
  readonly #options: QuietOptions;
  readonly #polled: () => number;
  readonly #onQuiet: () => void;
  readonly #timer: NodeJS.Timeout;
  #events = 0;
  #seen: number;
  #lastActivity = performance.now();
  /** A burst was seen and has not been followed by its quiet period yet. */
  #pending = false;

  constructor(options: QuietOptions, polled: () => number, onQuiet: () => void) {
    this.#options = options;
    this.#polled = polled;
    this.#onQuiet = onQuiet;
    this.#seen = polled();
    this.#timer = setInterval(() => this.#check(), options.checkMs);
    this.#timer.unref();
  }

  /** Something that allocates was done (a change, a pass at work). */
  readonly activity = (): void => {
    this.#events += 1;
  };

  #check(): void {
    const seen = this.#events + this.#polled();
    const now = performance.now();
    if (seen !== this.#seen) {
      this.#seen = seen;
      this.#lastActivity = now;
      this.#pending = true;
      return;
    }
    if (!this.#pending || now - this.#lastActivity < this.#options.quietMs) return;
    this.#pending = false;
    this.#onQuiet();
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** What the runtime lends: the signals of its work, where to log and count. */
export interface CompactionSources {
  readonly logger: Logger;
  /** The reconcile outbox's signal (clusters/cluster-work.ts): a change was committed. */
  readonly workSignal: { on(listener: () => void): void; off(listener: () => void): void };
  /** The reconcile loop this process runs, if any: its passes' outcomes. */
  readonly reconciler?: { onPass(listener: (outcome: string) => void): void };
  /**
   * The emulated clusters this process serves, if any: loads and evictions so far, and how long
   * after its last use an idle cluster leaves memory at the latest.
   */
  readonly emulator?: {
    residency(): { readonly loads: number; readonly evictions: number };
    readonly evictionDelayMs: number;
  };
  /** The API this process serves, if any: requests answered so far. */
  readonly answered?: () => number;
  /** `/metrics`' registry, if the process serves one. */
  readonly registry?: Registry;
  readonly quiet?: QuietOptions;
  /**
   * The heap's growth factor while the process is quiet, set as the compaction starts, once the
   * runtime is up (heap.ts `quietHeapGrowth`; config `heapGrowingPercent`); 0: V8's own.
   */
  readonly growingPercent: number;
}

const MIB = 1024 * 1024;

/** Per isolate, the compactions of this process so far (what /metrics counts, for the benches to read). */
export interface CompactionTotals {
  count: number;
  returnedBytes: number;
  pauseMs: number;
  cpuMs: number;
  /** The last one's committed heap after it. */
  committedAfter: number;
}
const totals = new Map<string, CompactionTotals>();

/** The compactions this process ran so far, by isolate ('main', 'reconciler'). */
export function compactionTotals(): Record<string, Readonly<CompactionTotals>> {
  return Object.fromEntries([...totals].map(([isolate, total]) => [isolate, { ...total }]));
}

/** Wires the compaction to a runtime (server.ts); `close()` when the runtime closes. */
export function compactMemoryWhenQuiet(sources: CompactionSources): { close(): void } {
  quietHeapGrowth(sources.growingPercent);
  const log = sources.logger.child({ component: 'memory' });
  const registers = sources.registry === undefined ? [] : [sources.registry];
  const compactions = new Counter({
    name: 'mks_memory_compactions_total',
    help: 'Full heap collections run after a burst of work went quiet, by isolate (main, reconciler)',
    labelNames: ['isolate'],
    registers,
  });
  const returned = new Counter({
    name: 'mks_memory_compacted_bytes_total',
    help: 'Committed heap given back by those collections, by isolate',
    labelNames: ['isolate'],
    registers,
  });
  const pause = new Counter({
    name: 'mks_memory_compaction_seconds_total',
    help: 'Time those collections paused their isolate, by isolate',
    labelNames: ['isolate'],
    registers,
  });
  const record = (compaction: Compaction) => {
    const { isolate } = compaction;
    const bytes = Math.max(0, compaction.committedBefore - compaction.committedAfter);
    compactions.inc({ isolate });
    returned.inc({ isolate }, bytes);
    pause.inc({ isolate }, compaction.pauseMs / 1000);
    const total = totals.get(isolate) ?? {
      count: 0,
      returnedBytes: 0,
      pauseMs: 0,
      cpuMs: 0,
      committedAfter: 0,
    };
    total.count += 1;
    total.returnedBytes += bytes;
    total.pauseMs += compaction.pauseMs;
    total.cpuMs += compaction.cpuMs;
    total.committedAfter = compaction.committedAfter;
    totals.set(isolate, total);
    log.info(
      {
        isolate,
        committedMiB: [compaction.committedBefore, compaction.committedAfter].map((b) => Math.round(b / MIB)),
        usedMiB: Math.round(compaction.usedAfter / MIB),
        pauseMs: Math.round(compaction.pauseMs),
        cpuMs: Math.round(compaction.cpuMs),
      },
      'Work went quiet after a burst: heap compacted',
    );
  };
  const threads = new ThreadCompactions(record);
  let loads = sources.emulator?.residency().loads ?? 0;
  const watch = new QuietWatch(
    sources.quiet ?? quietFor(sources.emulator?.evictionDelayMs),
    () => {
      const residency = sources.emulator?.residency();
      if (residency === undefined) return sources.answered?.() ?? 0;
      if (residency.loads !== loads) {
        loads = residency.loads;
        burstGrowth(true);
      }
      return residency.loads + residency.evictions + (sources.answered?.() ?? 0);
    },
    () => {
      // The tight growth again, so the compaction's collection sets the next limit from it.
      burstGrowth(false);
      threads.ask();
      // Run from a timer: nothing a compaction meets may end the process (it is only memory).
      try {
        const compaction = compactIfGrown('main');
        if (compaction !== undefined) record(compaction);
      } catch (error) {
        log.warn({ err: error }, 'Heap compaction failed; the next burst tries again');
      }
    },
  );
  // Changes, passes at work and cluster loads make what lives for a while: the heap grows looser
  // until they have gone quiet (heap.ts). API requests alone only put the compaction off: what a
  // read allocates dies young.
  const working = () => {
    watch.activity();
    burstGrowth(true);
  };
  sources.workSignal.on(working);
  sources.reconciler?.onPass((outcome) => {
    if (outcome !== 'done') working();
  });
  return {
    close() {
      sources.workSignal.off(working);
      watch.close();
      threads.close();
      burstGrowth(false);
    },
  };
}
