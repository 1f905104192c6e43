/**
 * The customization flags `customization set` and `cluster create|reset` share: one flag per API
 * field (`--iptables-sync-period PT30S`, `--ipvs-scheduler rr`, `--admission-plugins-disabled
 * AlwaysPullImages`…) or a whole `--customization JSON|@file`, and the customization they describe.
 */
import { type Command, Option } from 'commander';
import {
  ADMISSION_PLUGINS,
  type CustomizationInput,
  IPVS_SCHEDULERS,
} from '../customization/customization.model.ts';
import { readJsonArgument, usageError } from './cli-context.ts';

export interface CustomizationFlags {
  customization?: string;
  iptablesMinSyncPeriod?: string;
  iptablesSyncPeriod?: string;
  ipvsMinSyncPeriod?: string;
  ipvsSyncPeriod?: string;
  ipvsScheduler?: string;
  ipvsTcpTimeout?: string;
  ipvsTcpFinTimeout?: string;
  ipvsUdpTimeout?: string;
  admissionPluginsEnabled?: string;
  admissionPluginsDisabled?: string;
}

const GROUP = 'Customization options (ISO 8601 durations, e.g. PT30S, PT1M30S):';

/** The flags that map 1:1 to `customization.kubeProxy.*` fields. */
const KUBE_PROXY_FLAGS = [
  ['iptablesMinSyncPeriod', 'iptables', 'minSyncPeriod', '--iptables-min-sync-period <duration>'],
  ['iptablesSyncPeriod', 'iptables', 'syncPeriod', '--iptables-sync-period <duration>'],
  ['ipvsMinSyncPeriod', 'ipvs', 'minSyncPeriod', '--ipvs-min-sync-period <duration>'],
  ['ipvsSyncPeriod', 'ipvs', 'syncPeriod', '--ipvs-sync-period <duration>'],
  ['ipvsScheduler', 'ipvs', 'scheduler', '--ipvs-scheduler <name>'],
  ['ipvsTcpTimeout', 'ipvs', 'tcpTimeout', '--ipvs-tcp-timeout <duration>'],
  ['ipvsTcpFinTimeout', 'ipvs', 'tcpFinTimeout', '--ipvs-tcp-fin-timeout <duration>'],
  ['ipvsUdpTimeout', 'ipvs', 'udpTimeout', '--ipvs-udp-timeout <duration>'],
] as const;

const DESCRIPTIONS: Record<(typeof KUBE_PROXY_FLAGS)[number][0], string> = {
  iptablesMinSyncPeriod: 'kubeProxy.iptables.minSyncPeriod (kube-proxy default PT1S)',
  iptablesSyncPeriod: 'kubeProxy.iptables.syncPeriod (kube-proxy default PT30S)',
  ipvsMinSyncPeriod: 'kubeProxy.ipvs.minSyncPeriod (kube-proxy default PT0S)',
  ipvsSyncPeriod: 'kubeProxy.ipvs.syncPeriod (kube-proxy default PT30S)',
  ipvsScheduler: 'kubeProxy.ipvs.scheduler',
  ipvsTcpTimeout: 'kubeProxy.ipvs.tcpTimeout (PT0S, or PT5S and more)',
  ipvsTcpFinTimeout: 'kubeProxy.ipvs.tcpFinTimeout',
  ipvsUdpTimeout: 'kubeProxy.ipvs.udpTimeout',
};

export function withCustomizationFlags(command: Command): Command {
  command.addOption(
    new Option(
      '--customization <json>',
      'the whole customization: JSON text or @file (flags below override its fields)',
    ).helpGroup(GROUP),
  );
  for (const [name, , , flags] of KUBE_PROXY_FLAGS) {
    const option = new Option(flags, DESCRIPTIONS[name]).helpGroup(GROUP);
    if (name === 'ipvsScheduler') option.choices(IPVS_SCHEDULERS);
    command.addOption(option);
  }
  return command
    .addOption(
      new Option(
        '--admission-plugins-enabled <list>',
        `apiServer.admissionPlugins.enabled, comma-separated (${ADMISSION_PLUGINS.join(', ')}; '' for none)`,
      ).helpGroup(GROUP),
    )
    .addOption(
      new Option(
        '--admission-plugins-disabled <list>',
        "apiServer.admissionPlugins.disabled, comma-separated ('' for none)",
      ).helpGroup(GROUP),
    );
}

const list = (value: string) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

/**
 * The customization the flags describe, or undefined when none is given. With `--customization`,
 * its sections are the base and flags override single fields; without it, a section appears only
 * if one of its flags is given (so `customization set` replaces only that section).
 */
export function customizationFromFlags(flags: CustomizationFlags): CustomizationInput | undefined {
  let base: CustomizationInput | undefined;
  if (flags.customization !== undefined) {
    const parsed = readJsonArgument(flags.customization, '--customization');
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw usageError('--customization must be a JSON object');
    }
    base = (parsed ?? {}) as CustomizationInput;
  }
  let result: CustomizationInput | undefined = base === undefined ? undefined : structuredClone(base);
  for (const [name, section, field] of KUBE_PROXY_FLAGS) {
    const value = flags[name];
    if (value === undefined) continue;
    result ??= {};
    result.kubeProxy ??= {};
    result.kubeProxy[section] ??= {};
    (result.kubeProxy[section] as Record<string, string>)[field] = value;
  }
  const enabled = flags.admissionPluginsEnabled;
  const disabled = flags.admissionPluginsDisabled;
  if (enabled !== undefined || disabled !== undefined) {
    result ??= {};
    result.apiServer ??= {};
    result.apiServer.admissionPlugins ??= {};
    const plugins = result.apiServer.admissionPlugins;
    if (enabled !== undefined) plugins.enabled = list(enabled);
    if (disabled !== undefined) plugins.disabled = list(disabled);
  }
  return result;
}
