/**
 * Composition root and command line: config → dependencies → serve | migrate | admin | api.
 */
import path from 'node:path';
import { Command, Option } from 'commander';
import { type AccessRule, FULL_ACCESS, parseRule } from './auth/access-rules.ts';
import { apiCommand } from './cli/api-command.ts';
import { registerOperatorCommands } from './cli/commands.ts';
import { resolveCredentials } from './cli/credentials.ts';
import { readOvhConf } from './client/ovh-conf.ts';
import { type Config, ConfigError, type ConfigOptions, loadConfig } from './config.ts';
import type { Services } from './services.ts';

// The server's modules (fastify, the store, the emulator) load only for the commands that use
// them: `mks api` then starts in a fraction of the time.
const serverModules = async () => {
  const [{ openDatabase }, { createLogger }, { openServices }, { startRuntime, startWorkerRuntime }] =
    await Promise.all([
      import('./db/database.ts'),
      import('./logger.ts'),
      import('./services.ts'),
      import('./server.ts'),
    ]);
  return { openDatabase, createLogger, openServices, startRuntime, startWorkerRuntime };
};

const program = new Command('mks')
  .description('mks — a Managed Kubernetes Service control plane, wire-compatible with the OVHcloud API')
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });

const storeOptions = (command: Command) =>
  command
    .addOption(
      new Option('--data-dir <dir>', 'data directory (SQLite file, secret key, ovh.conf)').env(
        'MKS_DATA_DIR',
      ),
    )
    .addOption(
      new Option(
        '--database-url <url>',
        'postgres://… for scale-out (default: SQLite in the data directory)',
      ).env('MKS_DATABASE_URL'),
    )
    .addOption(
      new Option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent').env(
        'MKS_LOG_LEVEL',
      ),
    );

storeOptions(
  program
    .command('serve')
    .description('run the API (and, on the embedded default, everything else) in this process')
    .addOption(
      new Option('--listen <host:port>', 'address to listen on (default 127.0.0.1:8080)').env('MKS_LISTEN'),
    )
    .addOption(
      new Option('--public-url <url>', 'public base URL ending in /1.0 (default http://<listen>/1.0)').env(
        'MKS_PUBLIC_URL',
      ),
    )
    .addOption(
      new Option(
        '--kube-listen <host:port>',
        "clusters' Kubernetes API (HTTPS) address (default: listen port + 1, 8443 for 8080)",
      ).env('MKS_KUBE_LISTEN'),
    )
    .addOption(
      new Option(
        '--kube-public-url <url>',
        "the clusters' Kubernetes API address written into kubeconfigs (default https://<kube-listen>)",
      ).env('MKS_KUBE_PUBLIC_URL'),
    )
    .addOption(
      new Option(
        '--kube-internal-url <url>',
        "scale-out: how other mks processes reach this one's Kubernetes API listener (default https://<kube-listen>)",
      ).env('MKS_KUBE_INTERNAL_URL'),
    )
    .option(
      '--no-worker',
      'do not run the reconciler in this process (scale-out: run `mks worker` elsewhere)',
    )
    .option('--no-migrate', 'do not create or upgrade the schema on start (env MKS_MIGRATE=false)')
    // No commander .env() here: it would read MKS_TLS=false as "set"; loadConfig reads MKS_TLS.
    .option(
      '--tls',
      'serve the API over HTTPS with a certificate from a local CA created in <data-dir>/tls (env MKS_TLS=true)',
    )
    .addOption(
      new Option(
        '--tls-cert <file>',
        'serve HTTPS with this PEM certificate (chain) instead; implies --tls',
      ).env('MKS_TLS_CERT'),
    )
    .addOption(new Option('--tls-key <file>', 'the PEM private key of --tls-cert').env('MKS_TLS_KEY')),
).action(async (options: ConfigOptions) => {
  const config = loadConfig(options);
  const { createLogger, startRuntime } = await serverModules();
  const logger = createLogger(config.logLevel);
  const runtime = await startRuntime(config, logger);
  const { first } = runtime;
  const env = (name: string, key: string) => `export ${name}="$(sed -n 's/^${key}=//p' '${first.file}')"`;
  process.stdout.write(
    [
      `mks is serving ${config.publicUrl} (data in ${config.dataDir})`,
      first.created ? `Created an account, project ${first.projectId} and full-rights credentials.` : '',
      `Credentials: ${first.file} (mode 0600, go-ovh's ovh.conf format). The equivalent environment:`,
      `  export OVH_ENDPOINT=${config.publicUrl}`,
      `  ${env('OVH_APPLICATION_KEY', 'application_key')}`,
      `  ${env('OVH_APPLICATION_SECRET', 'application_secret')}`,
      `  ${env('OVH_CONSUMER_KEY', 'consumer_key')}`,
      `Try: mks api GET /cloud/project --data-dir ${config.dataDir}`,
      runtime.apiCaFile === undefined
        ? ''
        : `HTTPS certificate from the local CA. Node.js clients (ovh, @ovhcloud/node-ovh) trust it with:\n  export NODE_EXTRA_CA_CERTS=${runtime.apiCaFile}\n(go-ovh and Terraform: add ${runtime.apiCaFile} to the system trust store, or SSL_CERT_FILE on Linux)`,
      '',
    ]
      .filter((line) => line !== '')
      .join('\n')
      .concat('\n'),
  );
  stopOnSignals(logger, () => runtime.close());
});

