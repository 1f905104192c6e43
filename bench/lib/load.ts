/** What the orchestrator asks the load generator for, and what it gets back. */

export interface LoadRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** How a 2xx body is checked: exactly equal, or starting with a prefix (bodies that vary). */
export type BodyCheck = { readonly equals: string } | { readonly startsWith: string };

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  readonly pipelining: number;
  /** Seconds. */
  readonly duration: number;
  /** Cycled in order by every connection. */
  readonly requests: readonly LoadRequest[];
  readonly check: BodyCheck;
}

export interface LoadResult {
  /** 2xx responses whose body passed the check, per second of the measured window. */
  readonly rps: number;
  /** Milliseconds, from every 2xx response's own latency (sub-millisecond resolution). */
  readonly p50: number;
  readonly p99: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly mismatches: number;
  readonly statusCodes: Record<string, number>;
  /** A sample of a refused or mismatching body, to say what went wrong. */
  readonly sampleFailure: string | undefined;
  readonly seconds: number;
  /** CPU used by the load generator during the window, as a share of one core. */
  readonly loaderCpu: number;
}
