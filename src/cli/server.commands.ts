/** `mks serve`, `mks worker`, `mks migrate`: the processes of an installation, over the store. */
import { type Command, Option } from 'commander';
import { type Config, type ConfigOptions, loadConfig } from '../config.ts';
import type { Runtime } from '../server.ts';
import { serverModules, withStoreOptions } from './store-options.ts';

export function registerServerCommands(program: Command): void {
  registerServe(program);
  registerWorker(program);
  registerMigrate(program);
}

function registerServe(program: Command): void {
  withStoreOptions(
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
      .option(
        '--reconciler-https',
        'the reconciler calls the clusters this process serves over HTTPS on loopback instead of in memory (env MKS_RECONCILER_HTTPS=true)',
      )
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
  )
    .addHelpText(
      'after',
      `
Examples:
  mks serve
  mks serve --listen 0.0.0.0:8080 --public-url https://mks.example.com/1.0
  MKS_DATABASE_URL=postgres://mks@db/mks mks serve --no-worker`,
    )
    .action(async (options: ConfigOptions) => {
      const config = loadConfig(options);
      const { createLogger, startRuntime } = await serverModules();
      const logger = createLogger(config.logLevel);
      const runtime = await startRuntime(config, logger);
      process.stdout.write(servingBanner(config, runtime));
      stopOnSignals(logger, () => runtime.close());
    });
}

/** Where the API is, where the credentials are, and how to use them (never the secrets themselves). */
function servingBanner(config: Config, runtime: Runtime): string {
  const { first } = runtime;
  const env = (name: string, key: string) => `export ${name}="$(sed -n 's/^${key}=//p' '${first.file}')"`;
  return [
    `mks is serving ${config.publicUrl} (data in ${config.dataDir})`,
    first.created ? `Created an account, project ${first.projectId} and full-rights credentials.` : '',
    `Credentials: ${first.file} (mode 0600, go-ovh's ovh.conf format). The equivalent environment:`,
    `  export OVH_ENDPOINT=${config.publicUrl}`,
    `  ${env('OVH_APPLICATION_KEY', 'application_key')}`,
    `  ${env('OVH_APPLICATION_SECRET', 'application_secret')}`,
    `  ${env('OVH_CONSUMER_KEY', 'consumer_key')}`,
    `Try: mks api GET /cloud/project --data-dir ${config.dataDir}`,
    `Web console: ${config.publicUrl.replace(/\/1\.0$/, '')}/${first.consoleLoginFile === undefined ? '' : ` (login and password in ${first.consoleLoginFile}, mode 0600)`}`,
    runtime.apiCaFile === undefined
      ? ''
      : `HTTPS certificate from the local CA. Node.js clients (ovh, @ovhcloud/node-ovh) trust it with:\n  export NODE_EXTRA_CA_CERTS=${runtime.apiCaFile}\n(go-ovh and Terraform: add ${runtime.apiCaFile} to the system trust store, or SSL_CERT_FILE on Linux)`,
    '',
  ]
    .filter((line) => line !== '')
    .join('\n')
    .concat('\n');
}

function registerWorker(program: Command): void {
  withStoreOptions(
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
}

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

function registerMigrate(program: Command): void {
  withStoreOptions(program.command('migrate').description('create or upgrade the database schema, then exit'))
    .addHelpText(
      'after',
      `
Examples:
  mks migrate --data-dir /var/lib/mks
  mks migrate --database-url postgres://mks@db/mks`,
    )
    .action(async (options: ConfigOptions) => {
      const config = loadConfig(options);
      const { openDatabase } = await serverModules();
      const database = await openDatabase(config.database);
      await database.close();
      process.stdout.write(`Schema is up to date (${config.database.kind}).\n`);
    });
}
