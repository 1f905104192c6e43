/**
 * kube-proxy's defaulting (v1alpha1 SetDefaults) and Validate(), on the decoded `config.conf`:
 * effective sync periods, Linux (conntrack, OOM score), IPVS, bind addresses, node port
 * addresses, local traffic detection. Texts and field paths are kube-proxy's (field.ErrorList).
 */
import { parseGoDuration } from './go-duration.ts';

const durationNs = (value: unknown): bigint => (typeof value === 'string' ? parseGoDuration(value) : 0n);

const goDurationValue = (ns: bigint): string => `v1.Duration{Duration:${ns}}`;

const LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', ''];

/** Defaulting (v1alpha1 SetDefaults) then Validate(), on effective values (spec §2.2, §2.3). */
export function validate(config: Record<string, unknown>, minor: number): string[] {
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

function isCidr(text: string): boolean {
  const [ip, bits, ...rest] = text.split('/');
  if (rest.length > 0 || ip === undefined || bits === undefined || !/^\d+$/.test(bits)) return false;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip))
    return ip.split('.').every((o) => Number(o) <= 255) && Number(bits) <= 32;
  return ip.includes(':') && Number(bits) <= 128;
}

function isIp(text: string): boolean {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) return text.split('.').every((o) => Number(o) <= 255);
  return /^[0-9a-fA-F:]+$/.test(text) && text.includes(':');
}
