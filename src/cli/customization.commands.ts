/**
 * `mks customization get|set|edit`: read the customization, change it with the flags of
 * `customization-flags.ts`, or edit it as YAML in $EDITOR.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { parse, stringify } from 'yaml';
import type { HistoryEntry } from '../clusters/customization-history.ts';
import {
  type CustomizationInput,
  type CustomizationView,
  customizationSchema,
} from '../customization/customization.model.ts';
import {
  customizationView,
  normalizeCustomization,
  validateCustomization,
} from '../customization/customization.ts';
import type { CustomizationPreview, Disruption } from '../customization/preview.ts';
import {
  action,
  type CliContext,
  CliError,
  type CommonOptions,
  createContext,
  report,
  timeoutMs,
  usageError,
  type WaitFlags,
  withConnection,
  withOutput,
  withWait,
} from './cli-context.ts';
import {
  type CustomizationFlags,
  customizationFromFlags,
  withCustomizationFlags,
} from './customization-flags.ts';
import { fields, flatten, render, table } from './output.ts';
import { type WaitGoal, waitForCluster } from './wait.ts';

export function customizationPrintable(view: CustomizationView) {
  return {
    data: view,
    ids: [] as string[],
    table: () => customizationTable(view),
  };
}

export function customizationTable(view: CustomizationView | null): string {
  const flat = [...flatten(view ?? {})];
  if (flat.length === 0) return '(no customization)';
  return fields(flat);
}

interface CustomizationCommandOptions extends CommonOptions, WaitFlags {}

export function registerCustomizationCommands(program: Command): void {
  const group = program
    .command('customization')
    .description("read and change a cluster's customization (kube-proxy, API-server admission plugins)")
    .addHelpText(
      'after',
      `
Examples:
  mks customization get $ID
  mks customization set $ID --iptables-min-sync-period PT60S --iptables-sync-period PT60S --wait
  mks customization edit $ID
  mks customization history $ID
  mks customization revert $ID 3 --wait`,
    );
  registerGet(group);
  registerSet(group);
  registerEdit(group);
  registerHistory(group);
  registerRevert(group);
}

function registerHistory(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('history')
        .description('every change of the cluster, newest first: who, when, what changed, how it ended')
        .argument('<cluster>', 'cluster id'),
    ),
  )
    .addHelpText(
      'after',
      `
-q prints the generations only; -o json adds each change's full customization.

Examples:
  mks customization history $ID
  mks customization history $ID -o json | jq '.[0].outcome'`,
    )
    .action(
      action(async (id: string, options: CommonOptions) => {
        const context = createContext(options);
        const entries = await context.client.customizationHistory(await context.project(), id);
        context.io.stdout(
          render(
            {
              data: entries,
              ids: entries.map((entry) => String(entry.generation)),
              table: () => historyTable(entries),
            },
            context.format,
            context.quiet,
          ),
        );
      }),
    );
}

function registerRevert(group: Command): void {
  withWait(
    withOutput(
      withConnection(
        group
          .command('revert')
          .description("make an earlier generation's customization the desired one again (a new generation)")
          .argument('<cluster>', 'cluster id')
          .argument('<generation>', 'a generation listed by `mks customization history`'),
      ),
    ),
    'the change is rolled out',
  )
    .addHelpText(
      'after',
      `
The kube-proxy mode stays the cluster's (only a reset changes it).

Examples:
  mks customization revert $ID 3 --wait`,
    )
    .action(
      action(async (id: string, generation: string, options: CustomizationCommandOptions) => {
        if (!/^[1-9]\d*$/.test(generation)) {
          throw usageError(
            `generation: '${generation}' is not a generation number (see mks customization history)`,
          );
        }
        const context = createContext(options);
        const project = await context.project();
        await applyChange(context, project, id, options, () =>
          context.client.revertCustomization(project, id, Number(generation)),
        );
      }),
    );
}

/** The history for people: one line per change, its field changes summarized. */
export function historyTable(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return '(no history)';
  return table(
    ['generation', 'action', 'at', 'by', 'outcome', 'changes'],
    entries.map((entry) => [
      String(entry.generation),
      // A revert's restored generation, or the one a rollback's nodes went back to.
      (entry.revertOf ?? entry.rolledBackTo) === null
        ? entry.action
        : `${entry.action} to ${entry.revertOf ?? entry.rolledBackTo}`,
      entry.at,
      entry.applicationName ?? (entry.applicationId === null ? '-' : `application ${entry.applicationId}`),
      entry.outcome === null
        ? '-'
        : entry.outcome.message === null
          ? entry.outcome.status
          : `${entry.outcome.status}: ${entry.outcome.message}`,
      entry.diff.length === 0
        ? '(none)'
        : entry.diff
            .map((change) => `${change.field}: ${change.from ?? '-'} → ${change.to ?? '-'}`)
            .join('; '),
    ]),
  );
}

