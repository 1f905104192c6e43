/**
 * What the `ovh/ovh` provider's `ovh_cloud_project_kube` does with a `cloud.kube.Cluster` body
 * (spec/terraform-provider.md): decode it into its Go struct (a type mismatch is an error), turn
 * it into Terraform state (`ToMap`, with its two panics), and diff that state against the
 * configuration as `terraform plan` would for the attributes the example configuration uses.
 */

/** Go types of the response struct; every field is optional (missing or null = zero value). */
export type GoType =
  | 'string'
  | 'bool'
  | 'int'
  | 'float'
  | { array: GoType }
  | { map: GoType }
  | { object: Record<string, GoType> };

const durationFields = (names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, 'string']));

const CUSTOMIZATION: GoType = {
  object: {
    apiServer: {
      object: {
        admissionPlugins: { object: { enabled: { array: 'string' }, disabled: { array: 'string' } } },
      },
    },
    kubeProxy: {
      object: {
        iptables: { object: durationFields(['minSyncPeriod', 'syncPeriod']) as Record<string, GoType> },
        ipvs: {
          object: durationFields([
            'minSyncPeriod',
            'syncPeriod',
            'scheduler',
            'tcpTimeout',
            'tcpFinTimeout',
            'udpTimeout',
          ]) as Record<string, GoType>,
        },
      },
    },
  },
};

/** `CloudProjectKubeResponse` (HEAD), as far as its JSON tags go. */
const CLUSTER_RESPONSE: GoType = {
  object: {
    id: 'string',
    name: 'string',
    region: 'string',
    version: 'string',
    status: 'string',
    url: 'string',
    nodesUrl: 'string',
    updatePolicy: 'string',
    isUpToDate: 'bool',
    controlPlaneIsUpToDate: 'bool',
    nextUpgradeVersions: { array: 'string' },
    kubeProxyMode: 'string',
    customization: CUSTOMIZATION,
    privateNetworkId: 'string',
    nodesSubnetId: 'string',
    loadBalancersSubnetId: 'string',
    plan: 'string',
    ipAllocationPolicy: { object: { podsIpv4Cidr: 'string', servicesIpv4Cidr: 'string' } },
  },
};

/** `encoding/json` into a typed struct: throws Go's error text on a type mismatch. */
export function goDecode(
  value: unknown,
  type: GoType = CLUSTER_RESPONSE,
  path = 'CloudProjectKubeResponse',
): void {
  if (value === null || value === undefined) return;
  const fail = () => {
    throw new Error(`json: cannot unmarshal ${JSON.stringify(value)} into Go struct field ${path}`);
  };
  if (type === 'string') {
    if (typeof value !== 'string') fail();
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') fail();
  } else if (type === 'int') {
    if (typeof value !== 'number' || !Number.isInteger(value)) fail();
  } else if (type === 'float') {
    if (typeof value !== 'number') fail();
  } else if ('map' in type) {
    if (typeof value !== 'object' || Array.isArray(value)) fail();
    for (const [key, item] of Object.entries(value as Record<string, unknown>))
      goDecode(item, type.map, `${path}[${key}]`);
  } else if ('array' in type) {
    if (!Array.isArray(value)) fail();
    for (const item of value as unknown[]) goDecode(item, type.array, `${path}[]`);
  } else {
    if (typeof value !== 'object' || Array.isArray(value)) fail();
    for (const [key, fieldType] of Object.entries(type.object)) {
      goDecode((value as Record<string, unknown>)[key], fieldType, `${path}.${key}`);
    }
  }
}

/** A provider crash: what Terraform prints is "Plugin did not respond" and a Go stack. */
export class ProviderPanic extends Error {
  constructor(message: string) {
    super(`panic: ${message}`);
    this.name = 'ProviderPanic';
  }
}

export interface KubeProxyBlock {
  iptables?: { min_sync_period?: string; sync_period?: string };
  ipvs?: {
    min_sync_period?: string;
    sync_period?: string;
    scheduler?: string;
    tcp_timeout?: string;
    tcp_fin_timeout?: string;
    udp_timeout?: string;
  };
}

