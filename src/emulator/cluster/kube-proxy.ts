/**
 * What a kube-proxy container does with `config.conf` when it starts (spec/kube-proxy.md §2):
 * decode (YAML → JSON, apiVersion/kind, field types, Go durations; unknown keys dropped as the
 * lenient decoder does), default, validate (which sections depends on the version), and a
 * runtime check of the IPVS scheduler. Refusal texts follow kube-proxy's own.
 */
import { parse } from 'yaml';
import { GoDurationError, parseGoDuration } from './go-duration.ts';

type LoadFailure = { readonly ok: false; readonly message: string };

export type LoadResult = { readonly ok: true; readonly mode: string } | LoadFailure;

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

const durationNs = (value: unknown): bigint => (typeof value === 'string' ? parseGoDuration(value) : 0n);

const goDurationValue = (ns: bigint): string => `v1.Duration{Duration:${ns}}`;

/** Minor version from `1.31.2` / `v1.31`. */
function minorOf(version: string): number {
  const match = /^v?1\.(\d+)/.exec(version);
  return match === null ? 99 : Number(match[1]);
}

function isCidr(text: string): boolean {
  const [ip, bits, ...rest] = text.split('/');
  if (rest.length > 0 || ip === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip))
    return ip.split('.').every((o) => Number(o) <= 255) && Number(bits) <= 32;
  return ip.includes(':') && Number(bits) <= 128;
}

/** Results by version and config text: every pod of a rollout loads the same config. */
const LOADED = new Map<string, LoadResult>();
const LOADED_MAX = 256;

/**
 * Loads `config.conf` as the kube-proxy of a cluster at `version` would. On refusal, `message`
 * is the error kube-proxy prints before exiting 1. A pure function: its results are kept.
 */
export function loadKubeProxyConfig(text: string, version: string): LoadResult {
  const key = `${version}\n${text}`;
  let result = LOADED.get(key);
  if (result === undefined) {
    result = loadKubeProxyConfigUncached(text, version);
    if (LOADED.size >= LOADED_MAX) LOADED.clear();
    LOADED.set(key, result);
  }
  return result;
}

