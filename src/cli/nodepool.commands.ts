/** `mks nodepool list|get|create|scale|delete`: thin functions over MksClient. */
import type { Command } from 'commander';
import type { NodePool } from '../client/mks-client.ts';
import type { NodePoolCreationInput, NodePoolUpdateInput, TaintEffect } from '../clusters/nodepools.model.ts';
import {
  action,
  type CliContext,
  type CommonOptions,
  createContext,
  timeoutMs,
  usageError,
  type WaitFlags,
  withConnection,
  withOutput,
  withWait,
} from './cli-context.ts';
import { fields, render, table } from './output.ts';
import { type WaitGoal, waitForNodePool } from './wait.ts';

type Options = CommonOptions & WaitFlags;

interface SizeFlags {
  nodes?: string;
  min?: string;
  max?: string;
}

interface CreateFlags extends SizeFlags {
  flavor?: string;
  name?: string;
  label?: string[];
  taint?: string[];
  unschedulable?: boolean;
}

function poolPrintable(pool: NodePool) {
  const labels = Object.entries(pool.template.metadata.labels).map(([key, value]) => `${key}=${value}`);
  const taints = pool.template.spec.taints.map(
    (t) => `${t.key}${t.value === '' ? '' : `=${t.value}`}:${t.effect}`,
  );
  return {
    data: pool,
    ids: [pool.id],
    table: () =>
      fields([
        ['ID', pool.id],
        ['Name', pool.name],
        ['Flavor', pool.flavor],
        ['Status', `${pool.status} (${pool.sizeStatus})`],
        [
          'Nodes',
          `${pool.availableNodes} ready / ${pool.currentNodes} current / ${pool.desiredNodes} desired`,
        ],
        ['Bounds', `${pool.minNodes}..${pool.maxNodes}`],
        ['Labels', labels.join(', ') || '-'],
        ['Taints', taints.join(', ') || '-'],
        ['Unschedulable', String(pool.template.spec.unschedulable)],
      ]),
  };
}

const count = (value: string | undefined, flag: string): number | undefined => {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw usageError(`${flag}: '${value}' is not a node count`);
  return number;
};

const collect = (value: string, previous: string[] = []) => [...previous, value];

function sizeBody(flags: SizeFlags) {
  const desiredNodes = count(flags.nodes, '--nodes');
  const minNodes = count(flags.min, '--min');
  const maxNodes = count(flags.max, '--max');
  return {
    ...(desiredNodes === undefined ? {} : { desiredNodes }),
    ...(minNodes === undefined ? {} : { minNodes }),
    ...(maxNodes === undefined ? {} : { maxNodes }),
  };
}

/** `--taint key=value:Effect` (value optional) as a template taint. */
function taintOf(text: string): { key: string; value: string; effect: TaintEffect } {
  const match = /^([^=:]+)(?:=([^:]*))?:(NoSchedule|PreferNoSchedule|NoExecute)$/.exec(text);
  if (match === null)
    throw usageError(`--taint: '${text}' is not key[=value]:NoSchedule|PreferNoSchedule|NoExecute`);
  return { key: match[1]!, value: match[2] ?? '', effect: match[3] as TaintEffect };
}

function labelsOf(texts: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const text of texts) {
    const at = text.indexOf('=');
    if (at <= 0) throw usageError(`--label: '${text}' is not key=value`);
    labels[text.slice(0, at)] = text.slice(at + 1);
  }
  return labels;
}

function waitPool(
  context: CliContext,
  project: string,
  clusterId: string,
  poolId: string,
  goal: WaitGoal,
  options: WaitFlags,
): Promise<NodePool | undefined> {
  return waitForNodePool({
    client: context.client,
    project,
    clusterId,
    poolId,
    goal,
    io: context.io,
    timeoutMs: timeoutMs(options),
  });
}

