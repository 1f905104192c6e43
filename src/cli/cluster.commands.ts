/** `mks cluster list|get|create|rename|delete|reset|kubeconfig|wait`: thin functions over MksClient. */
import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { parse } from 'yaml';
import type { Cluster, ClusterCreation, ClusterReset } from '../client/mks-client.ts';
import { KUBE_PROXY_MODES, type KubeProxyMode } from '../customization/customization.model.ts';
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
import { customizationTable, showPreview } from './customization.commands.ts';
import {
  type CustomizationFlags,
  customizationFromFlags,
  withCustomizationFlags,
} from './customization-flags.ts';
import { defaultKubeconfig, type KubeconfigFile, mergeKubeconfig, safeName } from './kubeconfig-file.ts';
import { fields, render, table } from './output.ts';
import { registerRollout } from './rollout.commands.ts';
import { waitForCluster } from './wait.ts';

type Options = CommonOptions & WaitFlags;

interface SpecFlags extends CustomizationFlags {
  name?: string;
  version?: string;
  kubeProxyMode?: KubeProxyMode;
  nodes?: string;
}

export function clusterPrintable(cluster: Cluster) {
  return { data: cluster, ids: [cluster.id], table: () => clusterDetails(cluster) };
}

function clusterDetails(cluster: Cluster): string {
  const status =
    cluster.statusMessage === null || cluster.statusMessage === undefined
      ? cluster.status
      : `${cluster.status}: ${cluster.statusMessage}`;
  const customization = customizationTable(cluster.customization)
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  return [
    fields([
      ['ID', cluster.id],
      ['Name', cluster.name],
      ['Region', cluster.region],
      ['Version', cluster.version],
      ['Status', status],
      ['Kube-proxy mode', cluster.kubeProxyMode],
      ['Update policy', cluster.updatePolicy],
      ['URL', cluster.url],
      ['Created', cluster.createdAt],
      ['Updated', cluster.updatedAt],
    ]),
    'Customization:',
    customization,
  ].join('\n');
}

function listTable(clusters: Cluster[]): string {
  if (clusters.length === 0) return 'No clusters.';
  return table(
    ['id', 'name', 'region', 'version', 'kube-proxy', 'status'],
    clusters.map((c) => [c.id, c.name, c.region, c.version, c.kubeProxyMode, c.status]),
  );
}

function withSpecFlags(command: Command, what: string): Command {
  return withCustomizationFlags(
    command
      .option('--name <name>', `cluster name${what}`)
      .option('--version <minor>', 'Kubernetes minor version, e.g. 1.31 (default: the newest)')
      .addOption(new Option('--kube-proxy-mode <mode>', 'iptables or ipvs').choices(KUBE_PROXY_MODES))
      .option('--nodes <count>', 'number of worker nodes (the initial node pool)'),
  );
}

function specBody(flags: SpecFlags): ClusterReset {
  const customization = customizationFromFlags(flags);
  let nodes: number | undefined;
  if (flags.nodes !== undefined) {
    nodes = Number(flags.nodes);
    if (!Number.isInteger(nodes) || nodes < 0)
      throw usageError(`--nodes: '${flags.nodes}' is not a node count`);
  }
  return {
    ...(flags.name === undefined ? {} : { name: flags.name }),
    ...(flags.version === undefined ? {} : { version: flags.version }),
    ...(flags.kubeProxyMode === undefined ? {} : { kubeProxyMode: flags.kubeProxyMode }),
    ...(customization === undefined ? {} : { customization }),
    ...(nodes === undefined ? {} : { nodepool: { desiredNodes: nodes } }),
  };
}

async function waitReady(context: CliContext, project: string, id: string, options: WaitFlags) {
  return (await waitForCluster({
    client: context.client,
    project,
    clusterId: id,
    goal: 'ready',
    io: context.io,
    timeoutMs: timeoutMs(options),
  }))!;
}

/** Prints the cluster after a change: once READY with `--wait`, else as it is now. */
async function showCluster(context: CliContext, project: string, id: string, options: Options) {
  const cluster =
    options.wait === true
      ? await waitReady(context, project, id, options)
      : await context.client.getCluster(project, id);
  context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
}