function registerGet(group: Command): void {
  withOutput(
    withConnection(
      group
        .command('get')
        .description('print the customization as the API echoes it')
        .argument('<cluster>', 'cluster id'),
    ),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  mks customization get $ID\n  mks customization get $ID -o json | jq .kubeProxy',
    )
    .action(
      action(async (id: string, options: CommonOptions) => {
        const context = createContext(options);
        const view = await context.client.getCustomization(await context.project(), id);
        context.io.stdout(render(customizationPrintable(view), context.format, context.quiet));
      }),
    );
}

function registerSet(group: Command): void {
  withWait(
    withCustomizationFlags(
      withOutput(
        withConnection(
          group
            .command('set')
            .description(
              'change the customization: sections given (kubeProxy, apiServer) replace the stored ones, others are kept',
            )
            .argument('<cluster>', 'cluster id'),
        ),
      ),
    ),
    'the change is rolled out',
  )
    .addHelpText(
      'after',
      `
The API's rule: each top-level section sent replaces that section whole. Setting one kube-proxy
field therefore drops the other kube-proxy fields set before; apiServer is kept unless given.

Examples:
  mks customization set $ID --iptables-min-sync-period PT60S --iptables-sync-period PT60S --wait
  mks customization set $ID --admission-plugins-enabled '' --admission-plugins-disabled AlwaysPullImages
  mks customization set $ID --customization @customization.json -o json
  mks customization set $ID --customization '{"kubeProxy": null}'    # back to kube-proxy's defaults
  mks customization set $ID --ipvs-scheduler lc --dry-run   # effective values, config.conf diff, disruption`,
    )
    .option(
      '--dry-run',
      'preview the change: every effective kube-proxy value, the config.conf diff and the disruption; nothing is changed (exit 1 if it would be refused)',
    )
    .action(
      action(
        async (
          id: string,
          options: CustomizationCommandOptions & CustomizationFlags & { dryRun?: boolean },
        ) => {
          const patch = customizationFromFlags(options);
          if (patch === undefined) {
            throw usageError('nothing to set: give customization flags or --customization (see --help)');
          }
          if (options.dryRun === true && options.wait === true) {
            throw usageError('--dry-run changes nothing, so there is nothing to --wait for');
          }
          const context = createContext(options);
          const project = await context.project();
          if (options.dryRun === true) {
            showPreview(context, await context.client.previewCustomization(project, id, patch));
            return;
          }
          await applyCustomization(context, project, id, patch, options);
        },
      ),
    );
}

function registerEdit(group: Command): void {
  withWait(
    withOutput(
      withConnection(
        group
          .command('edit')
          .description(
            'edit the customization in $EDITOR; it is validated and the changes shown before sending',
          )
          .argument('<cluster>', 'cluster id'),
      ),
    ),
    'the change is rolled out',
  )
    .addHelpText(
      'after',
      `
Opens the current customization as YAML in $VISUAL or $EDITOR (default vi). Saving an unchanged
file cancels. An invalid file is refused before anything is sent, and kept for another try; so is
an edit the API refuses (the error says where). An edit sent, or cancelled, leaves no file behind.

Examples:
  mks customization edit $ID
  EDITOR=nano mks customization edit $ID --wait`,
    )
    .action(
      action(async (id: string, options: CustomizationCommandOptions) => {
        const context = createContext(options);
        const project = await context.project();
        const current = await context.client.getCustomization(project, id);
        const edited = editInEditor(id, current);
        if (edited === undefined) {
          context.io.stderr('Edit cancelled, no changes made.\n');
          context.io.stdout(render(customizationPrintable(current), context.format, context.quiet));
          return;
        }
        const { patch, changes } = diffCustomization(current, edited.value);
        if (changes.length === 0) {
          removeEdit(edited.file);
          context.io.stderr('Edit cancelled, no changes made.\n');
          context.io.stdout(render(customizationPrintable(current), context.format, context.quiet));
          return;
        }
        context.io.stderr(`Changes to the customization of cluster ${id}:\n${changes.join('\n')}\n`);
        let accepted = false;
        try {
          await applyChange(context, project, id, options, async () => {
            const answer = await context.client.updateCustomization(project, id, patch);
            // Accepted: the edit is the cluster's now, whatever the wait after it meets.
            accepted = true;
            removeEdit(edited.file);
            return answer;
          });
        } catch (error) {
          if (accepted) throw error;
          // Refused: kept for another try, as an edit refused before sending is (and as kubectl
          // edit does).
          const code = report(error, context.io.stderr);
          context.io.stderr(`Your edit is kept in ${edited.file}\n`);
          throw new CliError('', code);
        }
      }),
    );
}