storeOptions(
  program
    .command('worker')
    .description('run only the reconciler (scale-out: next to `mks serve --no-worker` processes)')
    .addOption(
      new Option(
        '--kube-public-url <url>',
        "the clusters' Kubernetes API as the API processes serve it (default https://127.0.0.1:8081)",
      ).env('MKS_KUBE_PUBLIC_URL'),
    )
    .option('--no-migrate', 'do not create or upgrade the schema on start (env MKS_MIGRATE=false)')
    .addHelpText(
      'after',
      `
A worker claims reconcile work from the database (leases, FOR UPDATE SKIP LOCKED) and drives the
clusters through their Kubernetes API at --kube-public-url. It needs the same database URL and
installation key as the API processes (MKS_SECRET_KEY, or a shared --data-dir), and trusts the
installation CA the API processes keep in the database.`,
    ),
).action(async (options: ConfigOptions) => {
  const config = loadConfig({ ...options, worker: true });
  if (config.database.kind !== 'postgres') {
    process.stderr.write(
      'mks worker needs PostgreSQL (--database-url / MKS_DATABASE_URL postgres://…): on the embedded SQLite default the worker runs inside `mks serve`.\n',
    );
    process.exit(2);
  }
  const { createLogger, startWorkerRuntime } = await serverModules();
  const logger = createLogger(config.logLevel);
  const runtime = await startWorkerRuntime(config, logger);
  process.stdout.write(
    `mks worker is reconciling clusters from PostgreSQL (Kubernetes API at ${config.kubePublicUrl})\n`,
  );
  stopOnSignals(logger, () => runtime.close());
});

/** SIGINT/SIGTERM: a graceful stop (bounded at 10 s); a second signal forces the exit. */
function stopOnSignals(logger: { info(object: object, message: string): void }, close: () => Promise<void>) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await close();
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void stop(signal));
  process.on('SIGTERM', (signal) => void stop(signal));
}

storeOptions(
  program.command('migrate').description('create or upgrade the database schema, then exit'),
).action(async (options: ConfigOptions) => {
  const config = loadConfig(options);
  const { openDatabase } = await serverModules();
  const database = await openDatabase(config.database);
  await database.close();
  process.stdout.write(`Schema is up to date (${config.database.kind}).\n`);
});

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
  .action(
    async (
      method: string,
      path: string,
      options: {
        data?: string;
        dataDir?: string;
        endpoint?: string;
        applicationKey?: string;
        applicationSecret?: string;
        consumerKey?: string;
      },
    ) => {
      const config = loadConfig({ dataDir: options.dataDir });
      const { credentials } = resolveCredentials(options, config.dataDir);
      process.exitCode = await apiCommand(credentials, method, path, options.data, {
        stdout: (text) => process.stdout.write(text),
        stderr: (text) => process.stderr.write(text),
      });
    },
  );

const admin = program.command('admin').description('operator commands working on the store directly');

storeOptions(admin.command('account').command('create').description('create an account and print its id'))
  .option('--email <email>', 'contact address')
  .option('--id <id>', 'account id (default: generated)')
  .action(async (options: ConfigOptions & { email?: string; id?: string }) =>
    withServices(options, async (services) => {
      const id = await services.authStore.createAccount({ id: options.id, email: options.email ?? null });
      process.stdout.write(`${id}\n`);
    }),
  );

storeOptions(
  admin.command('project').command('create').description('create a project for an account and print its id'),
)
  .requiredOption('--account <id>', 'owning account')
  .option('--name <name>', 'project name', 'project')
  .option('--description <text>', 'description')
  .action(async (options: ConfigOptions & { account: string; name: string; description?: string }) =>
    withServices(options, async (services) => {
      await requireAccount(services, options.account);
      const project = await services.projects.create({
        accountId: options.account,
        name: options.name,
        ...(options.description === undefined ? {} : { description: options.description }),
      });
      process.stdout.write(`${project.id}\n`);
    }),
  );

storeOptions(
  admin
    .command('credential')
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
    async (options: ConfigOptions & { account: string; rule?: string[]; name: string; endpoint?: string }) =>
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

registerOperatorCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  // Loaded only now: the CLI's other commands must not pay for the database drivers.
  const { isDatabaseUnavailable } = await import('./db/database.ts');
  if (isDatabaseUnavailable(error)) {
    process.stderr.write(
      `error: the database cannot be reached (${(error as Error).message}); check --database-url / MKS_DATABASE_URL and that the server accepts connections\n`,
    );
    process.exit(1);
  }
  process.stderr.write(`error: ${(error as Error).message}\n`);
  process.exit(1);
}