export function registerClusterCommands(program: Command): void {
  const group = program
    .command('cluster')
    .description('create, inspect, reset and delete clusters')
    .addHelpText(
      'after',
      `
Examples:
  mks cluster list
  mks cluster create --region GRA5 --name my-super-cluster --kube-proxy-mode ipvs --wait
  mks cluster kubeconfig $ID --merge && kubectl get nodes
  mks cluster rollout $ID`,
    );
  registerList(group);
  registerGet(group);
  registerCreate(group);
  registerRename(group);
  registerDelete(group);
  registerReset(group);
  registerKubeconfig(group);
  registerWait(group);
  registerUpgrade(group);
  registerRestart(group);
  registerEtcdUsage(group);
  registerIpRestrictions(group);
  registerRollout(group);
}

function registerUpgrade(group: Command): void {
  withWait(
    withOutput(
      withConnection(
        group
          .command('upgrade')
          .description('upgrade the Kubernetes version (UPDATING: nodes replaced one by one, then READY)')
          .argument('<cluster>', 'cluster id')
          .addOption(
            new Option('--strategy <strategy>', 'NEXT_MINOR (the next minor) or LATEST_PATCH')
              .choices(['NEXT_MINOR', 'LATEST_PATCH'])
              .default('NEXT_MINOR'),
          ),
      ),
    ),
    'the cluster is READY on the new version',
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks cluster upgrade $ID --wait\n  mks cluster get $ID -o json | jq .nextUpgradeVersions',
    )
    .action(
      action(async (id: string, options: Options & { strategy: 'NEXT_MINOR' | 'LATEST_PATCH' }) => {
        const context = createContext(options);
        const project = await context.project();
        await context.client.upgradeCluster(project, id, options.strategy);
        await showCluster(context, project, id, options);
      }),
    );
}

function registerRestart(group: Command): void {
  withWait(
    withOutput(
      withConnection(
        group
          .command('restart')
          .description(
            "restart the cluster's control plane (REDEPLOYING, then READY): watches end, objects are kept",
          )
          .argument('<cluster>', 'cluster id')
          .option('--force', 'restart even while the cluster is not READY'),
      ),
    ),
    'the cluster is READY again',
  )
    .addHelpText('after', '\nExamples:\n  mks cluster restart $ID --wait\n  mks cluster restart $ID --force')
    .action(
      action(async (id: string, options: Options & { force?: boolean }) => {
        const context = createContext(options);
        const project = await context.project();
        await context.client.restartCluster(project, id, options.force === true);
        await showCluster(context, project, id, options);
      }),
    );
}

