/**
 * What a kube-proxy container does with `config.conf` when it starts (spec/kube-proxy.md §2):
 * decode (YAML → JSON, apiVersion/kind, field types, Go durations; unknown keys dropped as the
 * lenient decoder does), default and validate (kube-proxy-validation.ts), and a
 * runtime check of the IPVS scheduler. Refusal texts follow kube-proxy's own.
 */

import { parse } from 'yaml';
import { BoundedMap } from '../../bounded-map.ts';
import { GoDurationError, parseGoDuration } from './go-duration.ts';
import { validate } from './kube-proxy-validation.ts';

type LoadFailure = { readonly ok: false; readonly message: string };

/** A config kube-proxy runs with: its mode and the sync periods of that mode's proxier. */
export type LoadResult =
  | { readonly ok: true; readonly mode: string; readonly syncPeriod: string; readonly minSyncPeriod: string }
  | LoadFailure;

/** kube-proxy's defaults of the sync periods, by mode. */
const SYNC_DEFAULTS: Readonly<Record<string, { syncPeriod: string; minSyncPeriod: string }>> = {
  iptables: { syncPeriod: '30s', minSyncPeriod: '1s' },
  ipvs: { syncPeriod: '30s', minSyncPeriod: '0s' },
  nftables: { syncPeriod: '30s', minSyncPeriod: '1s' },
};

type FieldType = 'string' | 'bool' | 'int32' | 'duration' | 'stringList' | 'map' | 'object';

/** Typed fields of KubeProxyConfiguration v1alpha1 we check (others pass through as lenient). */
const FIELDS: Readonly<Record<string, Readonly<Record<string, FieldType>>>> = {
  '': {
    bindAddress: 'string',
    healthzBindAddress: 'string',
    metricsBindAddress: 'string',
    bindAddressHardFail: 'bool',
    enableProfiling: 'bool',
    clusterCIDR: 'string',
    hostnameOverride: 'string',
    mode: 'string',
    oomScoreAdj: 'int32',
    configSyncPeriod: 'duration',
    portRange: 'string',
    featureGates: 'map',
    nodePortAddresses: 'stringList',
    showHiddenMetricsForVersion: 'string',
    detectLocalMode: 'string',
    clientConnection: 'object',
    iptables: 'object',
    ipvs: 'object',
    nftables: 'object',
    conntrack: 'object',
    winkernel: 'object',
    detectLocal: 'object',
    logging: 'object',
  },
  clientConnection: {
    kubeconfig: 'string',
    acceptContentTypes: 'string',
    contentType: 'string',
    burst: 'int32',
  },
  iptables: {
    masqueradeBit: 'int32',
    masqueradeAll: 'bool',
    localhostNodePorts: 'bool',
    syncPeriod: 'duration',
    minSyncPeriod: 'duration',
  },
  ipvs: {
    syncPeriod: 'duration',
    minSyncPeriod: 'duration',
    scheduler: 'string',
    excludeCIDRs: 'stringList',
    strictARP: 'bool',
    tcpTimeout: 'duration',
    tcpFinTimeout: 'duration',
    udpTimeout: 'duration',
  },
  nftables: {
    masqueradeBit: 'int32',
    masqueradeAll: 'bool',
    syncPeriod: 'duration',
    minSyncPeriod: 'duration',
  },
  conntrack: {
    maxPerCore: 'int32',
    min: 'int32',
    tcpEstablishedTimeout: 'duration',
    tcpCloseWaitTimeout: 'duration',
    tcpBeLiberal: 'bool',
    udpTimeout: 'duration',
    udpStreamTimeout: 'duration',
  },
};

/** Go struct names, for json's "cannot unmarshal … into Go struct field" messages. */
const STRUCTS: Readonly<Record<string, string>> = {
  '': 'KubeProxyConfiguration',
  clientConnection: 'ClientConnectionConfiguration',
  iptables: 'KubeProxyIPTablesConfiguration',
  ipvs: 'KubeProxyIPVSConfiguration',
  nftables: 'KubeProxyNFTablesConfiguration',
  conntrack: 'KubeProxyConntrackConfiguration',
};

