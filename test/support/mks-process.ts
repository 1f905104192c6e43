/**
 * `mks` as a real child process (`serve`, `worker`, …) for end-to-end tests: its output is kept
 * (the last 20 kB) to explain failures, and it can be killed with any signal.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The environment without any MKS_* variable of the caller, plus `extra`. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('MKS_')) delete env[name];
  return { ...env, ...extra };
}

export class MksProcess {
  readonly child: ChildProcess;
  output = '';
  onOutput: (text: string) => void = () => {};
  readonly exited: Promise<void>;

  constructor(args: readonly string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [path.join(ROOT, 'bin/mks.js'), ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
      this.onOutput(this.output);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until the process printed `pattern` (it must keep running meanwhile). */
  async printed(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      () => {
        if (!this.running) throw new Error(`mks exited before ${what}:\n${this.output}`);
        return pattern.test(this.output);
      },
      { timeoutMs, intervalMs: 100, what },
    );
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    await this.exited;
  }
}
