/**
 * A full collection of this isolate's heap, run when a burst of work has ended (compaction.ts
 * decides when), so the pages V8 committed under the burst go back to the system then rather than
 * whenever allocation slows enough for V8's own memory reducer, which a settled fleet's resync
 * never lets happen (docs/performance.md, "Sixth round: a settled fleet's memory").
 *
 * Every isolate of the process compacts itself: the main thread's calls `compactIfGrown`, and
 * asks the others (the reconciler thread) over a BroadcastChannel, which they answer with what
 * they did. This file imports nothing but node's modules: the reconciler thread's bundle takes it.
 */
import { randomUUID } from 'node:crypto';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BroadcastChannel } from 'node:worker_threads';

/**
 * A compaction only runs once the isolate's committed heap has grown by this much since its last
 * one (or since the isolate started): a burst that left the heap as it was costs nothing, and
 * neither does a second quiet period with nothing new allocated in between.
 */
export const MIN_GROWTH_BYTES = 16 * 1024 * 1024;

/** What one compaction did, for the log and `/metrics`. */
export interface Compaction {
  /** Which isolate: 'main', or the thread's name. */
  readonly isolate: string;
  /** Committed heap (V8's total_heap_size) before and after, and the part in use after. */
  readonly committedBefore: number;
  readonly committedAfter: number;
  readonly usedAfter: number;
  /**
   * The collection's wall time (the isolate's pause), and the process's CPU time over it, in ms:
   * V8's helper threads included, and whatever other threads ran meanwhile (node 20 has no
   * per-thread CPU clock).
   */
  readonly pauseMs: number;
  readonly cpuMs: number;
}

let collect: (() => void) | undefined;

/**
 * Tries to make a context with `gc` (below) this many times: another isolate of the process may be
 * flipping the same flag at the same moment.
 */
const GC_ATTEMPTS = 64;

/**
 * The full collection V8 runs for `gc()`. Node exposes it only under `--expose-gc`: when the
 * process was not started with it (tsx in the tests, `node bin/mks.js`, any embedder), the flag is
 * set for the time it takes to make one context that has `gc`, then unset again, so no other
 * context (a worker started later, a `vm` script) gets a `gc` global from it. V8's flags are the
 * process's, so the reconciler thread takes the same steps for its own isolate, and it does so at
 * the same moment as the main thread (`ThreadCompactions.ask`, then `compactIfGrown`): the other
 * isolate's `--no-expose-gc` can land between this one's `--expose-gc` and the context it makes,
 * which then has no `gc`. Reading `gc` in that context threw, from the quiet watch's timer, and
 * ended the process; so it is read without throwing and tried again. Undefined when no attempt
 * got it (the compaction is then skipped, and tried again after the next burst).
 */
function fullCollection(): (() => void) | undefined {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') {
    collect = exposed as () => void;
    return collect;
  }
  for (let attempt = 0; attempt < GC_ATTEMPTS && collect === undefined; attempt++) {
    v8.setFlagsFromString('--expose-gc');
    try {
      const found: unknown = vm.runInNewContext('typeof gc === "function" ? gc : undefined');
      if (typeof found === 'function') collect = found as () => void;
    } finally {
      v8.setFlagsFromString('--no-expose-gc');
    }
  }
  return collect;
}

/**
 * One full collection that also compacts: `gc()` alone frees the pages left empty but keeps the
 * old generation's fragmented ones (a burst's survivors are scattered over the pages it filled),
 * so for this one collection every page is an evacuation candidate (`--compact-on-every-full-gc`,
 * what V8's own memory-reducing collections do with their candidates). Measured in
 * docs/performance.md ("Sixth round: a settled fleet's memory").
 */