const GO_TYPES: Readonly<Record<FieldType, string>> = {
  string: 'string',
  bool: 'bool',
  int32: 'int32',
  duration: 'string',
  stringList: '[]string',
  map: 'map[string]bool',
  object: 'struct',
};

/** Kernel IPVS schedulers (`ip_vs_<name>` modules); anything else fails at startup (1.27+). */
const KERNEL_SCHEDULERS = new Set([
  '',
  'rr',
  'wrr',
  'lc',
  'wlc',
  'lblc',
  'lblcr',
  'dh',
  'sh',
  'sed',
  'nq',
  'fo',
  'ovf',
  'mh',
]);

class DecodeError extends Error {}

function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  return typeof value === 'boolean' ? 'bool' : typeof value;
}

function checkType(section: string, key: string, type: FieldType, value: unknown): void {
  const where = `Go struct field ${STRUCTS[section] ?? 'KubeProxyConfiguration'}.${section === '' ? '' : `${section}.`}${key} of type ${GO_TYPES[type]}`;
  const mismatch = () => new DecodeError(`json: cannot unmarshal ${jsonKind(value)} into ${where}`);
  if (type === 'duration') {
    // metav1.Duration unmarshals a JSON string (null reads as "") and hands it to time.ParseDuration.
    if (value !== null && typeof value !== 'string') throw mismatch();
    try {
      parseGoDuration(value ?? '');
    } catch (error) {
      if (!(error instanceof GoDurationError)) throw error;
      throw new DecodeError(error.message);
    }
    return;
  }
  if (value === null) return; // JSON null leaves a Go field at its zero value
  const ok =
    (type === 'string' && typeof value === 'string') ||
    (type === 'bool' && typeof value === 'boolean') ||
    (type === 'int32' && typeof value === 'number' && Number.isInteger(value)) ||
    (type === 'stringList' && Array.isArray(value) && value.every((v) => typeof v === 'string')) ||
    ((type === 'map' || type === 'object') && typeof value === 'object' && !Array.isArray(value));
  if (!ok) throw mismatch();
}

/** Minor version from `1.31.2` / `v1.31`. */
function minorOf(version: string): number {
  const match = /^v?1\.(\d+)/.exec(version);
  return match === null ? 99 : Number(match[1]);
}

/** Results by version, the node's missing modules and config text: every pod of a rollout loads the same config. */
const LOADED = new BoundedMap<string, LoadResult>(256);

/**
 * The Node annotation naming kernel modules the emulated node lacks (comma-separated, e.g.
 * `ip_vs_mh` or `ip_vs`): kube-proxy in IPVS mode fails to start there as it does on a real node
 * whose kernel cannot load them (docs/emulator.md, "Node faults").
 */
export const MISSING_KERNEL_MODULES_ANNOTATION = 'emulator.mks.internal/missing-kernel-modules';

/** The kernel modules a Node's MISSING_KERNEL_MODULES_ANNOTATION names, sorted. */
export function missingKernelModules(annotations: Readonly<Record<string, string>> | undefined): string[] {
  const value = annotations?.[MISSING_KERNEL_MODULES_ANNOTATION] ?? '';
  return [...new Set(value.split(/[\s,]+/).filter((module) => module !== ''))].sort();
}

/**
 * Loads `config.conf` as the kube-proxy of a cluster at `version` would, on a node whose kernel
 * lacks `missingModules`. On refusal, `message` is the error kube-proxy prints before exiting 1.
 * A pure function: its results are kept.
 */
export function loadKubeProxyConfig(
  text: string,
  version: string,
  missingModules: readonly string[] = [],
): LoadResult {
  const key = `${version}\n${missingModules.join(',')}\n${text}`;
  let result = LOADED.get(key);
  if (result === undefined) {
    result = loadKubeProxyConfigUncached(text, version, new Set(missingModules));
    LOADED.set(key, result);
  }
  return result;
}

