/**
 * The one way tests run kubectl: the real binary, as users run it, with its output captured and a
 * bound on how long it may take.
 */
import { spawnSync } from 'node:child_process';
import { type ProcessResult, runProcess } from './process.ts';

export interface KubectlOptions {
  /** `--kubeconfig`; without it kubectl reads $KUBECONFIG or ~/.kube/config from `env`. */
  readonly kubeconfig?: string;
  /** `--cache-dir`: a test's own discovery cache, away from ~/.kube/cache. */
  readonly cacheDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

let found: boolean | undefined;

/** Whether kubectl is on PATH (`npm test` installs it; a test may skip itself without it). */
export function hasKubectl(): boolean {
  found ??= spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
  return found;
}

/** Runs kubectl; never rejects on a non-zero exit (see `code`), rejects after `timeoutMs` (30 s). */
export function kubectl(args: readonly string[], options: KubectlOptions = {}): Promise<ProcessResult> {
  return runProcess(
    'kubectl',
    [
      ...(options.kubeconfig === undefined ? [] : ['--kubeconfig', options.kubeconfig]),
      ...(options.cacheDir === undefined ? [] : ['--cache-dir', options.cacheDir]),
      ...args,
    ],
    {
      ...(options.env === undefined ? {} : { env: options.env }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    },
  );
}
