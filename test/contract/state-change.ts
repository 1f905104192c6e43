/**
 * Terraform's `StateChangeConf.WaitForState` (terraform-plugin-sdk/v2 helper/retry, the copy the
 * OVH provider uses), with an injectable clock so its 5 s / 3 s waits can run shortened:
 * - wait `Delay`, then refresh at once;
 * - after each refresh: a state in `target` ends the wait; in `pending` goes on; in neither fails
 *   **immediately** (`unexpected state 'X', wanted target 'READY'`); a refresh error fails;
 * - between refreshes the wait starts at 100 ms, doubles after each refresh and is clamped to
 *   [MinTimeout, 10 s] — with MinTimeout 3 s: 3 s, 6 s, 10 s, 10 s, ...
 */

/** Logical time, in milliseconds, that runs `scale` times faster than the wall clock. */
export class Clock {
  #now = 0;
  readonly #scale: number;

  constructor(scale: number) {
    this.#scale = scale;
  }

  now(): number {
    return this.#now;
  }

  async sleep(ms: number): Promise<void> {
    this.#now += ms;
    if (ms > 0)
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.round(ms * this.#scale))));
  }
}

export interface Refreshed {
  readonly result: unknown;
  readonly state: string;
}

export interface StateChangeConf {
  readonly pending: readonly string[];
  readonly target: readonly string[];
  /** `undefined` is Go's nil result (the thing is not there). */
  readonly refresh: () => Promise<Refreshed | undefined>;
  readonly delayMs: number;
  readonly minTimeoutMs: number;
  readonly timeoutMs: number;
  readonly notFoundChecks?: number;
}

export interface Poll {
  /** Logical ms since the wait started. */
  readonly at: number;
  readonly state: string | undefined;
}

export class WaitError extends Error {
  readonly polls: readonly Poll[];
  constructor(message: string, polls: readonly Poll[]) {
    super(message);
    this.name = 'WaitError';
    this.polls = polls;
  }
}

export async function waitForState(
  conf: StateChangeConf,
  clock: Clock,
): Promise<{ result: unknown; polls: Poll[] }> {
  const start = clock.now();
  const polls: Poll[] = [];
  const notFoundChecks = conf.notFoundChecks ?? 20;
  let notFound = 0;
  let targetOccurence = 0;
  let wait = 0;
  let last: Refreshed | undefined;

  await clock.sleep(conf.delayMs);
  for (;;) {
    if (clock.now() - start > conf.timeoutMs) {
      throw new WaitError(
        `timeout while waiting for state to become '${conf.target.join(', ')}' (last state: '${last?.state ?? ''}', timeout: ${conf.timeoutMs / 1000}s)`,
        polls,
      );
    }
    await clock.sleep(wait);
    if (wait === 0) wait = 100; // first round had no wait

    let refreshed: Refreshed | undefined;
    try {
      refreshed = await conf.refresh();
    } catch (error) {
      polls.push({ at: clock.now() - start, state: undefined });
      throw new WaitError((error as Error).message, polls);
    }
    polls.push({ at: clock.now() - start, state: refreshed?.state });

    if (refreshed === undefined) {
      if (conf.target.length === 0) return { result: undefined, polls };
      notFound++;
      if (notFound > notFoundChecks)
        throw new WaitError(`couldn't find resource (${notFound} retries)`, polls);
    } else {
      last = refreshed;
      notFound = 0;
      let found = false;
      if (conf.target.includes(refreshed.state)) {
        found = true;
        targetOccurence++;
        return { result: refreshed.result, polls };
      }
      if (conf.pending.includes(refreshed.state)) {
        found = true;
        targetOccurence = 0;
      }
      if (!found && conf.pending.length > 0) {
        throw new WaitError(
          `unexpected state '${refreshed.state}', wanted target '${conf.target.join(', ')}'. last error: %!s(<nil>)`,
          polls,
        );
      }
    }

    if (targetOccurence === 0) wait *= 2;
    if (wait < conf.minTimeoutMs) wait = conf.minTimeoutMs;
    else if (wait > 10_000) wait = 10_000;
  }
}