/** The resource's state after a read (the attributes this suite looks at). */
export interface KubeState {
  id: string;
  service_name: string;
  name: string;
  region: string;
  version: string;
  status: string;
  kube_proxy_mode: string;
  update_policy: string;
  plan: string;
  customization_apiserver: { enabled: string[]; disabled: string[] } | undefined;
  customization_kube_proxy: KubeProxyBlock | undefined;
  kubeconfig: string | undefined;
}

const IPTABLES_KEYS = [
  ['minSyncPeriod', 'min_sync_period'],
  ['syncPeriod', 'sync_period'],
] as const;
const IPVS_KEYS = [
  ...IPTABLES_KEYS,
  ['scheduler', 'scheduler'],
  ['tcpTimeout', 'tcp_timeout'],
  ['tcpFinTimeout', 'tcp_fin_timeout'],
  ['udpTimeout', 'udp_timeout'],
] as const;

/** `P0D` in a response is hashed as `PT0S` (CustomIPVSIPTablesSchemaSetFunc). */
const normalizeDuration = (value: string) => (value === 'P0D' ? 'PT0S' : value);

/** The provider's read (`ToMap`) of a decoded response into state. */
export function readIntoState(
  body: unknown,
  previous: Partial<KubeState> & { service_name: string },
): KubeState {
  goDecode(body);
  const response = body as Record<string, unknown>;
  const text = (key: string) => (typeof response[key] === 'string' ? (response[key] as string) : '');

  // version.NewVersion(v), then v[:strings.LastIndex(v, ".")]: "" or "1" panic, "1.31.4" → "1.31".
  const version = text('version');
  const semver = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(version);
  if (semver === null) throw new Error(`Malformed version: ${version}`);
  const normalised = [semver[1], semver[2], semver[3]].filter((part) => part !== undefined).join('.');
  const dot = normalised.lastIndexOf('.');
  if (dot === -1 || semver[2] === undefined) {
    throw new ProviderPanic(`runtime error: slice bounds out of range [:${dot}] (version '${version}')`);
  }
  const truncated = `${semver[1]}.${semver[2]}`;

  const customization = response.customization as
    | {
        apiServer?: {
          admissionPlugins?: { enabled?: string[] | null; disabled?: string[] | null } | null;
        } | null;
        kubeProxy?: {
          iptables?: Record<string, string | null> | null;
          ipvs?: Record<string, string | null> | null;
        } | null;
      }
    | null
    | undefined;

  let apiserver = previous.customization_apiserver;
  if (customization?.apiServer != null) {
    const plugins = customization.apiServer.admissionPlugins;
    // customization.ApiServer.AdmissionPlugins.Enabled — dereferenced without a nil check.
    if (plugins == null)
      throw new ProviderPanic('runtime error: invalid memory address or nil pointer dereference');
    apiserver = {
      enabled: [...(plugins.enabled ?? [])].sort(),
      disabled: [...(plugins.disabled ?? [])].sort(),
    };
  }

  // Set only when some iptables/ipvs string is non-empty; otherwise the state keeps what it had.
  let kubeProxy = previous.customization_kube_proxy;
  const proxy = customization?.kubeProxy;
  if (proxy != null) {
    const block: KubeProxyBlock = {};
    let any = false;
    if (proxy.iptables != null) {
      const section: Record<string, string> = {};
      for (const [json, attribute] of IPTABLES_KEYS) {
        const value = proxy.iptables[json];
        if (typeof value === 'string' && value !== '') {
          section[attribute] = normalizeDuration(value);
          any = true;
        }
      }
      block.iptables = section;
    }
    if (proxy.ipvs != null) {
      const section: Record<string, string> = {};
      for (const [json, attribute] of IPVS_KEYS) {
        const value = proxy.ipvs[json];
        if (typeof value === 'string' && value !== '') {
          section[attribute] = json === 'scheduler' ? value : normalizeDuration(value);
          any = true;
        }
      }
      block.ipvs = section;
    }
    if (any) kubeProxy = block;
  }

  return {
    id: text('id'),
    service_name: previous.service_name,
    name: text('name'),
    region: text('region'),
    version: truncated,
    status: text('status'),
    kube_proxy_mode: text('kubeProxyMode'),
    update_policy: text('updatePolicy'),
    plan: text('plan'),
    customization_apiserver: apiserver,
    customization_kube_proxy: kubeProxy,
    kubeconfig: previous.kubeconfig,
  };
}