function compactingCollection(collection: () => void): void {
  // Flipped by another isolate compacting at the same moment, the flag can be off during this
  // collection: it then frees what is dead without moving every page, and nothing breaks.
  v8.setFlagsFromString('--compact-on-every-full-gc');
  try {
    collection();
  } finally {
    v8.setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/**
 * Per isolate: the committed heap after its last compaction; before the first, when this module
 * was loaded (the isolate's start, give or take its modules).
 */
let baseline = v8.getHeapStatistics().total_heap_size;

/**
 * Collects this isolate's heap in full if its committed size grew by `minGrowth` since its last
 * compaction (or its start); answers what it did, or undefined when it did not run.
 */
export function compactIfGrown(isolate: string, minGrowth = MIN_GROWTH_BYTES): Compaction | undefined {
  const committedBefore = v8.getHeapStatistics().total_heap_size;
  if (committedBefore - baseline < minGrowth) return undefined;
  const collection = fullCollection();
  if (collection === undefined) return undefined;
  const cpu = process.cpuUsage();
  const started = performance.now();
  compactingCollection(collection);
  const pauseMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const after = v8.getHeapStatistics();
  baseline = after.total_heap_size;
  return {
    isolate,
    committedBefore,
    committedAfter: after.total_heap_size,
    usedAfter: after.used_heap_size,
    pauseMs,
    cpuMs: (used.user + used.system) / 1000,
  };
}

/**
 * How the heap grows while work is in flight, and when it has gone quiet.
 *
 * Once the runtime is up (`quietHeapGrowth`, from compaction.ts) mks sets V8's
 * `--heap-growing-percent` to 30 (`MKS_HEAP_GROWING_PERCENT`): after each full collection V8 lets
 * the heap grow by 30 % over what stayed live, instead of a factor of its own (up to 4× under a
 * high allocation rate), which halves a settled fleet's RSS. During a burst that tight limit costs
 * CPU: the heap fills again soon, so full collections come two to four times as often.
 *
 * So the tight factor holds while the process is quiet, and a looser one while work that makes
 * what lives for a while is in flight (changes, reconcile passes at work, cluster loads; not API
 * reads alone, whose garbage dies young): `burstGrowth(true)` at such work (compaction.ts),
 * `false` once the process has gone quiet, just before the
 * compaction, whose collection then sets the next limit from the tight factor again. V8 reads the
 * flag each time it sets a limit; flags are the process's, so this covers every isolate at once.
 * With V8's own factor as the quiet one (0) there is nothing to switch.
 *
 * The factor is set once the runtime is up, not on node's command line: the process then starts
 * (its modules, its database, its first requests) under V8's own, and the API's signed GET cost
 * ≈ 16 % less CPU afterwards (medians of seven pairs) than in a process started with the flag,
 * whose collections in the measured window read the same (docs/performance.md, "Twenty-first
 * round"); why is not known. A factor given on
 * node's command line still wins (a trial: `BENCH_NODE_FLAGS`).
 *
 * The burst's factor, 50 %: the fleet of 1,000 changed at ≈ 0.8 ms less CPU per cluster than with
 * 30 % and peaked at ≈ 380 MiB (30 %: ≈ 355); 100 % saved no more and peaked at ≈ 450 MiB, V8's
 * own factor at 466–558 MiB under load, over the 500 MiB the change may take (docs/performance.md,
 * "Seventh round: the heap's growth in a burst").
 */
const BURST_GROWTH_PERCENT = 50;
const COMMAND_LINE_GROWTH = /^--heap-growing-percent=(\d+)$/;
/** The factor node's command line gives, if any: it wins over the runtime's. */
const commandLineGrowthPercent = (() => {
  for (const arg of process.execArgv) {
    const match = COMMAND_LINE_GROWTH.exec(arg);
    if (match !== null) return Number(match[1]);
  }
  return undefined;
})();
/** The factor while the process is quiet; 0: V8's own. */
let quietGrowthPercent = commandLineGrowthPercent ?? 0;
let growingLoose = false;

/**
 * Makes `percent` the heap's growth factor while the process is quiet (0: V8's own), from now on;
 * nothing when node's command line gave one. Called once the runtime is up.
 */
export function quietHeapGrowth(percent: number): void {
  if (commandLineGrowthPercent !== undefined || percent === quietGrowthPercent) return;
  quietGrowthPercent = percent;
  if (!growingLoose) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}

/**
 * Lets the heap grow by the burst's factor (`true`) or the quiet one; nothing when the quiet one is
 * V8's own (looser than any fixed factor under load) or already as loose.
 */
export function burstGrowth(inBurst: boolean): void {
  const loose = inBurst && quietGrowthPercent !== 0 && quietGrowthPercent < BURST_GROWTH_PERCENT;
  if (loose === growingLoose) return;
  growingLoose = loose;
  v8.setFlagsFromString(`--heap-growing-percent=${loose ? BURST_GROWTH_PERCENT : quietGrowthPercent}`);
}

/** The channel the isolates of one process share: 'compact' asks, a Compaction answers. */
const CHANNEL = 'mks:memory-compaction';

/** `asker` tells the main threads of several runtimes in one process (tests) apart. */
type Message =
  | { readonly type: 'compact'; readonly asker: string }
  | { readonly type: 'compacted'; readonly asker: string; readonly compaction: Compaction };

/**
 * A thread's side (one line in its entry file): compacts its own heap when the main thread asks,
 * and tells what it did. The channel does not keep the thread alive.
 */
export function compactWhenAsked(isolate: string): void {
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref();
  channel.onmessage = (event) => {
    const message = (event as { data: Message }).data;
    if (message.type !== 'compact') return;
    let compaction: Compaction | undefined;
    try {
      compaction = compactIfGrown(isolate);
    } catch {
      // Nothing a compaction meets may end the thread (its passes with it): no report, and the
      // next burst asks again.
      return;
    }
    if (compaction === undefined) return;
    channel.postMessage({ type: 'compacted', asker: message.asker, compaction } satisfies Message);
  };
}

/**
 * The main thread's side: `ask()` asks every thread listening (`compactWhenAsked`); `reported`
 * gets what each one did. Closed with `close()`.
 */
export class ThreadCompactions {
  readonly #channel = new BroadcastChannel(CHANNEL);
  readonly #asker = randomUUID();

  constructor(reported: (compaction: Compaction) => void) {
    this.#channel.unref();
    this.#channel.onmessage = (event) => {
      const message = (event as { data: Message }).data;
      if (message.type === 'compacted' && message.asker === this.#asker) reported(message.compaction);
    };
  }

  ask(): void {
    this.#channel.postMessage({ type: 'compact', asker: this.#asker } satisfies Message);
  }

  close(): void {
    this.#channel.close();
  }
}
