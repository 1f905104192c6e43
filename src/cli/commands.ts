/**
 * The operator commands (`cluster`, `customization`, `capabilities`, `config`, `completion`),
 * registered on the `mks` program. They only speak mks's HTTP API through MksClient, so they work
 * against any mks, local or remote, and load none of the server's modules.
 */
import { Argument, type Command } from 'commander';
import { registerCapabilitiesCommands } from './capabilities.commands.ts';
import { action } from './cli-context.ts';
import { registerClusterCommands } from './cluster.commands.ts';
import { completionScript, SHELLS } from './completion.ts';
import { registerConfigCommands } from './config.commands.ts';
import { registerCredentialCommands } from './credential.commands.ts';
import { registerCustomizationCommands } from './customization.commands.ts';

/**
 * Examples for the commands main.ts defines (server and admin), kept here with the others so
 * every `--help` ends with examples in one voice; applied by name, after they are registered.
 */
const EXAMPLES: Record<string, string> = {
  '': `mks serve                                   # the embedded default: API, worker, emulated clusters
  mks cluster create --region GRA5 --name demo --wait
  mks customization set $ID --iptables-sync-period PT60S --wait
  mks cluster kubeconfig $ID --merge && kubectl get cm kube-proxy -n kube-system -o yaml
  mks api GET /cloud/project                  # any call, signed`,
  serve: `mks serve
  mks serve --listen 0.0.0.0:8080 --public-url https://mks.example.com/1.0
  MKS_DATABASE_URL=postgres://mks@db/mks mks serve --no-worker`,
  migrate: `mks migrate --data-dir /var/lib/mks
  mks migrate --database-url postgres://mks@db/mks`,
  admin: `mks admin account create --email ops@example.com
  mks admin credential create --account ab12345-mks`,
  'admin account': 'mks admin account create --email ops@example.com',
  'admin account create': 'mks admin account create --email ops@example.com --id ab12345-mks',
  'admin project': 'mks admin project create --account ab12345-mks --name staging',
  'admin project create': 'mks admin project create --account ab12345-mks --name staging',
  'admin credential': "mks admin credential create --account ab12345-mks --rule 'GET /*'",
};

function addExamples(program: Command): void {
  for (const [path, text] of Object.entries(EXAMPLES)) {
    let command: Command | undefined = program;
    for (const name of path === '' ? [] : path.split(' ')) {
      command = command?.commands.find((sub) => sub.name() === name);
    }
    command?.addHelpText('after', `\nExamples:\n  ${text}`);
  }
}

export function registerOperatorCommands(program: Command): void {
  addExamples(program);
  registerClusterCommands(program);
  registerCustomizationCommands(program);
  registerCapabilitiesCommands(program);
  registerConfigCommands(program);
  registerCredentialCommands(program);
  program
    .command('completion')
    .description('print a shell completion script')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      `
Examples:
  source <(mks completion bash)                      # add to ~/.bashrc
  source <(mks completion zsh)                       # add to ~/.zshrc
  mks completion fish > ~/.config/fish/completions/mks.fish`,
    )
    .action(
      action(async (shell: string) => {
        process.stdout.write(completionScript(program, shell));
      }),
    );
}
