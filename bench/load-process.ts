/**
 * The load generator, in its own process: autocannon's programmatic API, one `run` request at a
 * time (the orchestrator sends a warm-up run, then the measured one).
 *
 * Latency percentiles are computed here from every response's own time, because autocannon's
 * histogram keeps whole milliseconds and a small request takes well under one.
 */
import { performance } from 'node:perf_hooks';
import autocannon, { type AutocannonResult } from 'autocannon';
import { fatal, serveParent } from './lib/child.ts';
import type { LoadResult, LoadSpec } from './lib/load.ts';

async function run(spec: LoadSpec): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let sampleFailure: string | undefined;
  let lastStatus = 0;
  const check = spec.check;
  const verify =
    'equals' in check
      ? (body: string) => body === check.equals
      : (body: string) => body.startsWith(check.startsWith);

  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        pipelining: spec.pipelining,
        duration: spec.duration,
        requests: spec.requests.map((request) => ({ ...request, headers: { ...request.headers } })),
        // Called right after the 'response' event of the same response (autocannon's order).
        verifyBody: (body) => {
          if (lastStatus < 200 || lastStatus > 299) {
            sampleFailure ??= `${lastStatus} ${body.slice(0, 300)}`;
            return true; // counted as non-2xx, not as a mismatch
          }
          if (verify(body)) return true;
          sampleFailure ??= `${lastStatus} (unexpected body) ${body.slice(0, 300)}`;
          return false;
        },
      },
      (error, value) => (error === null ? resolve(value) : reject(error)),
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastStatus = statusCode;
      if (statusCode < 200 || statusCode > 299) return;
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = responseTime;
    });
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);

  const sorted = latencies.subarray(0, count).sort();
  const percentile = (p: number) =>
    count === 0 ? Number.NaN : sorted[Math.min(count - 1, Math.ceil((p / 100) * count) - 1)]!;
  const statusCodes: Record<string, number> = {};
  for (const [code, { count: n }] of Object.entries(result.statusCodeStats)) statusCodes[code] = n;
  return {
    rps: (count - result.mismatches) / seconds,
    p50: percentile(50),
    p99: percentile(99),
    ok: count - result.mismatches,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    sampleFailure,
    seconds,
    loaderCpu: (cpu.user + cpu.system) / 1e6 / seconds,
  };
}

try {
  serveParent(
    async (message) => {
      if (message.type === 'run') return { type: 'result', result: await run(message.spec as LoadSpec) };
      throw new Error(`unknown request '${message.type}'`);
    },
    async () => {},
  );
  process.send?.({ type: 'ready', pid: process.pid });
} catch (error) {
  fatal(error);
}
