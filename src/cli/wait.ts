/**
 * `--wait`: follows a cluster until the change it carries is applied (READY) or it is gone
 * (delete), reporting progress on stderr — a live line on a terminal, one plain line per change
 * elsewhere — while stdout stays for the result. Ctrl-C stops waiting, never the operation.
 */
import type { Cluster, MksClient, NodePool } from '../client/mks-client.ts';
import { CliError, type CliIo, EXIT } from './cli-context.ts';

export type WaitGoal = 'ready' | 'gone';

/** Statuses a change ends in when it cannot be applied. */
const FAILED = new Set<string>([
  'ERROR',
  'USER_ERROR',
  'USER_QUOTA_ERROR',
  'USER_WEBHOOK_PREVENTING_OPERATIONS_ERROR',
  'SUSPENDED',
]);
/** Statuses during which kube-proxy may be rolling out. */
const ROLLING = new Set<string>(['INSTALLING', 'REDEPLOYING', 'RESETTING', 'UPDATING']);

const POLL_MIN_MS = 200;
const POLL_MAX_MS = 1_000;

export interface WaitOptions {
  readonly client: MksClient;
  readonly project: string;
  readonly clusterId: string;
  readonly goal: WaitGoal;
  readonly io: CliIo;
  readonly timeoutMs: number;
}

/** What a wait's body returns when Ctrl-C stopped it. */
const INTERRUPTED = Symbol('interrupted');

/**
 * Runs a wait with its progress reporter. Ctrl-C stops waiting (exit 130), not the operation: the
 * body sees `signal` aborted and returns INTERRUPTED; `followUp` says how to follow the operation.
 */
