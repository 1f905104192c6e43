/**
 * Child processes of the benchmark (servers under test, load generator), driven over Node's IPC
 * channel: the child announces itself with a `ready` message, then answers numbered requests.
 * Each child is its own process so that the server and the load generator never share an event loop.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assignments, build, ENTRIES, mksEnvironment, mksNodeFlags } from '../../scripts/build.js';
import { CapturedProcess } from '../../test/support/process.ts';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = path.dirname(BENCH_DIR);

export interface ChildOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Write V8 CPU profiles of the child to this directory when it exits: one per thread (the
   * reconciler's runs in a thread of its own), named CPU.<date>.<time>.<pid>.<thread>.<seq>.
   */
  readonly cpuProfileDir?: string | undefined;
  /** Pin the child to these CPUs with taskset (e.g. '0'). */
  readonly cpus?: string | undefined;
  /**
   * The child runs mks: give it the node flags and the environment users' `mks` runs with
   * (scripts/build.js, `mksNodeFlags`, `mksEnvironment`).
   */
  readonly mks?: boolean;
}

/** The node flags of users' `mks` (bin/mks.js's #! line), or BENCH_NODE_FLAGS to try others. */
function nodeFlags(): string[] {
  const tried = process.env.BENCH_NODE_FLAGS;
  return tried === undefined ? mksNodeFlags() : tried.split(/\s+/).filter((flag) => flag !== '');
}

/**
 * The environment bin/mks.js's #! line sets (over the inherited one, as `env` does), or
 * BENCH_NODE_ENV's `NAME=VALUE …` instead, to try others ('' for none).
 */
function mksEnv(): Record<string, string> {
  const tried = process.env.BENCH_NODE_ENV;
  return tried === undefined ? { ...mksEnvironment() } : assignments(tried.split(/\s+/));
}

export interface Child {
  readonly pid: number;
  /** The child's `ready` message. */
  readonly ready: Record<string, unknown>;
  request<T>(message: Record<string, unknown>): Promise<T>;
  /** Asks the child to exit cleanly (so a CPU profile gets written), then waits for it. */
  stop(): Promise<void>;
  /** The last few kilobytes of the child's stdout and stderr, for diagnostics. */
  output(): string;
}

const bundles = new Map<string, Promise<string>>();

/**
 * The child script bundled as users run mks (scripts/build.js: plain JavaScript, no TypeScript
 * loader, the reconciler thread's entry beside it), into .bench/dist/<name>/; built once per run.
 */
function bundled(script: string): Promise<string> {
  let bundle = bundles.get(script);
  if (bundle === undefined) {
    const name = path.basename(script, '.ts');
    const outdir = path.join(REPO_DIR, '.bench', 'dist', name);
    bundle = build({ outdir, entries: { ...ENTRIES, [name]: path.join('bench', script) } }).then(() =>
      path.join(outdir, `${name}.js`),
    );
    bundles.set(script, bundle);
  }
  return bundle;
}

export async function startChild(script: string, args: string[], options: ChildOptions = {}): Promise<Child> {
  const nodeArgs = options.mks === true ? nodeFlags() : [];
  if (options.cpuProfileDir !== undefined) {
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  const command = [process.execPath, ...nodeArgs, await bundled(script), ...args];
  const [file, ...argv] = options.cpus === undefined ? command : ['taskset', '-c', options.cpus, ...command];
  // Output drained continuously (a full pipe would block the child's production-like logger).
  const captured = new CapturedProcess(file!, argv, {
    cwd: REPO_DIR,
    env: { ...process.env, ...(options.mks === true ? mksEnv() : {}), ...options.env },
    ipc: true,
    keep: 8000,
  });
  const { child } = captured;
  const output = () => captured.output;

  let nextId = 0;
  const pending = new Map<number, { resolve: (value: never) => void; reject: (error: Error) => void }>();
  const exited = captured.exited.then(
    (result) => result.code,
    () => null,
  );
  let readyResolve: (message: Record<string, unknown>) => void = () => {};
  let readyReject: (error: Error) => void = () => {};
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });

  child.on('message', (raw) => {
    const message = raw as { type: string; id?: number; error?: string };
    if (message.type === 'ready') readyResolve(message);
    else if (message.type === 'fatal') readyReject(new Error(`${script}: ${message.error}`));
    else if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.type === 'error') waiter?.reject(new Error(`${script}: ${message.error}`));
      else waiter?.resolve(message as never);
    }
  });
  void exited.then((code) => {
    const error = new Error(`${script} exited (code ${code}):\n${output()}`);
    readyReject(error);
    for (const waiter of pending.values()) waiter.reject(error);
    pending.clear();
  });

  const readyMessage = await ready;
  return {
    pid: child.pid!,
    ready: readyMessage,
    request<T>(message: Record<string, unknown>) {
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: never) => void, reject });
        child.send({ ...message, id });
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    output,
  };
}

/** The child side: answers requests with `handle`, exits cleanly on `stop`. */
export function serveParent(
  handle: (message: Record<string, unknown> & { type: string }) => Promise<Record<string, unknown>>,
  onStop: () => Promise<void>,
): void {
  process.on('message', (raw) => {
    const message = raw as Record<string, unknown> & { type: string; id?: number };
    if (message.type === 'stop') {
      void onStop().finally(() => process.exit(0));
      return;
    }
    handle(message).then(
      (reply) => process.send?.({ ...reply, id: message.id }),
      (error: unknown) =>
        process.send?.({ type: 'error', id: message.id, error: (error as Error)?.stack ?? String(error) }),
    );
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => process.exit(0));
}

export function fatal(error: unknown): void {
  const message = { type: 'fatal', error: (error as Error)?.stack ?? String(error) };
  if (process.send === undefined) {
    process.stderr.write(`${message.error}\n`);
    process.exit(1);
  }
  process.send(message, () => process.exit(1));
}