const DISRUPTIONS: Record<Disruption, string> = {
  none: 'none (kube-proxy keeps its config)',
  'rolling-restart': 'rolling-restart (kube-proxy restarts node by node)',
  'reset-required': "reset-required (the cluster's Kubernetes data is erased and kube-proxy reinstalled)",
};

/** Prints a preview (a customization change's or a reset's); one that would be refused exits 1. */
export function showPreview(context: CliContext, preview: CustomizationPreview): void {
  context.io.stdout(
    render({ data: preview, ids: [], table: () => previewTable(preview) }, context.format, context.quiet),
  );
  if (!preview.valid) throw new CliError(`the change would be refused: ${preview.errors.join('; ')}`);
}

/** A preview for people: verdict, disruption, the mode's effective values, then the diff. */
export function previewTable(preview: CustomizationPreview): string {
  const lines: Array<[string, string]> = [['Valid', preview.valid ? 'yes' : 'no']];
  for (const error of preview.errors) lines.push(['Error', error]);
  for (const warning of preview.warnings) lines.push(['Warning', warning]);
  if (preview.disruption !== null) lines.push(['Disruption', DISRUPTIONS[preview.disruption]]);
  const kubeProxy = preview.effective?.kubeProxy;
  if (kubeProxy !== undefined) {
    lines.push(['Mode', kubeProxy.mode]);
    for (const [field, value] of Object.entries(kubeProxy[kubeProxy.mode])) {
      const how = value.defaulted
        ? value.set === undefined
          ? 'default'
          : `default; ${value.set} means default`
        : `set ${value.set}`;
      lines.push([`kubeProxy.${kubeProxy.mode}.${field}`, `${value.value} (${how})`]);
    }
  }
  const diff = preview.configConf.diff;
  return `${fields(lines)}\n${diff === null ? '' : diff === '' ? '\nconfig.conf unchanged\n' : `\n${diff}`}`;
}

/** PUT the patch, say what the API answered, optionally wait, print the resulting customization. */
function applyCustomization(
  context: CliContext,
  project: string,
  id: string,
  patch: CustomizationInput,
  options: WaitFlags,
): Promise<void> {
  return applyChange(context, project, id, options, () =>
    context.client.updateCustomization(project, id, patch),
  );
}

/** Make a change, say what the API answered, optionally wait, print the resulting customization. */
async function applyChange(
  context: CliContext,
  project: string,
  id: string,
  options: WaitFlags,
  send: () => Promise<{ message?: string }>,
): Promise<void> {
  const answer = await send();
  if (answer.message !== undefined && answer.message !== '') context.io.stderr(`${answer.message}\n`);
  if (options.wait === true) {
    await waitForCluster({
      client: context.client,
      project,
      clusterId: id,
      goal: 'ready' satisfies WaitGoal,
      io: context.io,
      timeoutMs: timeoutMs(options),
    });
  } else {
    context.io.stderr(`Follow the rollout with: mks cluster get ${id} (or pass --wait)\n`);
  }
  const view = await context.client.getCustomization(project, id);
  context.io.stdout(render(customizationPrintable(view), context.format, context.quiet));
}

