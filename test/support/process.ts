/**
 * Child processes in tests and benchmarks, spawned one way: output piped and read as it arrives (a
 * full pipe would block the child, e.g. its logger), kept for assertions and failure messages, and
 * a result once the process has exited and its output is read. `runProcess` runs one to the end
 * within a bound; `CapturedProcess` keeps a long-running one (a server, a worker) in hand.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Keep only the last this many characters of each stream (long-running processes); default: all. */
  readonly keep?: number;
  /** Open Node's IPC channel (`child.send`, the `message` event). */
  readonly ipc?: boolean;
  /** Sees stderr so far as it arrives (e.g. to interrupt the child at the right moment). */
  readonly onStderr?: (soFar: string, child: ChildProcess) => void;
}

export class CapturedProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** stdout and stderr interleaved as they arrived. */
  output = '';
  /** Sees `output` after each chunk. */
  onOutput: (output: string) => void = () => {};
  /** Settles once the process has exited and its output is read; rejects if it could not start. */
  readonly exited: Promise<ProcessResult>;

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    const keep = options.keep ?? Number.POSITIVE_INFINITY;
    const tail = (text: string) => (text.length > keep ? text.slice(-keep) : text);
    this.child = spawn(command, [...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe', ...(options.ipc === true ? (['ipc'] as const) : [])],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.stdout = tail(this.stdout + chunk.toString());
      this.output = tail(this.output + chunk.toString());
      this.onOutput(this.output);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = tail(this.stderr + chunk.toString());
      this.output = tail(this.output + chunk.toString());
      options.onStderr?.(this.stderr, this.child);
      this.onOutput(this.output);
    });
    this.exited = new Promise((resolve, reject) => {
      // Only a failed spawn (no pid) is fatal here; a later 'error' (a failed kill or send) is not.
      this.child.once('error', (error) => {
        if (this.child.pid === undefined) reject(new Error(`${command}: ${error.message}`));
      });
      this.child.once('close', (code, signal) =>
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }),
      );
    });
    // Callers that only kill the process never await `exited`: a failed spawn must not go unhandled.
    this.exited.catch(() => {});
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited.catch(() => {});
  }

  /** `signal`, then SIGKILL if it is still running after `graceMs`; waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
    const force = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.kill(signal);
    } finally {
      clearTimeout(force);
    }
  }
}

/**
 * Runs a command to the end and returns its exit and output; never rejects on a non-zero exit. After
 * `timeoutMs` the child is killed and the promise rejects with what it printed.
 */
export async function runProcess(
  command: string,
  args: readonly string[],
  options: SpawnOptions & { readonly timeoutMs?: number } = {},
): Promise<ProcessResult> {
  const captured = new CapturedProcess(command, args, options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      captured.child.kill('SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish in ${timeoutMs} ms\n${captured.stdout}\n${captured.stderr}`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([captured.exited, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The caller's environment without what would change how mks, its CLI, the OVH clients or kubectl
 * behave (OVH_*, MKS_*, KUBECONFIG, EDITOR, NODE_EXTRA_CA_CERTS), plus `extra`: a child sees only
 * what the test gives it.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('OVH_') || name.startsWith('MKS_') || CALLER_SETTINGS.has(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

const CALLER_SETTINGS = new Set(['KUBECONFIG', 'EDITOR', 'NODE_EXTRA_CA_CERTS']);
