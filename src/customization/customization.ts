/**
 * The customization rules, as pure functions: normalizing what clients send, validating it with
 * kube-proxy's and OVH's semantics, the PUT merge rule, the echo, and the admission-plugin flags.
 */

import { invalid } from '../errors.ts';
import { excerpt } from '../excerpt.ts';
import {
  ADMISSION_PLUGINS,
  type AdmissionPlugin,
  type AdmissionPluginsSettings,
  type Customization,
  type CustomizationInput,
  type CustomizationView,
  DEFAULT_ENABLED_PLUGINS,
  IPVS_SCHEDULERS,
  type IpvsSettings,
  type KubeProxyMode,
  type KubeProxySettings,
} from './customization.model.ts';
import { DurationError, formatGoDuration, parseIsoDuration } from './duration.ts';

type IptablesInput = NonNullable<NonNullable<CustomizationInput['kubeProxy']>['iptables']>;
type IpvsInput = NonNullable<NonNullable<CustomizationInput['kubeProxy']>['ipvs']>;

// Field orders follow OVH's responses (alphabetical), so echoes and renders are deterministic.
export const IPTABLES_FIELDS = ['minSyncPeriod', 'syncPeriod'] as const;
export const IPVS_FIELDS = [
  'minSyncPeriod',
  'scheduler',
  'syncPeriod',
  'tcpFinTimeout',
  'tcpTimeout',
  'udpTimeout',
] as const;

/** Copies the set (non-null) fields in a fixed order; undefined when none is set. */
function pick<K extends string>(
  source: Partial<Record<K, string | null>> | null | undefined,
  fields: readonly K[],
): Partial<Record<K, string>> | undefined {
  if (source === null || source === undefined) return undefined;
  const out: Partial<Record<K, string>> = {};
  let any = false;
  for (const field of fields) {
    const value = source[field];
    if (value !== null && value !== undefined) {
      out[field] = value;
      any = true;
    }
  }
  return any ? out : undefined;
}

function normalizeKubeProxy(input: CustomizationInput['kubeProxy']): KubeProxySettings | undefined {
  if (input === null || input === undefined) return undefined;
  const iptables = pick<keyof IptablesInput>(input.iptables, IPTABLES_FIELDS);
  // The scheduler is narrowed unchecked: validateCustomization reports unknown names.
  const ipvs = pick<keyof IpvsInput>(input.ipvs, IPVS_FIELDS) as IpvsSettings | undefined;
  if (iptables === undefined && ipvs === undefined) return undefined;
  return { ...(iptables && { iptables }), ...(ipvs && { ipvs }) };
}

function normalizeApiServer(input: CustomizationInput['apiServer']): Customization['apiServer'] {
  const plugins = input?.admissionPlugins;
  if (plugins === null || plugins === undefined) return undefined;
  const { enabled, disabled } = plugins;
  if ((enabled === null || enabled === undefined) && (disabled === null || disabled === undefined)) {
    return undefined;
  }
  // Names are narrowed unchecked: validateCustomization reports unknown ones.
  return {
    admissionPlugins: {
      enabled: [...(enabled ?? [])] as AdmissionPlugin[],
      disabled: [...(disabled ?? [])] as AdmissionPlugin[],
    },
  };
}

/**
 * Reduces a wire customization to what the user actually set: nulls and empty objects mean
 * "nothing set" (`"iptables": {}` included), duration strings are kept byte for byte.
 */
export function normalizeCustomization(input: CustomizationInput | null | undefined): Customization {
  const apiServer = normalizeApiServer(input?.apiServer);
  const kubeProxy = normalizeKubeProxy(input?.kubeProxy);
  return { ...(apiServer && { apiServer }), ...(kubeProxy && { kubeProxy }) };
}

// kube-proxy's v1alpha1 defaulting (spec/kube-proxy.md §2.2) tests `== 0`, so an explicit zero is
// replaced like an absent value, except for ipvs.minSyncPeriod which has no default.
const IPTABLES_DEFAULT_SYNC = 30n * 1_000_000_000n;
const IPTABLES_DEFAULT_MIN_SYNC = 1_000_000_000n;
const IPVS_DEFAULT_SYNC = 30n * 1_000_000_000n;

