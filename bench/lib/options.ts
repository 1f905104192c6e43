/** Command-line flags of `npm run bench`. */
import os from 'node:os';
import { parseArgs } from 'node:util';

export type Dialect = 'sqlite' | 'postgres';

export interface BenchOptions {
  /** Sections to run (default: all). */
  readonly only: readonly string[] | undefined;
  /** Measured seconds per case. */
  readonly duration: number;
  /** Warm-up seconds per case (same load, not measured). */
  readonly warmup: number;
  /** API section: alternations of hello and the case; the median of their ratios is judged. */
  readonly rounds: number;
  readonly connections: number;
  readonly pipelining: number;
  readonly dialects: readonly Dialect[];
  /** Write V8 CPU profiles of the mks servers and print their top self-time functions. */
  readonly profile: boolean;
  /** Pin servers to CPU 0 and the load generator to CPU 1 (taskset). */
  readonly pin: boolean;
  readonly json: string;
  /** Size of the fleet (section fleet). */
  readonly clusters: number;
  /**
   * How many of the fleet's clusters the change touches (section fleet; default all): issue 17's
   * memory target is a change touching 1,000 of 10,000 settled clusters.
   */
  readonly changed: number | undefined;
}

export const USAGE = `Usage: npm run bench -- [flags]
  --only <sections>      comma-separated sections to run (default: all: api,fleet,workers)
  --duration <s>         measured seconds per case (default 5)
  --warmup <s>           warm-up seconds per case (default 1)
  --rounds <n>           api: hello and the case measured alternately n times; the median of the
                         n ratios is judged. fleet: the fleet changed n times, each from the fleet
                         settled again; the median change is judged (default 3)
  --connections <n>      concurrent connections of the load generator (default 10)
  --pipelining <n>       requests in flight per connection (default 1)
  --dialects <list>      sqlite,postgres (default both; postgres is skipped without server binaries)
  --profile              CPU-profile the mks servers (.bench/profiles) and print top self-time functions
  --pin                  pin servers to CPU 0 and the load generator to CPU 1 (taskset; needs ≥ 2 CPUs)
  --json <file>          where to write the results (default .bench/results.json)
  --clusters <n>         emulated clusters of the fleet and workers sections (default 1000)
  --changed <n>          fleet: how many of them the change touches (default all; at most --clusters)`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '10' },
      pipelining: { type: 'string', default: '1' },
      dialects: { type: 'string', default: 'sqlite,postgres' },
      profile: { type: 'boolean', default: false },
      pin: { type: 'boolean', default: false },
      json: { type: 'string', default: '.bench/results.json' },
      clusters: { type: 'string', default: '1000' },
      changed: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const number = (name: string, text: string, min: number, max: number) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max) {
      throw new Error(`--${name}: '${text}' must be a number from ${min} to ${max}`);
    }
    return value;
  };
  const integer = (name: string, text: string, min: number, max: number) => {
    const value = number(name, text, min, max);
    if (!Number.isInteger(value)) throw new Error(`--${name}: '${text}' must be a whole number`);
    return value;
  };
  const duration = number('duration', values.duration, 1, 120);
  const warmup = number('warmup', values.warmup, 0, 30);
  // Signed requests are prepared once per case and must stay inside the server's 180 s window.
  if (duration + warmup > 150) throw new Error('--duration + --warmup must not exceed 150 s');
  const dialects = values.dialects.split(',').map((name) => name.trim());
  for (const dialect of dialects) {
    if (dialect !== 'sqlite' && dialect !== 'postgres') {
      throw new Error(`--dialects: '${dialect}' is not sqlite or postgres`);
    }
  }
  if (values.pin && os.availableParallelism() < 2) throw new Error('--pin needs at least 2 CPUs');
  const clusters = integer('clusters', values.clusters, 1, 100_000);
  return {
    only: values.only?.split(',').map((name) => name.trim()),
    duration,
    warmup,
    rounds: integer('rounds', values.rounds, 1, 15),
    connections: number('connections', values.connections, 1, 1000),
    pipelining: number('pipelining', values.pipelining, 1, 100),
    dialects: dialects as Dialect[],
    profile: values.profile,
    pin: values.pin,
    json: values.json,
    clusters,
    changed: values.changed === undefined ? undefined : integer('changed', values.changed, 1, clusters),
  };
}