function loadKubeProxyConfigUncached(
  text: string,
  version: string,
  missingModules: ReadonlySet<string>,
): LoadResult {
  const read = readKubeProxyConfig(text, version);
  if (!read.ok) return read;
  return startProxier(read.config, read.mode, missingModules);
}

/**
 * What kube-proxy does with `config.conf` before it starts proxying: decode and default
 * ("failed complete"), set up logging ("initialize logging"), validate ("failed validate"). The
 * verdicts and texts recorded from the real kube-proxy (test/fixtures/kube-proxy-config-corpus.json)
 * come from this path.
 */
export function readKubeProxyConfig(
  text: string,
  version: string,
): { readonly ok: true; readonly mode: string; readonly config: Record<string, unknown> } | LoadFailure {
  let config: Record<string, unknown>;
  try {
    config = decode(text);
  } catch (error) {
    if (error instanceof DecodeError)
      return { ok: false, message: `failed complete: failed to decode: ${error.message}` };
    throw error;
  }
  const logging = (config.logging ?? {}) as Record<string, unknown>;
  const format = typeof logging.format === 'string' ? logging.format : '';
  // kube-proxy registers the text and json log formats.
  if (format !== '' && format !== 'text' && format !== 'json') {
    return {
      ok: false,
      message: `initialize logging: logging.format: Invalid value: ${JSON.stringify(format)}: Unsupported log format`,
    };
  }
  const errors = validate(config, minorOf(version));
  if (errors.length > 0) {
    const body = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
    return { ok: false, message: `failed validate: ${body}` };
  }
  const mode = typeof config.mode === 'string' && config.mode !== '' ? config.mode : 'iptables';
  return { ok: true, mode, config };
}

/**
 * The proxier's start-up: IPVS mode opens the kernel's IPVS interface (module `ip_vs`), then
 * creates a dummy virtual server with the configured scheduler (module `ip_vs_<scheduler>`, `rr`
 * when blank). The text for a missing `ip_vs` is moby/ipvs's, which kube-proxy wraps; it is not
 * recorded from a real node.
 */
function startProxier(
  config: Record<string, unknown>,
  mode: string,
  missingModules: ReadonlySet<string>,
): LoadResult {
  const ipvs = (config.ipvs ?? {}) as Record<string, unknown>;
  if (mode === 'ipvs') {
    const refused = (reason: string): LoadFailure => ({
      ok: false,
      message: `Error running ProxyServer: can't use the IPVS proxier: ${reason}`,
    });
    if (missingModules.has('ip_vs')) {
      return refused(
        'could not get ipvs family information from the kernel. It is possible that ipvs is not enabled in your kernel. Native loadbalancing will not work until this is fixed',
      );
    }
    // kube-proxy creates the dummy virtual server with `rr` when the scheduler is blank.
    const scheduler = String(ipvs.scheduler ?? '') || 'rr';
    if (!KERNEL_SCHEDULERS.has(scheduler) || missingModules.has(`ip_vs_${scheduler}`)) {
      return refused(`Could not create dummy VS: scheduler="${scheduler}": no such file or directory`);
    }
  }
  const section = (config[mode] ?? {}) as Record<string, unknown>;
  const defaults = SYNC_DEFAULTS[mode] ?? { syncPeriod: '30s', minSyncPeriod: '1s' };
  const written = (key: 'syncPeriod' | 'minSyncPeriod') =>
    typeof section[key] === 'string' && section[key] !== '' ? String(section[key]) : defaults[key];
  return { ok: true, mode, syncPeriod: written('syncPeriod'), minSyncPeriod: written('minSyncPeriod') };
}

/** klog's header of a line: severity, date, time with microseconds, thread, source. */
function klogHeader(severity: 'I' | 'E', at: Date, source: string): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const micros = String(at.getUTCMilliseconds() * 1000).padStart(6, '0');
  return `${severity}${two(at.getUTCMonth() + 1)}${two(at.getUTCDate())} ${two(at.getUTCHours())}:${two(at.getUTCMinutes())}:${two(at.getUTCSeconds())}.${micros}       1 ${source}]`;
}