const IPVS_TCP_TIMEOUT_FLOOR = 5n * 1_000_000_000n;

const ISO_EXAMPLES = 'an ISO 8601 duration such as PT30S, PT1M30S, PT0.5S or P1D';

/** A sync period as kube-proxy will see it, and why, for messages. */
interface Effective {
  ns: bigint;
  /** What the user sent, or undefined when the field is not set. */
  given: string | undefined;
  /** True when kube-proxy replaces the value (absent, or a zero it treats as absent). */
  defaulted: boolean;
}

/**
 * A duration as kube-proxy will run it: `ns` parsed from `given` (undefined when not set), replaced
 * by `fallback` when absent or zero (v1alpha1 defaulting tests `== 0`); no fallback means 0.
 */
function effectiveDuration(
  given: string | undefined,
  ns: bigint | undefined,
  fallback: bigint | undefined,
): Effective {
  if (ns === undefined || (ns === 0n && fallback !== undefined)) {
    return { ns: fallback ?? 0n, given, defaulted: true };
  }
  return { ns, given, defaulted: false };
}

function describe(field: string, value: Effective): string {
  const go = formatGoDuration(value.ns);
  if (!value.defaulted) return `${field} ${JSON.stringify(value.given)} (${go})`;
  const why =
    value.given === undefined ? `${field} is not set` : `${JSON.stringify(value.given)} means "default"`;
  return `${field} ${go} (kube-proxy's default, as ${why})`;
}

/**
 * Checks a customization against OVH's enums and kube-proxy's rules on effective values, and
 * throws one `invalid()` that lists every problem, each with its full path, the value and what
 * is allowed, so a client can fix everything in one round trip.
 */
export function validateCustomization(c: Customization, field = 'customization'): void {
  const problems = customizationProblems(c, field);
  if (problems.length > 0) throw invalid(problems.join('; '));
}

/** The durations of one kube-proxy section that parsed, by field (a field set but refused is absent). */
type Parsed = { -readonly [K in (typeof IPVS_FIELDS)[number]]?: bigint };

// The checks are module functions, not closures made per call: a PUT validates on every request
// and, run under tsx, each named closure also costs a `__name` call. A valid customization builds
// no field path and no map keyed by one: those are made only for a problem's message
// (docs/performance.md).

/** Parses `value` into `parsed[name]`, or reports why it is not a duration. */
function checkDuration(
  problems: string[],
  parsed: Parsed,
  section: string,
  name: keyof Parsed,
  value: unknown,
): void {
  if (typeof value !== 'string') {
    problems.push(`${section}.${name}: ${excerpt(value)} must be a string, ${ISO_EXAMPLES}`);
    return;
  }
  try {
    parsed[name] = parseIsoDuration(value);
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    problems.push(
      `${section}.${name}: ${excerpt(value)} is not a valid duration (${error.message}); expected ${ISO_EXAMPLES}`,
    );
  }
}

/** kube-proxy's defaults of a section's sync periods (no `min`: no default, an unset one is 0). */
interface SyncDefaults {
  readonly min: bigint | undefined;
  readonly sync: bigint;
}

const IPTABLES_SYNC_DEFAULTS: SyncDefaults = { min: IPTABLES_DEFAULT_MIN_SYNC, sync: IPTABLES_DEFAULT_SYNC };
const IPVS_SYNC_DEFAULTS: SyncDefaults = { min: undefined, sync: IPVS_DEFAULT_SYNC };

