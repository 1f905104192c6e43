/** `mks cluster rollout ID`: the kube-proxy rollout node by node (GET …/kube/{id}/rollout). */
import type { Command } from 'commander';
import type { RolloutView } from '../clusters/cluster-rollout.ts';
import { action, type CommonOptions, createContext, withConnection, withOutput } from './cli-context.ts';
import { fields, render, table } from './output.ts';

export function registerRollout(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('rollout')
        .description(
          "show the kube-proxy rollout node by node: each node's pod, config generation, readiness",
        )
        .argument('<cluster>', 'cluster id'),
    ),
  )
    .addHelpText(
      'after',
      `
Phases: pending (the ConfigMap lacks the new config), config-applied (kube-proxy not restarted
yet), rolling (node by node), done, failed (see the cluster's statusMessage), rolled-back (failed
on a node; the nodes changed went back to the last config healthy everywhere, see statusMessage
and the history's rollback entry). -q prints the nodes still not on the generation being applied.

Examples:
  mks cluster rollout $ID
  mks cluster rollout $ID -o json | jq '.nodes[] | select(.ready | not)'`,
    )
    .action(
      action(async (id: string, options: CommonOptions) => {
        const context = createContext(options);
        const view = await context.client.rollout(await context.project(), id);
        const behind = view.nodes.filter((node) => node.generation !== view.generation);
        context.io.stdout(
          render(
            { data: view, ids: behind.map((node) => node.node ?? node.pod), table: () => rolloutTable(view) },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

export function rolloutTable(view: RolloutView): string {
  const summary = fields([
    ['Generation', `${view.generation} (observed ${view.observedGeneration})`],
    ['Status', view.statusMessage === null ? view.status : `${view.status}: ${view.statusMessage}`],
    ['Phase', view.phase ?? `unknown (${view.message})`],
    ['Nodes', `${view.updated}/${view.desired} updated, ${view.available} available`],
  ]);
  if (view.nodes.length === 0) return summary;
  const nodes = table(
    ['node', 'pod', 'generation', 'config', 'ready', 'restarts', 'message'],
    view.nodes.map((node) => [
      node.node ?? '-',
      node.pod,
      node.generation === null ? '?' : String(node.generation),
      node.configHash ?? '-',
      node.ready ? 'yes' : 'no',
      String(node.restarts),
      node.message ?? '',
    ]),
  );
  return `${summary}\n\n${nodes}`;
}
