/**
 * Runs the built `mks` command (bin/mks.js) as a separate process, as a user would: a clean
 * environment (no caller OVH_* / MKS_* / KUBECONFIG), a private HOME and working directory, and
 * optionally a pseudo-terminal through util-linux `script`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OvhCredentials } from '../../src/client/ovh-conf.ts';
import { MKS } from './mks-process.ts';
import { cleanEnv, type ProcessResult, runProcess, type SpawnOptions } from './process.ts';

export type Run = ProcessResult;

const TIMEOUT_MS = 30_000;

export interface RunOptions {
  /** The environment's additions (default: the sandbox's credentials as OVH_* variables). */
  env?: Record<string, string>;
  cwd?: string;
  /** Sees stderr as it arrives (e.g. to interrupt at the right moment). */
  onStderr?: SpawnOptions['onStderr'];
  timeoutMs?: number;
}

export interface CliSandbox {
  readonly root: string;
  readonly home: string;
  readonly cwd: string;
  /** OVH_* for the test server's first-start credentials. */
  readonly credentialEnv: Record<string, string>;
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  run(args: string[], options?: RunOptions): Promise<Run>;
  /** `mks …` inside a pseudo-terminal; stdout and stderr arrive merged, as on a terminal. */
  runOnTerminal(args: string[], options?: RunOptions): Promise<Run>;
  dispose(): void;
}

export function credentialEnv(credentials: OvhCredentials): Record<string, string> {
  return {
    OVH_ENDPOINT: credentials.endpoint,
    OVH_APPLICATION_KEY: credentials.applicationKey,
    OVH_APPLICATION_SECRET: credentials.applicationSecret,
    OVH_CONSUMER_KEY: credentials.consumerKey,
  };
}

/** Whether util-linux `script` can give a child a pseudo-terminal here. */
export function hasScript(): boolean {
  const probe = spawnSync('script', ['-qfec', 'true', '/dev/null'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

const shellQuote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** A private HOME and working directory; `credentials`, when given, as the runs' OVH_* variables. */
export function cliSandbox(credentials?: OvhCredentials): CliSandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-cli-e2e-'));
  const home = path.join(root, 'home');
  const cwd = path.join(root, 'cwd');
  fs.mkdirSync(home);
  fs.mkdirSync(cwd);
  const ovh = credentials === undefined ? {} : credentialEnv(credentials);
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => cleanEnv({ HOME: home, ...extra });
  const spawnRun = (command: string, args: string[], options: RunOptions): Promise<Run> =>
    runProcess(command, args, {
      cwd: options.cwd ?? cwd,
      env: env(options.env ?? ovh),
      timeoutMs: options.timeoutMs ?? TIMEOUT_MS,
      ...(options.onStderr === undefined ? {} : { onStderr: options.onStderr }),
    });
  return {
    root,
    home,
    cwd,
    credentialEnv: ovh,
    env,
    run: (args, options = {}) => spawnRun(process.execPath, [MKS, ...args], options),
    runOnTerminal: (args, options = {}) =>
      spawnRun(
        'script',
        ['-qfec', [process.execPath, MKS, ...args].map(shellQuote).join(' '), '/dev/null'],
        options,
      ),
    dispose: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