/** minSyncPeriod ≤ syncPeriod after defaulting; reported on the field the user set. */
function checkSyncPair(
  problems: string[],
  section: string,
  settings: { minSyncPeriod?: string; syncPeriod?: string } | undefined,
  parsed: Parsed,
  defaults: SyncDefaults,
): void {
  if (settings?.minSyncPeriod !== undefined && parsed.minSyncPeriod === undefined) return;
  if (settings?.syncPeriod !== undefined && parsed.syncPeriod === undefined) return;
  const min = effectiveDuration(settings?.minSyncPeriod, parsed.minSyncPeriod, defaults.min);
  const sync = effectiveDuration(settings?.syncPeriod, parsed.syncPeriod, defaults.sync);
  if (min.ns <= sync.ns) return;
  if (!min.defaulted) {
    problems.push(
      `${section}.minSyncPeriod: ${JSON.stringify(min.given)} (${formatGoDuration(min.ns)}) is greater than the effective ` +
        `${describe('syncPeriod', sync)}; minSyncPeriod must be less than or equal to syncPeriod`,
    );
  } else {
    problems.push(
      `${section}.syncPeriod: ${JSON.stringify(sync.given)} (${formatGoDuration(sync.ns)}) is less than the effective ` +
        `${describe('minSyncPeriod', min)}; syncPeriod must be greater than or equal to minSyncPeriod ` +
        '(set minSyncPeriod explicitly to a smaller positive duration)',
    );
  }
}

/** Every problem of a customization, as validateCustomization reports them (empty when valid). */
export function customizationProblems(c: Customization, field = 'customization'): string[] {
  const problems: string[] = [];

  const kubeProxy = c.kubeProxy;
  if (kubeProxy !== undefined) {
    const iptablesPath = `${field}.kubeProxy.iptables`;
    const ipvsPath = `${field}.kubeProxy.ipvs`;
    const iptables: Parsed = {};
    const ipvs: Parsed = {};
    for (const name of IPTABLES_FIELDS) {
      const value = kubeProxy.iptables?.[name];
      if (value !== undefined) checkDuration(problems, iptables, iptablesPath, name, value);
    }
    for (const name of IPVS_FIELDS) {
      const value = kubeProxy.ipvs?.[name];
      if (name !== 'scheduler' && value !== undefined) checkDuration(problems, ipvs, ipvsPath, name, value);
    }

    // Both sections are checked whatever the mode: kube-proxy ≤ 1.30 validates `iptables` even in
    // ipvs mode, and the mode is fixed at creation while the customization is not.
    checkSyncPair(problems, iptablesPath, kubeProxy.iptables, iptables, IPTABLES_SYNC_DEFAULTS);
    checkSyncPair(problems, ipvsPath, kubeProxy.ipvs, ipvs, IPVS_SYNC_DEFAULTS);

    const tcpTimeout = ipvs.tcpTimeout;
    if (tcpTimeout !== undefined && tcpTimeout > 0n && tcpTimeout < IPVS_TCP_TIMEOUT_FLOOR) {
      problems.push(
        `${ipvsPath}.tcpTimeout: ${JSON.stringify(kubeProxy.ipvs?.tcpTimeout)} cannot be set between 'PT0S' ` +
          "and 'PT5S'; use PT0S (keep the kernel's timeout) or PT5S and more",
      );
    }

    const scheduler = kubeProxy.ipvs?.scheduler;
    if (scheduler !== undefined && !(IPVS_SCHEDULERS as readonly unknown[]).includes(scheduler)) {
      problems.push(
        `${ipvsPath}.scheduler: ${JSON.stringify(scheduler)} is not a supported IPVS scheduler; ` +
          `allowed: ${IPVS_SCHEDULERS.join(', ')}`,
      );
    }
  }

  const plugins = c.apiServer?.admissionPlugins;
  if (plugins !== undefined) {
    const pluginsPath = `${field}.apiServer.admissionPlugins`;
    for (const list of ['enabled', 'disabled'] as const) {
      const seen = new Set<string>();
      for (const name of plugins[list]) {
        if (!(ADMISSION_PLUGINS as readonly unknown[]).includes(name)) {
          problems.push(
            `${pluginsPath}.${list}: ${JSON.stringify(name)} is not a known admission plugin; ` +
              `allowed: ${ADMISSION_PLUGINS.join(', ')}`,
          );
        } else if (seen.has(name)) {
          problems.push(`${pluginsPath}.${list}: ${JSON.stringify(name)} is listed more than once`);
        }
        seen.add(name);
      }
    }
    for (const name of new Set(plugins.enabled)) {
      if (plugins.disabled.includes(name) && ADMISSION_PLUGINS.includes(name)) {
        problems.push(
          `${pluginsPath}: ${JSON.stringify(name)} is in both enabled and disabled; a plugin is either one`,
        );
      }
    }
    if (plugins.disabled.includes('NodeRestriction')) {
      problems.push(
        `${pluginsPath}.disabled: "NodeRestriction" cannot be disabled, it must stay enabled for security ` +
          'purposes; only AlwaysPullImages can be disabled',
      );
    }
  }

  return problems;
}

