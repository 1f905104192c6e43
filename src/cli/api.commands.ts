/**
 * `mks api METHOD PATH [--data JSON|@file]`: a raw signed call, like the OVH CLIs' raw mode. It
 * loads none of the server's modules.
 */
import { type Command, Option } from 'commander';
import { ApiClient } from '../client/api-client.ts';
import type { OvhCredentials } from '../client/ovh-conf.ts';
import { loadConfig } from '../config.ts';
import { readJsonArgument } from './cli-context.ts';
import { resolveCredentials } from './credentials.ts';

interface ApiOptions {
  data?: string;
  dataDir?: string;
  endpoint?: string;
  applicationKey?: string;
  applicationSecret?: string;
  consumerKey?: string;
}

export function registerApiCommands(program: Command): void {
  program
    .command('api')
    .description('make a raw signed call and print the JSON (like the OVH CLIs)')
    .argument('<method>', 'GET, POST, PUT or DELETE')
    .argument('<path>', 'path below /1.0, e.g. /cloud/project')
    .option('-d, --data <json>', 'request body: JSON text, or @file')
    .addOption(new Option('--endpoint <url>', 'API endpoint ending in /1.0'))
    .addOption(new Option('--application-key <key>'))
    .addOption(new Option('--application-secret <secret>'))
    .addOption(new Option('--consumer-key <key>'))
    .addOption(new Option('--data-dir <dir>', 'where `mks serve` wrote ovh.conf').env('MKS_DATA_DIR'))
    .addHelpText(
      'after',
      `
Credentials: flags, then OVH_ENDPOINT / OVH_APPLICATION_KEY / OVH_APPLICATION_SECRET / OVH_CONSUMER_KEY,
then ./ovh.conf, ~/.ovh.conf, /etc/ovh.conf, then <data-dir>/ovh.conf.

Examples:
  mks api GET /cloud/project
  mks api POST /cloud/project/<sn>/kube --data '{"region":"GRA5","kubeProxyMode":"ipvs"}'
  mks api PUT /cloud/project/<sn>/kube/<id>/customization --data @customization.json`,
    )
    .action(async (method: string, path: string, options: ApiOptions) => {
      const config = loadConfig({ dataDir: options.dataDir });
      const { credentials } = resolveCredentials(options, config.dataDir);
      process.exitCode = await apiCommand(credentials, method, path, options.data, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    });
}

export interface ApiCommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** Returns the process exit code: 0 on success, 1 when the API refused the call, 2 on bad usage. */
export async function apiCommand(
  credentials: OvhCredentials,
  method: string,
  path: string,
  data: string | undefined,
  io: ApiCommandIo,
): Promise<number> {
  const upper = method.toUpperCase();
  if (!['GET', 'POST', 'PUT', 'DELETE'].includes(upper)) {
    io.stderr(`error: METHOD must be GET, POST, PUT or DELETE (got '${method}')\n`);
    return 2;
  }
  let body: unknown;
  if (data !== undefined) {
    try {
      body = readJsonArgument(data, '--data');
    } catch (error) {
      io.stderr(`error: ${(error as Error).message}\n`);
      return 2;
    }
  }
  const client = new ApiClient(credentials);
  let response: Awaited<ReturnType<ApiClient['raw']>>;
  try {
    response = await client.raw(upper, path, body);
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is its cause.
    const cause = (error as Error).cause as Error | undefined;
    io.stderr(`error: cannot reach ${client.endpoint}: ${cause?.message ?? (error as Error).message}\n`);
    return 1;
  }
  const text = `${JSON.stringify(response.body, null, 2)}\n`;
  if (response.status >= 200 && response.status < 300) {
    io.stdout(text);
    return 0;
  }
  const message = (response.body as { message?: string } | null)?.message ?? text.trim();
  io.stderr(`error: ${response.status}: ${message} (query id ${response.queryId ?? 'none'})\n`);
  return 1;
}
