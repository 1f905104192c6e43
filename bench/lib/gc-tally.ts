/** The main thread's garbage collections, as the benches' servers count them (fleet, API). */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

/** Collections by kind: how many, and their pause on the main thread in ms. */
export type GcCounts = Record<string, { count: number; ms: number }>;

/**
 * The main thread's garbage collections over a window, by kind: how many, and their time on the
 * main thread (the `gc` performance entries: a scavenge's or a full collection's pause; the helper
 * threads' concurrent marking and sweeping are in their own CPU time, not here).
 */
export class GcTally {
  readonly #byKind: GcCounts = {};
  readonly #observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.#add(entry);
  });

  constructor() {
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  /** The collections so far (a copy), the entries still queued included. */
  snapshot(): GcCounts {
    this.#takeQueued();
    return Object.fromEntries(Object.entries(this.#byKind).map(([kind, tally]) => [kind, { ...tally }]));
  }

  stop(): GcCounts {
    this.#takeQueued();
    this.#observer.disconnect();
    return this.#byKind;
  }

  /** Entries are delivered asynchronously: counts what is queued but not delivered yet. */
  #takeQueued(): void {
    for (const entry of this.#observer.takeRecords()) this.#add(entry);
  }

  #add(entry: PerformanceEntry): void {
    const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
    const tally = this.#byKind[kind] ?? { count: 0, ms: 0 };
    tally.count += 1;
    tally.ms += entry.duration;
    this.#byKind[kind] = tally;
  }
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

/** What `after` counts beyond `before` (two snapshots of one tally). */
export function gcBetween(before: GcCounts, after: GcCounts): GcCounts {
  const delta: GcCounts = {};
  for (const [kind, tally] of Object.entries(after)) {
    const count = tally.count - (before[kind]?.count ?? 0);
    if (count > 0) delta[kind] = { count, ms: tally.ms - (before[kind]?.ms ?? 0) };
  }
  return delta;
}

/** "92 scavenge (650 ms), 7 mark-compact (140 ms)"; "none" when there were none. */
export function gcText(counts: GcCounts): string {
  const parts = Object.entries(counts).map(
    ([kind, { count, ms }]) => `${count} ${kind} (${ms.toFixed(0)} ms)`,
  );
  return parts.length === 0 ? 'none' : parts.join(', ');
}
