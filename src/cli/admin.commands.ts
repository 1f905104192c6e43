/**
 * `mks admin account|project|credential create`: operator commands working on the store directly
 * (the same --data-dir / --database-url as `mks serve`), while the server runs or not.
 */
import path from 'node:path';
import { type Command, Option } from 'commander';
import { type AccessRule, FULL_ACCESS, parseRule } from '../auth/access-rules.ts';
import { setConsolePassword } from '../auth/console-login.ts';
import { readOvhConf } from '../client/ovh-conf.ts';
import { type Config, ConfigError, type ConfigOptions, loadConfig } from '../config.ts';
import type { Services } from '../services.ts';
import { serverModules, withStoreOptions } from './store-options.ts';

export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('operator commands working on the store directly')
    .addHelpText(
      'after',
      `
Examples:
  mks admin account create --email ops@example.com
  mks admin credential create --account ab12345-mks`,
    );
  const account = admin
    .command('account')
    .addHelpText(
      'after',
      '\nExamples:\n  mks admin account create --email ops@example.com\n  mks admin account password --account ab12345-mks',
    );
  registerAccountCreate(account);
  registerAccountPassword(account);
  registerProjectCreate(
    admin
      .command('project')
      .addHelpText('after', '\nExamples:\n  mks admin project create --account ab12345-mks --name staging'),
  );
  registerCredentialCreate(
    admin
      .command('credential')
      .addHelpText(
        'after',
        "\nExamples:\n  mks admin credential create --account ab12345-mks --rule 'GET /*'",
      ),
  );
}

function registerAccountCreate(account: Command): void {
  withStoreOptions(account.command('create').description('create an account and print its id'))
    .option('--email <email>', 'contact address')
    .option('--id <id>', 'account id (default: generated)')
    .option(
      '--password-stdin',
      'read the console password from stdin (default: generate one, shown on stderr)',
    )
    .addHelpText('after', '\nExamples:\n  mks admin account create --email ops@example.com --id ab12345-mks')
    .action(async (options: ConfigOptions & { email?: string; id?: string; passwordStdin?: boolean }) =>
      withServices(options, async (services) => {
        const id = await services.authStore.createAccount({ id: options.id, email: options.email ?? null });
        await consolePassword(services, id, options.passwordStdin);
        process.stdout.write(`${id}\n`);
      }),
    );
}

function registerAccountPassword(account: Command): void {
  withStoreOptions(
    account
      .command('password')
      .description("set an account's web console password (its login is the account id)"),
  )
    .requiredOption('--account <id>', 'the account')
    .option('--password-stdin', 'read the password from stdin (default: generate one, shown on stderr)')
    .addHelpText(
      'after',
      '\nExamples:\n  mks admin account password --account ab12345-mks\n  printf %s "$PASSWORD" | mks admin account password --account ab12345-mks --password-stdin',
    )
    .action(async (options: ConfigOptions & { account: string; passwordStdin?: boolean }) =>
      withServices(options, async (services) => {
        await requireAccount(services, options.account);
        await consolePassword(services, options.account, options.passwordStdin);
      }),
    );
}

/** Sets the account's console password: read from stdin, or generated and shown once on stderr. */
async function consolePassword(services: Services, accountId: string, fromStdin: boolean | undefined) {
  const { generated } = await setConsolePassword(
    services.authStore,
    accountId,
    fromStdin ? process.stdin : undefined,
  );
  if (generated !== undefined) {
    process.stderr.write(`Console login: ${accountId}, password: ${generated} (shown once)\n`);
  }
}

function registerProjectCreate(project: Command): void {
  withStoreOptions(project.command('create').description('create a project for an account and print its id'))
    .requiredOption('--account <id>', 'owning account')
    .option('--name <name>', 'project name', 'project')
    .option('--description <text>', 'description')
    .addHelpText('after', '\nExamples:\n  mks admin project create --account ab12345-mks --name staging')
    .action(async (options: ConfigOptions & { account: string; name: string; description?: string }) =>
      withServices(options, async (services) => {
        await requireAccount(services, options.account);
        const created = await services.projects.create({
          accountId: options.account,
          name: options.name,
          ...(options.description === undefined ? {} : { description: options.description }),
        });
        process.stdout.write(`${created.id}\n`);
      }),
    );
}

function registerCredentialCreate(credential: Command): void {
  withStoreOptions(
    credential
      .command('create')
      .description(
        'create an application and a validated consumer key for an account; print them as OVH_* variables',
      ),
  )
    .requiredOption('--account <id>', 'account the credential acts for')
    .option(
      '--rule <rule...>',
      "access rule 'METHOD /path' with * wildcards (repeatable; default: full access)",
    )
    .option('--name <name>', 'application name', 'mks-cli')
    .addOption(
      new Option(
        '--endpoint <url>',
        'endpoint to print (default: the one in <data-dir>/ovh.conf, written by `mks serve`, else the configured public URL)',
      ),
    )
    .addHelpText(
      'after',
      `\nExample:\n  mks admin credential create --account ab12345-mks --rule 'GET /cloud/project/*' --rule 'GET /cloud/project'`,
    )
    .action(
      async (
        options: ConfigOptions & { account: string; rule?: string[]; name: string; endpoint?: string },
      ) =>
        withServices(options, async (services) => {
          await requireAccount(services, options.account);
          let rules: readonly AccessRule[] = FULL_ACCESS;
          if (options.rule !== undefined) rules = options.rule.map(parseRule);
          const application = await services.authStore.createApplication({
            accountId: options.account,
            name: options.name,
            description: 'Created with mks admin credential create',
          });
          const { consumerKey } = await services.authStore.createCredential({
            applicationId: application.id,
            accountId: options.account,
            rules,
            status: 'validated',
          });
          process.stdout.write(
            [
              `OVH_ENDPOINT=${options.endpoint ?? servedEndpoint(services.config)}`,
              `OVH_APPLICATION_KEY=${application.appKey}`,
              `OVH_APPLICATION_SECRET=${application.secret}`,
              `OVH_CONSUMER_KEY=${consumerKey}`,
              '',
            ].join('\n'),
          );
        }),
    );
}

/**
 * The endpoint `mks serve` last wrote to the data directory's ovh.conf: admin commands take no
 * --listen, so their own default public URL may not be where the server listens.
 */
function servedEndpoint(config: Config): string {
  return readOvhConf(path.join(config.dataDir, 'ovh.conf'))?.endpoint ?? config.publicUrl;
}

async function withServices(options: ConfigOptions, work: (services: Services) => Promise<void>) {
  const config = loadConfig(options);
  const { createLogger, openServices } = await serverModules();
  const services = await openServices(config, createLogger('silent'));
  try {
    await work(services);
  } finally {
    await services.close();
  }
}

async function requireAccount(services: Services, id: string) {
  if (!(await services.authStore.accountExists(id))) throw new ConfigError([`--account: no account '${id}'`]);
}
