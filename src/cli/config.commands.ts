/** `mks config show`: which credentials and project the CLI would use, and where each came from. */
import type { Command } from 'commander';
import {
  action,
  type CommonOptions,
  createContext,
  findCredentials,
  onlyProject,
  PROJECT_ENV,
  withConnection,
  withOutput,
} from './cli-context.ts';
import { fields, render } from './output.ts';

const ENV_NAMES = {
  endpoint: 'OVH_ENDPOINT',
  applicationKey: 'OVH_APPLICATION_KEY',
  applicationSecret: 'OVH_APPLICATION_SECRET',
  consumerKey: 'OVH_CONSUMER_KEY',
} as const;

const FLAG_NAMES = {
  endpoint: '--endpoint',
  applicationKey: '--application-key',
  applicationSecret: '--application-secret',
  consumerKey: '--consumer-key',
} as const;

/** Enough to recognise a key, never enough to use it. */
export function mask(value: string): string {
  if (value.length <= 8) return '*'.repeat(value.length);
  return `${value.slice(0, 4)}${'*'.repeat(value.length - 4)}`;
}

export function registerConfigCommands(program: Command): void {
  const group = program
    .command('config')
    .description('the CLI configuration')
    .addHelpText(
      'after',
      '\nExamples:\n  mks config show\n  OVH_ENDPOINT=https://eu.api.ovh.com/1.0 mks config show -o json',
    );
  registerShow(group);
}

function registerShow(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('show')
        .description('show the credentials and project in use and where each was found (secrets masked)'),
    ),
  )
    .addHelpText(
      'after',
      `
Credentials are looked for as OVH's tools do, first match wins: flags, OVH_ENDPOINT /
OVH_APPLICATION_KEY / OVH_APPLICATION_SECRET / OVH_CONSUMER_KEY, ./ovh.conf, ~/.ovh.conf,
/etc/ovh.conf, then the ovh.conf mks writes in its data directory. The project: --project,
$${PROJECT_ENV}, or the only project the credentials see.

Examples:
  mks config show
  mks config show -o json | jq -r .endpoint.source`,
    )
    .action(
      action(async (options: CommonOptions, command: Command) => {
        const { credentials, sources } = findCredentials(options);
        const source = (field: keyof typeof ENV_NAMES) => {
          const found = sources[field];
          if (found === 'flag') return `flag ${FLAG_NAMES[field]}`;
          if (found === 'env') return `env ${ENV_NAMES[field]}`;
          return found;
        };
        let project: { value: string | null; source: string };
        if (options.project !== undefined && options.project !== '') {
          const fromEnv = command.getOptionValueSource('project') === 'env';
          project = { value: options.project, source: fromEnv ? `env ${PROJECT_ENV}` : 'flag --project' };
        } else {
          const context = createContext(options);
          try {
            project = {
              value: await onlyProject(context.client),
              source: 'the only project of the credentials',
            };
          } catch (error) {
            project = { value: null, source: `unknown: ${(error as Error).message}` };
          }
        }
        const data = {
          endpoint: { value: credentials.endpoint, source: source('endpoint') },
          applicationKey: { value: mask(credentials.applicationKey), source: source('applicationKey') },
          applicationSecret: {
            value: mask(credentials.applicationSecret),
            source: source('applicationSecret'),
          },
          consumerKey: { value: mask(credentials.consumerKey), source: source('consumerKey') },
          project,
        };
        const context = {
          format: options.output ?? (process.stdout.isTTY ? 'table' : 'json'),
          quiet: options.quiet,
        };
        process.stdout.write(
          render(
            {
              data,
              ids: project.value === null ? [] : [project.value],
              table: () =>
                fields([
                  ['Endpoint', `${data.endpoint.value}  (${data.endpoint.source})`],
                  ['Application key', `${data.applicationKey.value}  (${data.applicationKey.source})`],
                  [
                    'Application secret',
                    `${data.applicationSecret.value}  (${data.applicationSecret.source})`,
                  ],
                  ['Consumer key', `${data.consumerKey.value}  (${data.consumerKey.source})`],
                  ['Project', `${project.value ?? '-'}  (${project.source})`],
                ]),
            },
            context.format,
            context.quiet === true,
          ),
        );
      }),
    );
}