/** One kube-proxy value as kube-proxy runs it (durations in Go form), and what the user set. */
export interface EffectiveValue {
  readonly value: string;
  /** True when kube-proxy's default applies (not set, or a zero it treats as not set). */
  readonly defaulted: boolean;
  /** The value as set (ISO 8601 for durations); absent when not set. */
  readonly set?: string;
}

export interface EffectiveKubeProxy {
  readonly mode: KubeProxyMode;
  readonly iptables: Record<(typeof IPTABLES_FIELDS)[number], EffectiveValue>;
  readonly ipvs: Record<(typeof IPVS_FIELDS)[number], EffectiveValue>;
}

/** kube-proxy's proxier uses `rr` when no scheduler is set ("IPVS scheduler not specified"). */
const IPVS_DEFAULT_SCHEDULER = 'rr';

const DURATION_DEFAULTS: Record<string, bigint | undefined> = {
  'iptables.minSyncPeriod': IPTABLES_DEFAULT_MIN_SYNC,
  'iptables.syncPeriod': IPTABLES_DEFAULT_SYNC,
  'ipvs.syncPeriod': IPVS_DEFAULT_SYNC,
};

/**
 * Every kube-proxy value a cluster runs with, set or defaulted (spec/kube-proxy.md §2.2), for a
 * validated customization. Both sections are listed: both are rendered, kube-proxy uses `mode`'s.
 */
export function effectiveKubeProxy(
  mode: KubeProxyMode,
  kubeProxy: KubeProxySettings | undefined,
): EffectiveKubeProxy {
  const duration = (
    section: 'iptables' | 'ipvs',
    field: string,
    given: string | undefined,
  ): EffectiveValue => {
    const value = effectiveDuration(
      given,
      given === undefined ? undefined : parseIsoDuration(given),
      DURATION_DEFAULTS[`${section}.${field}`],
    );
    return {
      value: formatGoDuration(value.ns),
      defaulted: value.defaulted,
      ...(given === undefined ? {} : { set: given }),
    };
  };
  const iptables = Object.fromEntries(
    IPTABLES_FIELDS.map((field) => [field, duration('iptables', field, kubeProxy?.iptables?.[field])]),
  ) as EffectiveKubeProxy['iptables'];
  const ipvs = Object.fromEntries(
    IPVS_FIELDS.map((field) => {
      const given = kubeProxy?.ipvs?.[field];
      if (field !== 'scheduler') return [field, duration('ipvs', field, given)];
      return [
        field,
        given === undefined
          ? { value: IPVS_DEFAULT_SCHEDULER, defaulted: true }
          : { value: given, defaulted: false, set: given },
      ];
    }),
  ) as EffectiveKubeProxy['ipvs'];
  return { mode, iptables, ipvs };
}

/**
 * The PUT rule (OVH guide): each top-level key sent replaces that section whole — `kubeProxy`
 * fields left out of it are dropped — and `null` or `{}` clears it; keys not sent are kept.
 * A key whose value is `undefined` counts as not sent (JSON cannot carry `undefined`).
 */
export function mergeCustomization(stored: Customization, patch: CustomizationInput): Customization {
  const replaced = normalizeCustomization(patch);
  const apiServer = patch.apiServer === undefined ? stored.apiServer : replaced.apiServer;
  const kubeProxy = patch.kubeProxy === undefined ? stored.kubeProxy : replaced.kubeProxy;
  return copy({ ...(apiServer && { apiServer }), ...(kubeProxy && { kubeProxy }) });
}