/**
 * What an emulated kube-proxy container logs when it starts (`kubectl logs`), in klog's format:
 * the config file it loaded, its mode and sync periods; or the error it exits with. The lines are
 * mks's, in the shape of kube-proxy's, not its exact texts.
 */
export function startupLog(result: LoadResult, nodeName: string, version: string, at: Date): string {
  const lines = [
    `${klogHeader('I', at, 'server.go:231')} "Version info" version="v${version.replace(/^v/, '')}"`,
  ];
  if (!result.ok) {
    lines.push(`${klogHeader('E', at, 'run.go:72')} "command failed" err=${JSON.stringify(result.message)}`);
  } else {
    lines.push(
      `${klogHeader('I', at, 'server.go:466')} "Loaded config" path="/var/lib/kube-proxy/config.conf" node=${JSON.stringify(nodeName)}`,
      `${klogHeader('I', at, 'server_linux.go:66')} "Using ${result.mode} proxy"`,
      `${klogHeader('I', at, 'proxier.go:254')} "Sync periods" mode=${JSON.stringify(result.mode)} syncPeriod=${JSON.stringify(result.syncPeriod)} minSyncPeriod=${JSON.stringify(result.minSyncPeriod)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function decode(text: string): Record<string, unknown> {
  let document: unknown;
  try {
    // sigs.k8s.io/yaml reads YAML 1.1-ish and converts to JSON; duplicate keys only trip the strict pass.
    document = parse(text, { version: '1.1', uniqueKeys: false, strict: false });
  } catch (error) {
    throw new DecodeError(goYamlError(error as YamlError, text));
  }
  // An empty document decodes to nothing: no kind, reported with the document's text.
  if (document === null || document === undefined)
    throw new DecodeError(`Object 'Kind' is missing in '${text}'`);
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new DecodeError(
      `couldn't get version/kind; json parse error: json: cannot unmarshal ${jsonKind(document)} into Go value of type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }`,
    );
  }
  const config = document as Record<string, unknown>;
  const kind = config.kind;
  const apiVersion = config.apiVersion;
  if (kind === undefined || kind === '') {
    // The YAML serializer quotes the data it was given, not its JSON form.
    throw new DecodeError(`Object 'Kind' is missing in '${text}'`);
  }
  if (apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1' || kind !== 'KubeProxyConfiguration') {
    throw new DecodeError(
      `no kind "${String(kind)}" is registered for version "${String(apiVersion ?? '')}" in scheme "pkg/proxy/apis/config/scheme/scheme.go:29"`,
    );
  }
  for (const [section, fields] of Object.entries(FIELDS)) {
    const holder = section === '' ? config : config[section];
    if (holder === undefined || holder === null) continue;
    for (const [key, type] of Object.entries(fields)) {
      if (!(key in (holder as Record<string, unknown>))) continue;
      checkType(section, key, type, (holder as Record<string, unknown>)[key]);
    }
  }
  return config;
}

type YamlError = Error & { code?: string; pos?: [number, number]; linePos?: { line: number }[] };

/**
 * go-yaml's text for the errors a hand-edited `config.conf` most often has. go-yaml numbers a
 * scanner error's line from 1 and a parser error's from 0 (its 0-based problem line, unadjusted);
 * other errors keep the JS parser's reason.
 */
function goYamlError(error: YamlError, text: string): string {
  const line = error.linePos?.[0]?.line;
  const at = (n: number | undefined) => (n === undefined || n === 0 ? 'yaml: ' : `yaml: line ${n}: `);
  if (error.code === 'TAB_AS_INDENT') return `${at(line)}found character that cannot start any token`;
  const atEnd = error.pos !== undefined && text.slice(error.pos[0]).trim() === '';
  if (error.code === 'BAD_INDENT' && /^Flow (sequence|mapping)/.test(error.message) && atEnd)
    return `${at(line === undefined ? undefined : line - 1)}did not find expected node content`;
  return `${at(line)}${error.message.split('\n')[0] ?? 'invalid YAML'}`;
}