const EDIT_HEADER = `# Edit the customization below, save and quit to apply it; save it unchanged to cancel.
# Sections: apiServer.admissionPlugins.{enabled,disabled}; kubeProxy.iptables.{minSyncPeriod,
# syncPeriod}; kubeProxy.ipvs.{minSyncPeriod,syncPeriod,scheduler,tcpTimeout,tcpFinTimeout,
# udpTimeout}. Durations are ISO 8601 (PT30S, PT1M30S). Remove a field to go back to its default.
`;

/** Runs the editor on a temp file; undefined when saved unchanged. Invalid files keep it and fail. */
function editInEditor(id: string, current: CustomizationView): { value: unknown; file: string } | undefined {
  const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mks-edit-'));
  const file = path.join(dir, `customization-${id}.yaml`);
  const original = `${EDIT_HEADER}${stringify(current)}`;
  fs.writeFileSync(file, original, { mode: 0o600 });
  // Through the shell, as git does: EDITOR may carry arguments (`code --wait`).
  const result = spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit' });
  if (result.error !== undefined || result.status !== 0) {
    throw new CliError(
      `the editor (${editor}) failed${result.status === null ? '' : ` with exit code ${result.status}`}; nothing was sent`,
    );
  }
  const text = fs.readFileSync(file, 'utf8');
  if (text === original) {
    removeEdit(file);
    return undefined;
  }
  let value: unknown;
  try {
    value = parse(text) ?? {};
  } catch (error) {
    throw new CliError(
      `${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}; nothing was sent`,
    );
  }
  const problems = checkShape(value, customizationSchema, 'customization');
  if (problems.length === 0) {
    try {
      validateCustomization(normalizeCustomization(value as CustomizationInput));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new CliError(`${problems.join('; ')}\nNothing was sent; your edit is kept in ${file}`);
  }
  return { value, file };
}

/** Removes an edit's file and the temporary directory made for it alone. */
function removeEdit(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
}

interface SchemaNode {
  type?: string | readonly string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  enum?: readonly unknown[];
}

/** Unknown fields, wrong types and values outside the enums, with their paths (as the API says). */
function checkShape(value: unknown, schema: SchemaNode, at: string): string[] {
  const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type);
  if (value === null) return types.includes('null') ? [] : [`${at}: must not be null`];
  const actual = Array.isArray(value) ? 'array' : typeof value;
  if (types.length > 0 && !types.includes(actual))
    return [`${at}: must be ${types.filter((t) => t !== 'null').join(' or ')}`];
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    return [
      `${at}: ${JSON.stringify(value)} is not one of ${schema.enum.filter((v) => v !== null).join(', ')}`,
    ];
  }
  if (actual === 'array' && schema.items !== undefined) {
    return (value as unknown[]).flatMap((item, index) => checkShape(item, schema.items!, `${at}[${index}]`));
  }
  if (actual === 'object' && schema.properties !== undefined) {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => {
      const property = schema.properties![key];
      if (property === undefined) {
        return [`${at}.${key}: unknown field; allowed: ${Object.keys(schema.properties!).join(', ')}`];
      }
      return checkShape(child, property, `${at}.${key}`);
    });
  }
  return [];
}

/**
 * What an edit changes, field by field, and the smallest PUT body that makes it: only the
 * sections that differ are sent (sections sent replace, others are kept).
 */
export function diffCustomization(
  current: CustomizationView,
  edited: unknown,
): { patch: CustomizationInput; changes: string[] } {
  const wanted = customizationView(normalizeCustomization(edited as CustomizationInput));
  const before = flatten(current);
  const after = flatten(wanted);
  const changes: string[] = [];
  const changed = new Set<string>();
  for (const [key, value] of before) {
    if (after.get(key) === value) continue;
    changed.add(key);
    changes.push(after.has(key) ? `  ~ ${key}: ${value} → ${after.get(key)}` : `  - ${key}: ${value}`);
  }
  for (const [key, value] of after) {
    if (before.has(key)) continue;
    changed.add(key);
    changes.push(`  + ${key}: ${value}`);
  }
  const touches = (section: string) => [...changed].some((key) => key.startsWith(`${section}.`));
  const patch: CustomizationInput = {};
  if (touches('kubeProxy')) patch.kubeProxy = wanted.kubeProxy;
  if (touches('apiServer')) patch.apiServer = wanted.apiServer;
  return { patch, changes };
}
