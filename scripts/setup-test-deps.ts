/**
 * First step of `npm test`: installs the Debian packages the tests need when they are missing, so
 * `npm ci && npm test` works on a fresh Debian with only Node.js. PostgreSQL's server binaries run
 * the PostgreSQL leg of the medium tests, kubectl the end-to-end tests, chromium the console's
 * browser tests. Prints nothing and installs nothing when everything is present.
 *
 * The planning is pure (`plan`) so it is tested without touching the machine.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPostgresBin } from '../test/support/postgres-server.ts';

/** What the tests need, how to tell it is there, and the Debian package that provides it. */
export const REQUIREMENTS = [
  { what: 'PostgreSQL server (initdb)', package: 'postgresql', dialect: 'postgres' },
  { what: 'kubectl', package: 'kubernetes-client' },
  { what: 'chromium', package: 'chromium' },
] as const;

export type Package = (typeof REQUIREMENTS)[number]['package'];

export interface Machine {
  /** Which packages' programs are found. */
  readonly present: ReadonlySet<Package>;
  /** The test dialects asked for (MKS_TEST_DIALECTS): no PostgreSQL needed without `postgres`. */
  readonly dialects: readonly string[];
  readonly isRoot: boolean;
  readonly hasSudo: boolean;
  readonly hasAptGet: boolean;
}

export type Plan =
  | { readonly kind: 'nothing' }
  | {
      readonly kind: 'install';
      readonly packages: readonly Package[];
      readonly commands: readonly string[][];
    }
  | { readonly kind: 'fail'; readonly packages: readonly Package[]; readonly message: string };

export function plan(machine: Machine): Plan {
  const packages = REQUIREMENTS.filter(
    (requirement) =>
      !machine.present.has(requirement.package) &&
      (!('dialect' in requirement) || machine.dialects.includes(requirement.dialect)),
  ).map((requirement) => requirement.package);
  if (packages.length === 0) return { kind: 'nothing' };
  const list = packages.join(' ');
  if (!machine.hasAptGet) {
    return {
      kind: 'fail',
      packages,
      message: `The tests need the Debian packages ${list} (or their equivalents), and apt-get is not available: install them, then run npm test again.`,
    };
  }
  if (!machine.isRoot && !machine.hasSudo) {
    return {
      kind: 'fail',
      packages,
      message: `The tests need the Debian packages ${list}: installing them takes root, and sudo is not available. As root: apt-get update && apt-get install -y --no-install-recommends ${list}`,
    };
  }
  // sudo resets the environment: `env` passes DEBIAN_FRONTEND through to apt-get.
  const prefix = machine.isRoot ? [] : ['sudo', 'env', 'DEBIAN_FRONTEND=noninteractive'];
  return {
    kind: 'install',
    packages,
    commands: [
      [...prefix, 'apt-get', 'update'],
      [...prefix, 'apt-get', 'install', '-y', '--no-install-recommends', ...packages],
    ],
  };
}

/** Whether `name` is an executable file in one of $PATH's directories. */
function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function probeMachine(): Machine {
  const present = new Set<Package>();
  // The same lookup the tests' PostgreSQL server uses.
  if (findPostgresBin() !== undefined) present.add('postgresql');
  if (onPath('kubectl')) present.add('kubernetes-client');
  if (fs.existsSync('/usr/bin/chromium')) present.add('chromium');
  return {
    present,
    dialects: (process.env.MKS_TEST_DIALECTS ?? 'sqlite,postgres').split(','),
    isRoot: process.getuid?.() === 0,
    hasSudo: onPath('sudo'),
    hasAptGet: onPath('apt-get'),
  };
}

function main(): number {
  const steps = plan(probeMachine());
  if (steps.kind === 'nothing') return 0;
  if (steps.kind === 'fail') {
    process.stderr.write(`setup-test-deps: ${steps.message}\n`);
    return 1;
  }
  process.stdout.write(`setup-test-deps: installing ${steps.packages.join(', ')} for the tests\n`);
  for (const [command, ...args] of steps.commands) {
    process.stdout.write(`+ ${[command, ...args].join(' ')}\n`);
    const result = spawnSync(command!, args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.error !== undefined || result.status !== 0) {
      const reason = result.error?.message ?? `exit ${result.status ?? result.signal}`;
      process.stderr.write(
        `setup-test-deps: ${command} failed (${reason}); the tests need ${steps.packages.join(' ')}\n`,
      );
      return 1;
    }
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main();