/** The example configuration's `ovh_cloud_project_kube` arguments. */
export interface KubeConfig {
  service_name: string;
  region: string;
  name?: string;
  version?: string;
  kube_proxy_mode?: 'iptables' | 'ipvs';
  update_policy?: string;
  customization_kube_proxy?: KubeProxyBlock;
}

/** `terraform plan` for these attributes: the differences, `attribute: state -> config`. */
export function planDiff(config: KubeConfig, state: KubeState): string[] {
  const diffs: string[] = [];
  const show = (value: unknown) => (value === undefined ? 'null' : JSON.stringify(value));
  // Optional, not Computed: unset in config is null, and SDKv2 treats "" in state as null.
  if ((config.name ?? '') !== state.name) diffs.push(`name: ${show(state.name)} -> ${show(config.name)}`);
  // ForceNew: a difference here replaces the cluster (issue #1425).
  if (config.region !== state.region)
    diffs.push(`region (forces replacement): ${state.region} -> ${config.region}`);
  if (config.kube_proxy_mode !== undefined && config.kube_proxy_mode !== state.kube_proxy_mode) {
    diffs.push(`kube_proxy_mode (forces replacement): ${state.kube_proxy_mode} -> ${config.kube_proxy_mode}`);
  }
  // Optional + Computed: only a configured value can differ.
  if (config.version !== undefined && config.version !== state.version) {
    diffs.push(`version: ${state.version} -> ${config.version}`);
  }
  if (config.update_policy !== undefined && config.update_policy !== state.update_policy) {
    diffs.push(`update_policy: ${state.update_policy} -> ${config.update_policy}`);
  }
  // Optional, not Computed, MaxItems 1: compared whole (a set hash of every field).
  const wanted = canonicalBlock(config.customization_kube_proxy);
  const have = canonicalBlock(state.customization_kube_proxy);
  if (JSON.stringify(wanted) !== JSON.stringify(have)) {
    diffs.push(`customization_kube_proxy: ${show(have)} -> ${show(wanted)}`);
  }
  return diffs;
}

function canonicalBlock(block: KubeProxyBlock | undefined): unknown {
  if (block === undefined) return undefined;
  const section = (
    value: Record<string, string | undefined> | undefined,
    keys: readonly (readonly [string, string])[],
  ) => Object.fromEntries(keys.map(([, attribute]) => [attribute, value?.[attribute] ?? '']));
  return {
    iptables: section(block.iptables, IPTABLES_KEYS),
    ipvs: section(block.ipvs, IPVS_KEYS),
  };
}

/**
 * The `customization.kubeProxy` JSON the provider marshals from a block: both sections always
 * present, unset fields omitted (`omitempty`), keys in the Go struct's order.
 */
export function kubeProxyJson(block: KubeProxyBlock | undefined): string {
  const section = (
    value: Record<string, string | undefined> | undefined,
    keys: readonly (readonly [string, string])[],
  ) =>
    `{${keys
      .filter(([, attribute]) => value?.[attribute] !== undefined && value[attribute] !== '')
      .map(([json, attribute]) => `${JSON.stringify(json)}:${JSON.stringify(value![attribute])}`)
      .join(',')}}`;
  return `{"iptables":${section(block?.iptables, IPTABLES_KEYS)},"ipvs":${section(block?.ipvs, IPVS_KEYS)}}`;
}