function registerEtcdUsage(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('etcd-usage')
        .description("how much of its etcd quota the cluster's objects take (bytes)")
        .argument('<cluster>', 'cluster id'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  mks cluster etcd-usage $ID\n  mks cluster etcd-usage $ID -o json')
    .action(
      action(async (id: string, options: Options) => {
        const context = createContext(options);
        const project = await context.project();
        const usage = await context.client.getEtcdUsage(project, id);
        const percent = usage.quota > 0 ? ((100 * usage.usage) / usage.quota).toFixed(1) : '-';
        const printable = {
          data: usage,
          ids: [String(usage.usage)],
          table: () =>
            fields([
              ['Usage', `${usage.usage} bytes (${percent}%)`],
              ['Quota', `${usage.quota} bytes`],
            ]),
        };
        context.io.stdout(render(printable, context.format, context.quiet));
      }),
    );
}

function registerIpRestrictions(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('ip-restrictions')
        .description("show or change the IP blocks allowed on the cluster's Kubernetes API (none: all)")
        .argument('<cluster>', 'cluster id')
        .option('--set <blocks>', 'replace the list (comma-separated; "" allows every address)')
        .option('--add <blocks>', 'add blocks (comma-separated)')
        .option('--remove <block>', 'remove one block'),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks cluster ip-restrictions $ID\n  mks cluster ip-restrictions $ID --set 203.0.113.0/24,198.51.100.7\n  mks cluster ip-restrictions $ID --remove 198.51.100.7',
    )
    .action(
      action(async (id: string, options: Options & { set?: string; add?: string; remove?: string }) => {
        const context = createContext(options);
        const project = await context.project();
        const list = (text: string) =>
          text
            .split(',')
            .map((ip) => ip.trim())
            .filter((ip) => ip !== '');
        if (options.set !== undefined)
          await context.client.setIpRestrictions(project, id, list(options.set), 'replace');
        if (options.add !== undefined)
          await context.client.setIpRestrictions(project, id, list(options.add), 'add');
        if (options.remove !== undefined)
          await context.client.deleteIpRestriction(project, id, options.remove);
        const ips = await context.client.getIpRestrictions(project, id);
        context.io.stdout(
          render(
            {
              data: ips,
              ids: ips,
              table: () =>
                ips.length === 0 ? 'No IP restrictions: every address is allowed.' : ips.join('\n'),
            },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

function registerList(group: Command): void {
  withOutput(withConnection(group.command('list').description("list the project's clusters")))
    .addHelpText(
      'after',
      '\nExamples:\n  mks cluster list\n  mks cluster list -q          # ids only\n  mks cluster list -o json | jq -r ".[].name"',
    )
    .action(
      action(async (options: Options) => {
        const context = createContext(options);
        const clusters = await context.client.listClusters(await context.project());
        context.io.stdout(
          render(
            { data: clusters, ids: clusters.map((c) => c.id), table: () => listTable(clusters) },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

function registerGet(group: Command): void {
  withOutput(
    withConnection(group.command('get').description('show a cluster').argument('<cluster>', 'cluster id')),
  )
    .addHelpText('after', '\nExamples:\n  mks cluster get $ID\n  mks cluster get $ID -o json | jq -r .status')
    .action(
      action(async (id: string, options: Options) => {
        const context = createContext(options);
        const cluster = await context.client.getCluster(await context.project(), id);
        context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
      }),
    );
}

function registerCreate(group: Command): void {
  withWait(
    withSpecFlags(
      withOutput(
        withConnection(
          group
            .command('create')
            .description('create a cluster (INSTALLING, then READY)')
            .requiredOption('--region <region>', 'region (see `mks capabilities regions`)'),
        ),
      ),
      '',
    ),
    'the cluster is READY',
  )
    .addHelpText(
      'after',
      `
Examples:
  mks cluster create --region GRA5 --name my-super-cluster --kube-proxy-mode ipvs \\
    --iptables-min-sync-period PT1S --iptables-sync-period PT30S --ipvs-scheduler rr --wait
  mks cluster create --region GRA5 --customization @customization.json -q
  ID=$(mks cluster create --region GRA5 --wait -o json | jq -r .id)`,
    )
    .action(
      action(async (options: Options & SpecFlags & { region: string }) => {
        const context = createContext(options);
        const project = await context.project();
        const body: ClusterCreation = { region: options.region, ...specBody(options) };
        let cluster = await context.client.createCluster(project, body);
        if (options.wait === true) cluster = await waitReady(context, project, cluster.id, options);
        else
          context.io.stderr(
            `Cluster ${cluster.id} is ${cluster.status}; follow it with: mks cluster get ${cluster.id}\n`,
          );
        context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
      }),
    );
}

function registerRename(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('rename')
        .description('rename a cluster')
        .argument('<cluster>', 'cluster id')
        .argument('<name>', 'new name'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  mks cluster rename $ID production')
    .action(
      action(async (id: string, name: string, options: Options) => {
        const context = createContext(options);
        const project = await context.project();
        await context.client.updateCluster(project, id, { name });
        const cluster = await context.client.getCluster(project, id);
        context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
      }),
    );
}

function registerDelete(group: Command): void {
  withWait(
    withOutput(
      withConnection(
        group
          .command('delete')
          .description('delete a cluster (DELETING, then gone)')
          .argument('<cluster>', 'cluster id'),
      ),
    ),
    'the cluster is gone',
  )
    .addHelpText('after', '\nExamples:\n  mks cluster delete $ID\n  mks cluster delete $ID --wait')
    .action(
      action(async (id: string, options: Options) => {
        const context = createContext(options);
        const project = await context.project();
        await context.client.deleteCluster(project, id);
        if (options.wait === true) {
          await waitForCluster({
            client: context.client,
            project,
            clusterId: id,
            goal: 'gone',
            io: context.io,
            timeoutMs: timeoutMs(options),
          });
          context.io.stdout(
            render(
              { data: { id, status: 'DELETED' }, ids: [id], table: () => `Cluster ${id} deleted.` },
              context.format,
              context.quiet,
            ),
          );
          return;
        }
        const cluster = await context.client.findCluster(project, id);
        context.io.stdout(
          render(
            cluster === undefined
              ? { data: { id, status: 'DELETED' }, ids: [id], table: () => `Cluster ${id} deleted.` }
              : { ...clusterPrintable(cluster), table: () => `Cluster ${id} is ${cluster.status}.` },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

function registerReset(group: Command): void {
  withWait(
    withSpecFlags(
      withOutput(
        withConnection(
          group
            .command('reset')
            .description(
              'reset a cluster: erase its Kubernetes data; what is not given resets to defaults (kube-proxy mode ipvs, no customization)',
            )
            .argument('<cluster>', 'cluster id'),
        ),
      ),
      ' (default: kept)',
    ),
    'the cluster is READY again',
  )
    .addHelpText(
      'after',
      `
Examples:
  mks cluster reset $ID --kube-proxy-mode iptables --wait
  mks cluster reset $ID --kube-proxy-mode ipvs --ipvs-scheduler lc --ipvs-tcp-timeout PT10S
  mks cluster reset $ID --kube-proxy-mode iptables --dry-run   # what changes, config.conf diff; nothing is reset`,
    )
    .option(
      '--dry-run',
      'preview the reset: the mode and version it changes, every effective kube-proxy value, the config.conf diff; nothing is changed (exit 1 if it would be refused)',
    )
    .action(
      action(async (id: string, options: Options & SpecFlags & { dryRun?: boolean }) => {
        if (options.dryRun === true && options.wait === true) {
          throw usageError('--dry-run changes nothing, so there is nothing to --wait for');
        }
        const context = createContext(options);
        const project = await context.project();
        if (options.dryRun === true) {
          showPreview(context, await context.client.previewReset(project, id, specBody(options)));
          return;
        }
        await context.client.resetCluster(project, id, specBody(options));
        let cluster: Cluster;
        if (options.wait === true) cluster = await waitReady(context, project, id, options);
        else {
          cluster = await context.client.getCluster(project, id);
          context.io.stderr(`Cluster ${id} is ${cluster.status}; follow it with: mks cluster get ${id}\n`);
        }
        context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
      }),
    );
}

function registerKubeconfig(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('kubeconfig')
        .description("write a kubeconfig for the cluster's Kubernetes API (or merge it into ~/.kube/config)")
        .argument('<cluster>', 'cluster id')
        .option('--file <path>', "where to write it ('-' for stdout; default ./kubeconfig-<name>.yaml)")
        .option(
          '--merge',
          "merge it into $KUBECONFIG's first file or ~/.kube/config, and make it the current context",
        ),
    ),
  )
    .addHelpText(
      'after',
      `
Examples:
  mks cluster kubeconfig $ID && kubectl --kubeconfig kubeconfig-my-super-cluster.yaml get nodes
  mks cluster kubeconfig $ID --merge && kubectl get cm kube-proxy -n kube-system -o yaml
  mks cluster kubeconfig $ID --file - > config.yaml`,
    )
    .action(
      action(async (id: string, options: Options & { file?: string; merge?: boolean }) => {
        if (options.merge === true && options.file !== undefined) {
          throw usageError('--merge and --file are exclusive: --merge writes to ~/.kube/config');
        }
        const context = createContext(options);
        const project = await context.project();
        const content = await context.client.getKubeconfig(project, id);
        if (options.file === '-') {
          context.io.stdout(content);
          return;
        }
        const config = parse(content) as KubeconfigFile;
        const contextName = config['current-context'] ?? '';
        let file: string;
        if (options.merge === true) {
          file = defaultKubeconfig();
          mergeKubeconfig(file, config);
          context.io.stderr(
            `Merged into ${file}; current context is now ${contextName}. Try: kubectl get nodes\n`,
          );
        } else {
          const cluster = await context.client.getCluster(project, id);
          file = path.resolve(
            options.file ?? `kubeconfig-${safeName(cluster.name === '' ? id : cluster.name)}.yaml`,
          );
          fs.writeFileSync(file, content, { mode: 0o600 });
          fs.chmodSync(file, 0o600);
          context.io.stderr(`Wrote ${file}. Try: kubectl --kubeconfig ${file} get nodes\n`);
        }
        context.io.stdout(
          render(
            { data: { file, context: contextName }, ids: [file], table: () => file },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

function registerWait(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('wait')
        .description('wait until a cluster is READY (exit 1 if it ends in ERROR)')
        .argument('<cluster>', 'cluster id'),
    ),
  )
    .addOption(new Option('--timeout <seconds>', 'give up after this long (exit 1)').default('1800'))
    .addHelpText('after', '\nExamples:\n  mks cluster wait $ID && kubectl get nodes')
    .action(
      action(async (id: string, options: Options) => {
        const context = createContext(options);
        const cluster = await waitReady(context, await context.project(), id, options);
        context.io.stdout(render(clusterPrintable(cluster), context.format, context.quiet));
      }),
    );
}