function loadKubeProxyConfigUncached(text: string, version: string): LoadResult {
  const read = readKubeProxyConfig(text, version);
  if (!read.ok) return read;
  return startProxier(read.config, read.mode);
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

/** The proxier's start-up: IPVS mode creates a dummy virtual server with the configured scheduler. */
function startProxier(config: Record<string, unknown>, mode: string): LoadResult {
  const ipvs = (config.ipvs ?? {}) as Record<string, unknown>;
  if (mode === 'ipvs' && !KERNEL_SCHEDULERS.has(String(ipvs.scheduler ?? ''))) {
    return {
      ok: false,
      message: `Error running ProxyServer: can't use the IPVS proxier: Could not create dummy VS: scheduler="${String(ipvs.scheduler)}": no such file or directory`,
    };
  }
  return { ok: true, mode };
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

/** Defaulting (v1alpha1 SetDefaults) then Validate(), on effective values (spec §2.2, §2.3). */
function validate(config: Record<string, unknown>, minor: number): string[] {
  const errors: string[] = [];
  const mode = typeof config.mode === 'string' ? config.mode : '';
  const section = (name: string) => (config[name] ?? {}) as Record<string, unknown>;
  const invalid = (path: string, value: string, detail: string) =>
    errors.push(`KubeProxyConfiguration.${path}: Invalid value: ${value}: ${detail}`);

  const nonNegativeDurations = (
    values: Record<string, unknown>,
    path: string,
    fields: readonly (readonly [key: string, field: string])[],
  ) => {
    for (const [key, field] of fields) {
      const ns = durationNs(values[key]);
      if (ns < 0n) invalid(`${path}.${field}`, goDurationValue(ns), 'must be greater than or equal to 0');
    }
  };

  const nftablesAllowed = minor >= 31;
  const modes = minor >= 29 ? ['iptables', 'ipvs', 'nftables'] : ['iptables', 'ipvs'];
  const modeOk =
    mode === '' || mode === 'iptables' || mode === 'ipvs' || (mode === 'nftables' && nftablesAllowed);
  if (!modeOk) {
    const list = minor >= 29 ? modes.join(', ') : modes.join(',');
    invalid(
      'Mode.ProxyMode',
      JSON.stringify(mode),
      `must be ${list} or blank (blank means the best-available proxy [currently iptables])`,
    );
  }

  const defaults: Record<string, { sync: bigint; min: bigint }> = {
    iptables: { sync: 30_000_000_000n, min: 1_000_000_000n },
    ipvs: { sync: 30_000_000_000n, min: 0n },
    nftables: { sync: 30_000_000_000n, min: 1_000_000_000n },
  };
  const effective = (name: string) => {
    const s = section(name);
    const sync = durationNs(s.syncPeriod);
    const min = durationNs(s.minSyncPeriod);
    const d = defaults[name]!;
    return { sync: sync === 0n ? d.sync : sync, min: min === 0n ? d.min : min };
  };
  const checkSync = (name: string, prefix: string) => {
    const { sync, min } = effective(name);
    if (sync <= 0n) invalid(`${prefix}SyncPeriod`, goDurationValue(sync), 'must be greater than 0');
    if (min < 0n)
      invalid(`${prefix}MinSyncPeriod`, goDurationValue(min), 'must be greater than or equal to 0');
    else if (min > sync) {
      invalid(
        `${prefix}SyncPeriod`,
        goDurationValue(min),
        `must be greater than or equal to KubeProxyConfiguration.${prefix}MinSyncPeriod`,
      );
    }
  };
  const selected = mode === 'ipvs' ? 'ipvs' : mode === 'nftables' ? 'nftables' : 'iptables';
  if (minor >= 31) {
    checkSync(selected, '');
  } else {
    checkSync('iptables', 'KubeProxyIPTablesConfiguration.');
    if (mode === 'ipvs') checkSync('ipvs', 'KubeProxyIPVSConfiguration.');
    if (mode === 'nftables') checkSync('nftables', 'KubeProxyNFTablesConfiguration.');
  }

  // Linux settings (every mode here is a Linux one): conntrack, then the OOM score.
  const linux = 'KubeProxyLinuxConfiguration';
  const conntrack = section('conntrack');
  for (const key of ['maxPerCore', 'min'] as const) {
    const value = conntrack[key];
    if (typeof value === 'number' && value < 0)
      invalid(
        `${linux}.KubeProxyConntrackConfiguration.${key === 'min' ? 'Min' : 'MaxPerCore'}`,
        String(value),
        'must be greater than or equal to 0',
      );
  }
  nonNegativeDurations(conntrack, `${linux}.KubeProxyConntrackConfiguration`, [
    ['tcpEstablishedTimeout', 'TCPEstablishedTimeout'],
    ['tcpCloseWaitTimeout', 'TCPCloseWaitTimeout'],
    ['udpTimeout', 'UDPTimeout'],
    ['udpStreamTimeout', 'UDPStreamTimeout'],
  ]);
  const oomScoreAdj = config.oomScoreAdj;
  if (typeof oomScoreAdj === 'number' && (oomScoreAdj < -1000 || oomScoreAdj > 1000))
    invalid(`${linux}.OOMScoreAdj`, String(oomScoreAdj), 'must be within the range [-1000, 1000]');

  for (const name of ['iptables', 'nftables']) {
    const bit = section(name).masqueradeBit;
    if (typeof bit === 'number' && (bit < 0 || bit > 31)) {
      const struct =
        name === 'iptables' ? 'KubeProxyIPTablesConfiguration' : 'KubeProxyNFTablesConfiguration';
      invalid(`${struct}.MasqueradeBit`, String(bit), 'must be within the range [0, 31]');
    }
  }
  if (mode === 'ipvs') {
    const ipvs = section('ipvs');
    nonNegativeDurations(ipvs, 'KubeProxyIPVSConfiguration', [
      ['tcpTimeout', 'TCPTimeout'],
      ['tcpFinTimeout', 'TCPFinTimeout'],
      ['udpTimeout', 'UDPTimeout'],
    ]);
    const excluded = Array.isArray(ipvs.excludeCIDRs) ? (ipvs.excludeCIDRs as string[]) : [];
    excluded.forEach((cidr, i) => {
      if (!isCidr(cidr))
        invalid(
          `KubeProxyIPVSConfiguration.ExcludeCidrs[${i}]`,
          JSON.stringify(cidr),
          'must be a valid CIDR',
        );
    });
    if (
      minor <= 26 &&
      !['', 'rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'sh', 'dh', 'sed', 'nq'].includes(
        String(ipvs.scheduler ?? ''),
      )
    ) {
      invalid(
        'KubeProxyIPVSConfiguration.Scheduler',
        JSON.stringify(String(ipvs.scheduler)),
        'must be in [rr wrr lc wlc lblc lblcr sh dh sed nq ], blank means the default algorithm method (currently rr)',
      );
    }
  }
  const configSync = durationNs(config.configSyncPeriod);
  if (configSync < 0n) invalid('ConfigSyncPeriod', goDurationValue(configSync), 'must be greater than 0');
  if (typeof config.bindAddress === 'string' && config.bindAddress !== '' && !isIp(config.bindAddress)) {
    invalid(
      'BindAddress',
      JSON.stringify(config.bindAddress),
      'not a valid textual representation of an IP address',
    );
  }
  for (const [key, port] of [
    ['healthzBindAddress', 10256],
    ['metricsBindAddress', 10249],
  ] as const) {
    const address = config[key];
    if (typeof address === 'string' && address !== '') {
      const field = key === 'healthzBindAddress' ? 'HealthzBindAddress' : 'MetricsBindAddress';
      // Defaulting appends the port to a bare IP (proxyutil.AppendPortIfNeeded).
      errors.push(...hostPortErrors(isIp(address) ? `${address}:${port}` : address, field));
    }
  }
  const nodePortAddresses = Array.isArray(config.nodePortAddresses)
    ? (config.nodePortAddresses as string[])
    : [];
  for (const [i, address] of nodePortAddresses.entries()) {
    if (address === 'primary') {
      if (i !== 0 || nodePortAddresses.length !== 1)
        invalid(`NodePortAddresses[${i}]`, JSON.stringify(address), "can't use both 'primary' and CIDRs");
      break;
    }
    if (!isCidr(address)) invalid(`NodePortAddresses[${i}]`, JSON.stringify(address), 'must be a valid CIDR');
  }
  const detectLocalMode = typeof config.detectLocalMode === 'string' ? config.detectLocalMode : '';
  if (!LOCAL_MODES.includes(detectLocalMode)) {
    errors.push(
      `KubeProxyConfiguration.DetectLocalMode: Unsupported value: ${JSON.stringify(detectLocalMode)}: supported values: ${LOCAL_MODES.map((m) => JSON.stringify(m)).join(', ')}`,
    );
  }
  if (typeof config.clusterCIDR === 'string' && config.clusterCIDR !== '') {
    const cidrs = config.clusterCIDR.split(',');
    if (minor < 31) {
      if (cidrs.length > 2 || !cidrs.every(isCidr))
        invalid('DetectLocal.ClusterCIDRs', JSON.stringify(config.clusterCIDR), 'must be a valid CIDR');
    } else {
      // From 1.31 the internal config holds DetectLocal.ClusterCIDRs, a list, validated as one.
      const path = 'DetectLocalConfiguration.ClusterCIDRs';
      const bad = cidrs.map((cidr, i) => [cidr, i] as const).filter(([cidr]) => !isCidr(cidr));
      for (const [cidr, i] of bad)
        invalid(
          `${path}[${i}]`,
          JSON.stringify(cidr),
          'must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)',
        );
      const dualStack = cidrs.length === 2 && cidrs.filter((cidr) => cidr.includes(':')).length === 1;
      if (bad.length === 0 && (cidrs.length > 2 || (cidrs.length === 2 && !dualStack))) {
        invalid(
          path,
          `[]string{${cidrs.map((cidr) => JSON.stringify(cidr)).join(', ')}}`,
          'must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]',
        );
      }
    }
  }
  return errors;
}

const LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', ''];

/** kube-proxy's validateHostPort: `IP:port`, a valid IP, a port in 1–65535. */
function hostPortErrors(input: string, field: string): string[] {
  const path = `KubeProxyConfiguration.${field}`;
  const match = /^(?:\[([^\]]*)\]|([^:]*)):([^:]*)$/.exec(input);
  if (match === null) return [`${path}: Invalid value: ${JSON.stringify(input)}: must be IP:port`];
  const host = match[1] ?? match[2] ?? '';
  const port = match[3] ?? '';
  const errors: string[] = [];
  if (!isIp(host)) errors.push(`${path}: Invalid value: ${JSON.stringify(host)}: must be a valid IP`);
  const number = /^[+-]?\d+$/.test(port) ? Number(port) : Number.NaN;
  if (!(number >= 1 && number <= 65535))
    errors.push(`${path}: Invalid value: ${JSON.stringify(port)}: must be a valid port`);
  return errors;
}

function isIp(text: string): boolean {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) return text.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:]+$/.test(text) && text.includes(':');
}
