/**
 * What every operator command shares: the connection and output options, the typed client built
 * from the credentials found (`credentials.ts`), the project to act on, and one place that turns
 * failures into messages on stderr and exit codes.
 */
import fs from 'node:fs';
import { type Command, Option } from 'commander';
import { ApiError } from '../client/api-client.ts';
import { MksClient } from '../client/mks-client.ts';
import { loadConfig } from '../config.ts';
import { type ResolvedCredentials, resolveCredentials } from './credentials.ts';
import { OUTPUT_FORMATS, type OutputFormat } from './output.ts';

/** 0 success, 1 API or operation failure, 2 usage error, 130 interrupted (128 + SIGINT). */
export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2, interrupted: 130 });
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure the CLI explains itself: printed as `error: <message>`, exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode = EXIT.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);

/** The Terraform provider's variable for the project (OVH calls it the service name). */
export const PROJECT_ENV = 'OVH_CLOUD_PROJECT_SERVICE';

export interface ConnectionOptions {
  endpoint?: string;
  applicationKey?: string;
  applicationSecret?: string;
  consumerKey?: string;
  dataDir?: string;
  project?: string;
}

export interface OutputOptions {
  output?: OutputFormat;
  quiet?: boolean;
}

export type CommonOptions = ConnectionOptions & OutputOptions;

const CONNECTION_GROUP = 'Connection options (default: OVH_* variables, ovh.conf files):';

/** Adds the credential, project and data-directory options (grouped apart in the help). */
export function withConnection(command: Command): Command {
  return command
    .addOption(
      new Option('--project <id>', `project (service name); default $${PROJECT_ENV}, or the only one`)
        .env(PROJECT_ENV)
        .helpGroup(CONNECTION_GROUP),
    )
    .addOption(new Option('--endpoint <url>', 'API endpoint ending in /1.0').helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--application-key <key>').helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--application-secret <secret>').helpGroup(CONNECTION_GROUP))
    .addOption(new Option('--consumer-key <key>').helpGroup(CONNECTION_GROUP))
    .addOption(
      new Option('--data-dir <dir>', 'where `mks serve` wrote ovh.conf')
        .env('MKS_DATA_DIR')
        .helpGroup(CONNECTION_GROUP),
    );
}

/** Adds `-o/--output` and `-q/--quiet`. */
export function withOutput(command: Command): Command {
  return command
    .addOption(
      new Option(
        '-o, --output <format>',
        'table, json or yaml (default: table on a terminal, json when piped)',
      )
        .choices(OUTPUT_FORMATS)
        .helpGroup('Output options:'),
    )
    .addOption(new Option('-q, --quiet', 'print ids only').helpGroup('Output options:'));
}

export interface WaitFlags {
  wait?: boolean;
  timeout?: string;
}

export function withWait(command: Command, what: string): Command {
  return command
    .addOption(
      new Option(
        '--wait',
        `wait until ${what}, showing progress on stderr (Ctrl-C stops waiting only)`,
      ).helpGroup('Wait options:'),
    )
    .addOption(
      new Option('--timeout <seconds>', 'give up waiting after this long (exit 1)')
        .default('1800')
        .helpGroup('Wait options:'),
    );
}

export function timeoutMs(flags: WaitFlags): number {
  const seconds = Number(flags.timeout ?? '1800');
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw usageError(`--timeout: '${flags.timeout}' is not a positive number of seconds`);
  }
  return seconds * 1000;
}

/** JSON text or `@file`, parsed; problems are usage errors naming the option. */
export function readJsonArgument(value: string, option: string): unknown {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = fs.readFileSync(value.slice(1), 'utf8');
    } catch (error) {
      throw usageError(`${option} ${value}: ${(error as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw usageError(`${option} is not valid JSON: ${(error as Error).message}`);
  }
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stdout / stderr are terminals. */
  stdoutIsTty: boolean;
  stderrIsTty: boolean;
}

export const processIo = (): CliIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdoutIsTty: process.stdout.isTTY === true,
  stderrIsTty: process.stderr.isTTY === true,
});

export interface CliContext {
  readonly client: MksClient;
  readonly io: CliIo;
  readonly format: OutputFormat;
  readonly quiet: boolean;
  /** The project to act on: `--project`, `$OVH_CLOUD_PROJECT_SERVICE`, or the only one visible. */
  project(): Promise<string>;
}

/** Resolves credentials (flags → env → ovh.conf files → data directory) without any call. */
export function findCredentials(options: ConnectionOptions): ResolvedCredentials {
  const { dataDir } = loadConfig({ dataDir: options.dataDir });
  try {
    return resolveCredentials(options, dataDir);
  } catch (error) {
    throw usageError((error as Error).message);
  }
}

export function createContext(options: CommonOptions, io: CliIo = processIo()): CliContext {
  const { credentials } = findCredentials(options);
  const client = new MksClient(credentials);
  let project: Promise<string> | undefined;
  return {
    client,
    io,
    format: options.output ?? (io.stdoutIsTty ? 'table' : 'json'),
    quiet: options.quiet === true,
    project() {
      project ??=
        options.project !== undefined && options.project !== ''
          ? Promise.resolve(options.project)
          : onlyProject(client);
      return project;
    },
  };
}

export async function onlyProject(client: MksClient): Promise<string> {
  const projects = await client.listProjects();
  if (projects.length === 1) return projects[0]!;
  if (projects.length === 0) throw new CliError('these credentials see no project');
  throw usageError(
    `these credentials see ${projects.length} projects (${projects.join(', ')}): pass --project or set ${PROJECT_ENV}`,
  );
}

/**
 * Runs a command body and maps what it throws to a message and an exit code, so every command
 * fails the same way: API errors with their status, message and query id; unreachable endpoints
 * with the network's reason.
 */
export function action<Args extends unknown[]>(
  body: (...args: Args) => Promise<void>,
): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      await body(...args);
    } catch (error) {
      const code = report(error, (text) => process.stderr.write(text));
      if (code === EXIT.interrupted) process.exit(code);
      process.exitCode = code;
    }
  };
}

export function report(error: unknown, stderr: (text: string) => void): ExitCode {
  if (error instanceof CliError) {
    // An empty message: the command has already said what happened (e.g. an interrupted wait).
    if (error.message !== '') stderr(`error: ${error.message}\n`);
    return error.exitCode;
  }
  if (error instanceof ApiError) {
    stderr(`error: ${error.status}: ${error.message} (query id ${error.queryId ?? 'none'})\n`);
    return EXIT.failure;
  }
  stderr(`error: ${(error as Error).message ?? String(error)}\n`);
  return EXIT.failure;
}