function copyKubeProxy(k: KubeProxySettings | undefined): KubeProxySettings {
  const iptables = pick(k?.iptables, IPTABLES_FIELDS);
  const ipvs = pick<(typeof IPVS_FIELDS)[number]>(k?.ipvs, IPVS_FIELDS) as IpvsSettings | undefined;
  return { ...(iptables && { iptables }), ...(ipvs && { ipvs }) };
}

function copyPlugins(p: AdmissionPluginsSettings): AdmissionPluginsSettings {
  return { disabled: [...p.disabled], enabled: [...p.enabled] };
}

/** A fresh, canonically ordered copy (callers may mutate or serialize what they get). */
function copy(c: Customization): Customization {
  const kubeProxy = copyKubeProxy(c.kubeProxy);
  const hasKubeProxy = kubeProxy.iptables !== undefined || kubeProxy.ipvs !== undefined;
  return {
    ...(c.apiServer && { apiServer: { admissionPlugins: copyPlugins(c.apiServer.admissionPlugins) } }),
    ...(hasKubeProxy && { kubeProxy }),
  };
}

/**
 * The echo for API responses (DESIGN.md §3): kube-proxy fields exactly as sent and only those;
 * `apiServer.admissionPlugins` always present — the Terraform provider crashes on a bare
 * `"apiServer": {}` — holding the lists last set, or OVH's defaults when never set.
 */
export function customizationView(c: Customization): CustomizationView {
  const admissionPlugins = c.apiServer
    ? copyPlugins(c.apiServer.admissionPlugins)
    : { disabled: [], enabled: [...DEFAULT_ENABLED_PLUGINS] };
  return { apiServer: { admissionPlugins }, kubeProxy: copyKubeProxy(c.kubeProxy) };
}

/** Every known plugin on or off: the defaults (all on) adjusted by the lists; disabled wins. */
export function effectiveAdmissionPlugins(c: Customization): {
  enabled: AdmissionPlugin[];
  disabled: AdmissionPlugin[];
} {
  const lists = c.apiServer?.admissionPlugins;
  const enabled: AdmissionPlugin[] = [];
  const disabled: AdmissionPlugin[] = [];
  for (const plugin of ADMISSION_PLUGINS) {
    const on = lists?.disabled.includes(plugin)
      ? false
      : lists?.enabled.includes(plugin)
        ? true
        : DEFAULT_ENABLED_PLUGINS.includes(plugin);
    (on ? enabled : disabled).push(plugin);
  }
  return { enabled, disabled };
}

/**
 * kube-apiserver flags for the effective plugins. Neither plugin is on by default in
 * kube-apiserver itself, so OVH's "enabled" defaults must be passed explicitly; an empty
 * `--enable-admission-plugins=` is left out rather than written.
 */
export function renderAdmissionFlags(c: Customization): string[] {
  const { enabled, disabled } = effectiveAdmissionPlugins(c);
  const flags: string[] = [];
  if (enabled.length > 0) flags.push(`--enable-admission-plugins=${[...enabled].sort().join(',')}`);
  if (disabled.length > 0) flags.push(`--disable-admission-plugins=${[...disabled].sort().join(',')}`);
  return flags;
}

const IPVS_DEPRECATION =
  'kube-proxy ipvs mode is deprecated since Kubernetes 1.35 (kube-proxy: "The ipvs proxier is now ' +
  "deprecated and may be removed in a future release. Please use 'nftables' instead.\"); it still " +
  'works, and kubeProxyMode can only be changed by resetting the cluster';

/** Warnings to return with a change (DESIGN.md §3: PUT /customization's message). */
export function kubeProxyWarnings(version: string, mode: KubeProxyMode): string[] {
  if (mode !== 'ipvs') return [];
  const match = /^v?(\d+)\.(\d+)(?:\.\d+)?$/.exec(version);
  if (match === null) return [];
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 1 || (major === 1 && minor >= 35) ? [IPVS_DEPRECATION] : [];
}

/** Same stored customization, field by field (plugin order counts: it is echoed as sent). */
export function customizationEquals(a: Customization, b: Customization): boolean {
  return JSON.stringify(copy(a)) === JSON.stringify(copy(b));
}
