/** `mks capabilities regions|admission-plugins`: what the installation offers. */
import type { Command } from 'commander';
import { action, type CommonOptions, createContext, withConnection, withOutput } from './cli-context.ts';
import { render, table } from './output.ts';

export function registerCapabilitiesCommands(program: Command): void {
  const group = program
    .command('capabilities')
    .description('what this installation offers: regions, admission plugins')
    .addHelpText(
      'after',
      '\nExamples:\n  mks capabilities regions\n  mks capabilities admission-plugins -o json',
    );

  const lists = [
    ['regions', 'regions where clusters can be created', 'region', 'listRegions'],
    [
      'admission-plugins',
      'API-server admission plugins that can be enabled or disabled',
      'plugin',
      'listAdmissionPlugins',
    ],
  ] as const;
  for (const [name, description, column, method] of lists) {
    withOutput(withConnection(group.command(name).description(description)))
      .addHelpText('after', `\nExamples:\n  mks capabilities ${name}\n  mks capabilities ${name} -q`)
      .action(
        action(async (options: CommonOptions) => {
          const context = createContext(options);
          const values = await context.client[method](await context.project());
          context.io.stdout(
            render(
              {
                data: values,
                ids: values,
                table: () =>
                  table(
                    [column],
                    values.map((value) => [value]),
                  ),
              },
              context.format,
              context.quiet,
            ),
          );
        }),
      );
  }
}