export function registerNodePoolCommands(program: Command): void {
  const group = program
    .command('nodepool')
    .description("list, create, scale and delete a cluster's node pools")
    .addHelpText(
      'after',
      `
Examples:
  mks nodepool list $ID
  mks nodepool create $ID --name workers --flavor b3-16 --nodes 3 --label tier=back --wait
  mks nodepool scale $ID $POOL --nodes 5 --wait
  mks nodepool delete $ID $POOL --wait`,
    );

  withOutput(
    withConnection(
      group.command('list').description("list a cluster's node pools").argument('<cluster>', 'cluster id'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  mks nodepool list $ID\n  mks nodepool list $ID -q   # pool ids')
    .action(
      action(async (id: string, options: Options) => {
        const context = createContext(options);
        const pools = await context.client.listNodePools(await context.project(), id);
        const rows = pools.map((p) => [
          p.id,
          p.name,
          p.flavor,
          `${p.availableNodes}/${p.desiredNodes}`,
          p.status,
        ]);
        context.io.stdout(
          render(
            {
              data: pools,
              ids: pools.map((p) => p.id),
              table: () =>
                pools.length === 0
                  ? 'No node pools.'
                  : table(['id', 'name', 'flavor', 'nodes', 'status'], rows),
            },
            context.format,
            context.quiet,
          ),
        );
      }),
    );

  withOutput(
    withConnection(
      group
        .command('get')
        .description('show a node pool and its nodes')
        .argument('<cluster>', 'cluster id')
        .argument('<pool>', 'node pool id'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  mks nodepool get $ID $POOL -o json | jq .status')
    .action(
      action(async (id: string, poolId: string, options: Options) => {
        const context = createContext(options);
        const project = await context.project();
        const pool = await context.client.getNodePool(project, id, poolId);
        const nodes = await context.client.listNodes(project, id, poolId);
        const printable = poolPrintable(pool);
        context.io.stdout(
          render(
            {
              ...printable,
              table: () =>
                `${printable.table()}\nNodes:\n${
                  nodes.length === 0
                    ? '  none'
                    : table(
                        ['id', 'name', 'status'],
                        nodes.map((n) => [n.id, n.name, n.status]),
                      )
                }`,
            },
            context.format,
            context.quiet,
          ),
        );
      }),
    );

  withWait(
    withOutput(
      withConnection(
        group
          .command('create')
          .description('create a node pool (INSTALLING, then READY once its nodes run kube-proxy)')
          .argument('<cluster>', 'cluster id')
          .option('--flavor <flavor>', 'flavor (see GET …/capabilities/kube/flavors; default b3-8)')
          .option('--name <name>', 'pool name (lowercase letters, digits, -)')
          .option('--nodes <count>', 'desired nodes')
          .option('--min <count>', 'minimum nodes')
          .option('--max <count>', 'maximum nodes')
          .option('--label <key=value>', "a label of the pool's nodes (repeatable)", collect)
          .option('--taint <key[=value]:Effect>', "a taint of the pool's nodes (repeatable)", collect)
          .option('--unschedulable', "cordon the pool's nodes"),
      ),
    ),
    'the node pool is READY',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks nodepool create $ID --name gpu --flavor r3-32 --nodes 2 --taint dedicated=gpu:NoSchedule --wait',
    )
    .action(
      action(async (id: string, options: Options & CreateFlags) => {
        const context = createContext(options);
        const project = await context.project();
        const body: NodePoolCreationInput = {
          ...(options.flavor === undefined ? {} : { flavorName: options.flavor }),
          ...(options.name === undefined ? {} : { name: options.name }),
          ...sizeBody(options),
          template: {
            metadata: { labels: labelsOf(options.label ?? []), annotations: {}, finalizers: [] },
            spec: {
              taints: (options.taint ?? []).map(taintOf),
              unschedulable: options.unschedulable === true,
            },
          },
        };
        let pool = await context.client.createNodePool(project, id, body);
        if (options.wait === true) pool = (await waitPool(context, project, id, pool.id, 'ready', options))!;
        context.io.stdout(render(poolPrintable(pool), context.format, context.quiet));
      }),
    );

  withWait(
    withOutput(
      withConnection(
        group
          .command('scale')
          .description('change a node pool size or bounds, or remove named nodes')
          .argument('<cluster>', 'cluster id')
          .argument('<pool>', 'node pool id')
          .option('--nodes <count>', 'desired nodes')
          .option('--min <count>', 'minimum nodes')
          .option('--max <count>', 'maximum nodes')
          .option('--remove <node>', 'a node (id or name) of this pool to remove (repeatable)', collect),
      ),
    ),
    'the node pool is READY',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks nodepool scale $ID $POOL --nodes 5 --max 10 --wait\n  mks nodepool scale $ID $POOL --remove workers-node-1a2b3c',
    )
    .action(
      action(async (id: string, poolId: string, options: Options & SizeFlags & { remove?: string[] }) => {
        const context = createContext(options);
        const project = await context.project();
        const body: NodePoolUpdateInput = {
          ...sizeBody(options),
          ...(options.remove === undefined ? {} : { nodesToRemove: options.remove }),
        };
        if (Object.keys(body).length === 0)
          throw usageError('nothing to change: give --nodes, --min, --max or --remove');
        await context.client.updateNodePool(project, id, poolId, body);
        const pool =
          options.wait === true
            ? (await waitPool(context, project, id, poolId, 'ready', options))!
            : await context.client.getNodePool(project, id, poolId);
        context.io.stdout(render(poolPrintable(pool), context.format, context.quiet));
      }),
    );

  withWait(
    withConnection(
      group
        .command('delete')
        .description('delete a node pool (DELETING, then gone)')
        .argument('<cluster>', 'cluster id')
        .argument('<pool>', 'node pool id'),
    ),
    'the node pool is gone',
  )
    .addHelpText('after', '\nExamples:\n  mks nodepool delete $ID $POOL --wait')
    .action(
      action(async (id: string, poolId: string, options: Options) => {
        const context = createContext(options);
        const project = await context.project();
        await context.client.deleteNodePool(project, id, poolId);
        if (options.wait === true) await waitPool(context, project, id, poolId, 'gone', options);
        else context.io.stderr(`Node pool ${poolId} is being deleted.\n`);
      }),
    );
}
