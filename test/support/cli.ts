/**
 * Runs the built `mks` command (bin/mks.js) as a separate process, as a user would: a clean
 * environment (no caller OVH_* / MKS_* / KUBECONFIG), a private HOME and working directory, and
 * optionally a pseudo-terminal through util-linux `script`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OvhCredentials } from '../../src/client/ovh-conf.ts';

export const MKS = fileURLToPath(new URL('../../bin/mks.js', import.meta.url));
const TIMEOUT_MS = 30_000;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Sees stderr as it arrives (e.g. to interrupt at the right moment). */
  onStderr?: (soFar: string, child: ChildProcess) => void;
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

export function cliSandbox(credentials: OvhCredentials): CliSandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-cli-e2e-'));
  const home = path.join(root, 'home');
  const cwd = path.join(root, 'cwd');
  fs.mkdirSync(home);
  fs.mkdirSync(cwd);
  const ovh = credentialEnv(credentials);
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const clean: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (
        !name.startsWith('OVH_') &&
        !name.startsWith('MKS_') &&
        name !== 'KUBECONFIG' &&
        name !== 'EDITOR'
      ) {
        clean[name] = value;
      }
    }
    return { ...clean, HOME: home, ...extra };
  };
  const spawnRun = (command: string, args: string[], options: RunOptions): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: options.cwd ?? cwd,
        env: env(options.env ?? ovh),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        options.onStderr?.(stderr, child);
      });
      const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
      }, timeoutMs);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
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
