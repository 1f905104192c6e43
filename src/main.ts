/**
 * The `mks` command: builds the program from the command groups (each in `cli/`, with its own
 * examples) and maps what escapes them to exit codes: 2 for bad usage or configuration, 1 otherwise.
 */
import { Command } from 'commander';
import { registerAdminCommands } from './cli/admin.commands.ts';
import { registerApiCommands } from './cli/api.commands.ts';
import { registerOperatorCommands } from './cli/operator.commands.ts';
import { registerServerCommands } from './cli/server.commands.ts';
import { ConfigError } from './config.ts';
import { MKS_VERSION } from './version.ts';

const program = new Command('mks')
  .description('mks — a Managed Kubernetes Service control plane, wire-compatible with the OVHcloud API')
  .version(MKS_VERSION, '--version', 'print the version of mks')
  .showHelpAfterError()
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  })
  .addHelpText(
    'after',
    `
Examples:
  mks serve                                   # the embedded default: API, worker, emulated clusters
  mks cluster create --region GRA5 --name demo --wait
  mks customization set $ID --iptables-sync-period PT60S --wait
  mks cluster kubeconfig $ID --merge && kubectl get cm kube-proxy -n kube-system -o yaml
  mks api GET /cloud/project                  # any call, signed`,
  );

// Registration order is the order `mks --help` lists the commands in.
registerServerCommands(program);
registerApiCommands(program);
registerAdminCommands(program);
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
