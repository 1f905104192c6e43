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

export function registerOperatorCommands(program: Command): void {
  registerClusterCommands(program);
  registerCustomizationCommands(program);
  registerCapabilitiesCommands(program);
  registerConfigCommands(program);
  registerCredentialCommands(program);
  registerCompletionCommand(program);
}

function registerCompletionCommand(program: Command): void {
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