async function interruptible<T>(
  io: CliIo,
  followUp: string,
  body: (reporter: Reporter, signal: AbortSignal, started: number) => Promise<T | typeof INTERRUPTED>,
): Promise<T> {
  const started = Date.now();
  const reporter: Reporter = io.stderrIsTty ? new LiveReporter(io, started) : new PlainReporter(io, started);
  const interrupted = new AbortController();
  const onInterrupt = () => interrupted.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const result = await body(reporter, interrupted.signal, started);
    if (result !== INTERRUPTED) return result;
    reporter.stop();
    io.stderr(
      `Interrupted: stopped waiting; the operation was not cancelled and goes on in mks.${followUp}\n`,
    );
    throw new CliError('', EXIT.interrupted);
  } catch (error) {
    reporter.stop();
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** The cluster once READY (undefined once gone, for `gone`); throws a CliError otherwise. */
export function waitForCluster(options: WaitOptions): Promise<Cluster | undefined> {
  const { client, project, clusterId, goal, io } = options;
  return interruptible(
    io,
    ` Follow it with: mks cluster get ${clusterId}`,
    async (reporter, signal, started) => {
      let label = clusterId;
      let interval = POLL_MIN_MS;
      let last = '';
      for (;;) {
        const cluster = await client.findCluster(project, clusterId);
        if (signal.aborted) return INTERRUPTED;
        if (cluster === undefined) {
          if (goal === 'gone') {
            reporter.finish(true, `${label} deleted`);
            return undefined;
          }
          reporter.finish(false, `${label} no longer exists`);
          throw new CliError(`cluster ${clusterId} no longer exists`);
        }
        label = cluster.name === '' ? `cluster ${clusterId}` : `cluster ${cluster.name} (${clusterId})`;
        if (last === '') {
          reporter.start(
            `Waiting for ${label} to be ${goal === 'ready' ? 'READY' : 'deleted'}`,
            cluster.name === '' ? clusterId : cluster.name,
          );
        }

        if (goal === 'ready' && cluster.status === 'READY') {
          reporter.finish(true, `${label} is READY`);
          return cluster;
        }
        if (FAILED.has(cluster.status)) {
          const why = cluster.statusMessage ? `: ${cluster.statusMessage}` : '';
          reporter.finish(false, `${label} is ${cluster.status}`);
          throw new CliError(`cluster ${clusterId} is ${cluster.status}${why}`);
        }

        let detail = '';
        if (ROLLING.has(cluster.status)) {
          // The rollout view (GET …/rollout) knows which generation each node's kube-proxy runs.
          const rollout = await client.rollout(project, clusterId).catch(() => undefined);
          if (rollout !== undefined && rollout.desired > 0) {
            const updated = rollout.nodes.filter(
              (node) => node.generation === rollout.generation && node.ready,
            ).length;
            detail =
              rollout.phase === 'pending' || rollout.phase === 'config-applied'
                ? 'kube-proxy: restart pending'
                : `kube-proxy ${updated}/${rollout.desired} nodes updated`;
          }
        }
        reporter.update(cluster.status, detail);
        const state = `${cluster.status} ${detail}`;
        interval = state === last ? Math.min(Math.round(interval * 1.5), POLL_MAX_MS) : POLL_MIN_MS;
        last = state;

        if (Date.now() - started > options.timeoutMs) {
          reporter.finish(false, `timed out, ${label} is still ${cluster.status}`);
          throw new CliError(
            `timed out after ${formatElapsed(Date.now() - started)} waiting for ${label} (status ` +
              `${cluster.status}); the operation goes on: follow it with \`mks cluster get ${clusterId}\``,
          );
        }
        await sleep(interval, signal);
        if (signal.aborted) return INTERRUPTED;
      }
    },
  );
}

/**
 * `--wait` for a node pool: until READY (its nodes run kube-proxy) or gone (delete), with its
 * status and how many of its nodes are ready as progress. Ctrl-C stops waiting, not the change.
 */
export function waitForNodePool(
  options: Omit<WaitOptions, 'rollout'> & { readonly poolId: string },
): Promise<NodePool | undefined> {
  const { client, project, clusterId, poolId, goal, io } = options;
  const label = `node pool ${poolId}`;
  return interruptible(io, '', async (reporter, signal, started) => {
    reporter.start(`Waiting for ${label} to be ${goal === 'ready' ? 'READY' : 'deleted'}`, label);
    while (!signal.aborted) {
      const pool = await client.findNodePool(project, clusterId, poolId);
      if (pool === undefined) {
        reporter.finish(goal === 'gone', `${label} ${goal === 'gone' ? 'deleted' : 'no longer exists'}`);
        if (goal === 'gone') return undefined;
        throw new CliError(`node pool ${poolId} no longer exists`);
      }
      if (goal === 'ready' && pool.status === 'READY') {
        reporter.finish(true, `node pool ${pool.name} is READY (${pool.availableNodes} nodes)`);
        return pool;
      }
      if (FAILED.has(pool.status) || pool.status.startsWith('USER_')) {
        reporter.finish(false, `node pool ${pool.name} is ${pool.status}`);
        throw new CliError(`node pool ${poolId} is ${pool.status}`);
      }
      reporter.update(pool.status, `${pool.availableNodes}/${pool.desiredNodes} nodes ready`);
      if (Date.now() - started > options.timeoutMs) {
        reporter.finish(false, `timed out, ${label} is still ${pool.status}`);
        throw new CliError(`timed out waiting for ${label} (status ${pool.status}); the operation goes on`);
      }
      await sleep(POLL_MIN_MS, signal);
    }
    return INTERRUPTED;
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export function formatElapsed(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

interface Reporter {
  /** `title` for a line of its own, `short` to prefix a live line. */
  start(title: string, short: string): void;
  update(status: string, detail: string): void;
  finish(ok: boolean, message: string): void;
  /** Restores the terminal if the wait ends by an exception. */
  stop(): void;
}

/** One line per change: readable in CI logs and by scripts. */
class PlainReporter implements Reporter {
  #last = '';
  readonly #io: CliIo;
  readonly #started: number;
  constructor(io: CliIo, started: number) {
    this.#io = io;
    this.#started = started;
  }
  #elapsed() {
    return formatElapsed(Date.now() - this.#started).padStart(6);
  }
  start(title: string) {
    this.#io.stderr(`${title}\n`);
  }
  update(status: string, detail: string) {
    const line = detail === '' ? status : `${status}  ${detail}`;
    if (line === this.#last) return;
    this.#last = line;
    this.#io.stderr(`${this.#elapsed()}  ${line}\n`);
  }
  finish(ok: boolean, message: string) {
    this.#io.stderr(`${this.#elapsed()}  ${ok ? 'done' : 'failed'}: ${message}\n`);
  }
  stop() {}
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A live line redrawn in place (status, rollout, elapsed time), replaced by the outcome. */
class LiveReporter implements Reporter {
  readonly #io: CliIo;
  readonly #started: number;
  #title = '';
  #status = '';
  #detail = '';
  #frame = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(io: CliIo, started: number) {
    this.#io = io;
    this.#started = started;
  }
  start(_title: string, short: string) {
    this.#title = short;
    this.#io.stderr('\x1b[?25l'); // hide the cursor while the line is redrawn
    this.#timer = setInterval(() => this.#draw(), 100);
    this.#draw();
  }
  update(status: string, detail: string) {
    this.#status = status;
    this.#detail = detail;
    this.#draw();
  }
  #draw() {
    const spinner = SPINNER[this.#frame++ % SPINNER.length];
    const parts = [this.#status, this.#detail, formatElapsed(Date.now() - this.#started)].filter(
      (part) => part !== '',
    );
    const line = `${spinner} ${this.#title}: ${parts.join(' · ')}`;
    // Never wider than the terminal: a wrapped line could not be redrawn in place.
    const columns = process.stderr.columns ?? 0;
    const width = columns > 20 ? columns - 1 : 160; // a pty without a size reports 0 columns
    this.#io.stderr(`\r\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }
  finish(ok: boolean, message: string) {
    if (this.#timer === undefined) {
      this.#io.stderr(`${ok ? '✓' : '✗'} ${message}\n`);
      return;
    }
    this.stop();
    this.#io.stderr(`${ok ? '✓' : '✗'} ${message} (${formatElapsed(Date.now() - this.#started)})\n`);
  }
  stop() {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#io.stderr('\r\x1b[2K\x1b[?25h');
  }
}
