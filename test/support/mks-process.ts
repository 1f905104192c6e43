/**
 * `mks` as a real child process (`serve`, `worker`, …) for end-to-end tests and benchmarks: its
 * output is kept (the last 20 kB) to explain failures, and it can be killed with any signal.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CapturedProcess } from './process.ts';
import { waitFor } from './wait.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MKS = path.join(ROOT, 'bin/mks.js');

export class MksProcess extends CapturedProcess {
  /** `options.script`: another entry than bin/mks.js (a bundle of scripts/build.js), run with `nodeFlags`. */
  constructor(
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    options: { cwd?: string; script?: string; nodeFlags?: readonly string[] } = {},
  ) {
    super(process.execPath, [...(options.nodeFlags ?? []), options.script ?? MKS, ...args], {
      cwd: options.cwd ?? ROOT,
      env,
      keep: 20_000,
    });
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
}
