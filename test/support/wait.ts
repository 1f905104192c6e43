/**
 * Waiting on conditions in tests: poll `probe` until it returns a value other than `undefined`,
 * `null` or `false`, and return that value. Bounded by `timeoutMs`; on timeout the error says what
 * was awaited and what the probe last returned or threw. Errors thrown by the probe are retried
 * (the thing awaited may not be reachable yet). A probe that returns a promise is bounded too: one
 * still pending at the deadline ends the wait with the same timeout error (it is not awaited further).
 */
export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
  /** What is awaited, for the timeout message. */
  readonly what?: string;
}

export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  { timeoutMs = 15_000, intervalMs = 50, what = 'a condition' }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await beforeDeadline(probe(), deadline);
      lastError = undefined;
      last = value;
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (error) {
      if (error === PENDING_AT_DEADLINE) {
        throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (the probe was still pending)`);
      }
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail =
        lastError === undefined
          ? `last value: ${JSON.stringify(last)}`
          : `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (${detail})`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const PENDING_AT_DEADLINE = Symbol('pending at deadline');

/** `value` if it settles before `deadline`; otherwise rejects with PENDING_AT_DEADLINE. */
async function beforeDeadline<T>(value: Promise<T> | T, deadline: number): Promise<T> {
  if (!(value instanceof Promise)) return value;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(PENDING_AT_DEADLINE), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([value, expired]);
  } finally {
    clearTimeout(timer);
  }
}
