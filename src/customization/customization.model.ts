/**
 * The customization model: what OVH's `cloud.ProjectKubeCustomization` carries on the wire, and the
 * narrower form mks stores (only what the user set, durations as the exact strings received, so
 * they can be echoed back byte for byte — see DESIGN.md §3 "Echo").
 */

export const KUBE_PROXY_MODES = ['iptables', 'ipvs'] as const;
export type KubeProxyMode = (typeof KUBE_PROXY_MODES)[number];

/** The mode a reset installs when its body names none (a creation's default is `iptables`). */
export const RESET_KUBE_PROXY_MODE: KubeProxyMode = 'ipvs';

/** OVH's `cloud.kube.KubeProxyIpvsSchedulerEnum`. */
export const IPVS_SCHEDULERS = ['dh', 'lc', 'nq', 'rr', 'sed', 'sh'] as const;
export type IpvsScheduler = (typeof IPVS_SCHEDULERS)[number];

/** OVH's `cloud.ProjectKubeCustomizationAPIServerAdmissionPluginsEnum`. */
export const ADMISSION_PLUGINS = ['AlwaysPullImages', 'NodeRestriction'] as const;
export type AdmissionPlugin = (typeof ADMISSION_PLUGINS)[number];

/** What OVH reports for a cluster whose admission plugins were never customized. */
export const DEFAULT_ENABLED_PLUGINS: readonly AdmissionPlugin[] = ['AlwaysPullImages', 'NodeRestriction'];

export interface IptablesSettings {
  minSyncPeriod?: string;
  syncPeriod?: string;
}

export interface IpvsSettings {
  minSyncPeriod?: string;
  syncPeriod?: string;
  scheduler?: IpvsScheduler;
  tcpTimeout?: string;
  tcpFinTimeout?: string;
  udpTimeout?: string;
}

export interface KubeProxySettings {
  iptables?: IptablesSettings;
  ipvs?: IpvsSettings;
}

export interface AdmissionPluginsSettings {
  enabled: AdmissionPlugin[];
  disabled: AdmissionPlugin[];
}

/** The stored form: absent means "never set", never "set to the default". */
export interface Customization {
  apiServer?: { admissionPlugins: AdmissionPluginsSettings };
  kubeProxy?: KubeProxySettings;
}

/**
 * The wire form, as clients send it: every level optional and nullable. Enumerated values are
 * plain strings here because they come from outside; validateCustomization names any that are
 * not allowed (the schema refuses them first, this keeps the service safe without it).
 */
export interface CustomizationInput {
  apiServer?: {
    admissionPlugins?: {
      enabled?: string[] | null;
      disabled?: string[] | null;
    } | null;
  } | null;
  kubeProxy?: {
    iptables?: {
      minSyncPeriod?: string | null;
      syncPeriod?: string | null;
    } | null;
    ipvs?: {
      minSyncPeriod?: string | null;
      syncPeriod?: string | null;
      scheduler?: string | null;
      tcpTimeout?: string | null;
      tcpFinTimeout?: string | null;
      udpTimeout?: string | null;
    } | null;
  } | null;
}

/** The echo returned by GET /customization and inside the cluster object. */
export interface CustomizationView {
  apiServer: { admissionPlugins: AdmissionPluginsSettings };
  kubeProxy: KubeProxySettings;
}

// The schemas below are plain JSON Schema (no `$ref`) so fastify/ajv can compile them and the
// OpenAPI 3.1 generator can embed them as they are. Durations are only typed as strings here:
// their grammar and kube-proxy's rules are checked by validateCustomization, which can say which
// rule failed instead of "must match pattern".

const DURATION_FORMAT = 'ISO 8601 duration, e.g. PT30S';

const duration = (what: string) => ({
  type: ['string', 'null'],
  description: `${what}. ${DURATION_FORMAT}`,
});

const pluginList = (what: string) => ({
  type: ['array', 'null'],
  description: what,
  items: { type: 'string', enum: [...ADMISSION_PLUGINS] },
});

export const apiServerSchema = {
  type: ['object', 'null'],
  description: 'kube-apiserver customization',
  additionalProperties: false,
  properties: {
    admissionPlugins: {
      type: ['object', 'null'],
      description: 'Admission plugins to enable or disable',
      additionalProperties: false,
      properties: {
        enabled: pluginList('Admission plugins to enable'),
        disabled: pluginList('Admission plugins to disable (only AlwaysPullImages can be disabled)'),
      },
    },
  },
};

export const kubeProxySchema = {
  type: ['object', 'null'],
  description: 'kube-proxy customization; fields not set keep kube-proxy defaults',
  additionalProperties: false,
  properties: {
    iptables: {
      type: ['object', 'null'],
      description: 'Settings used when kubeProxyMode is iptables',
      additionalProperties: false,
      properties: {
        minSyncPeriod: duration('Minimum period between two iptables rule syncs (kube-proxy default PT1S)'),
        syncPeriod: duration('Period of full iptables rule resyncs (kube-proxy default PT30S)'),
      },
    },
    ipvs: {
      type: ['object', 'null'],
      description: 'Settings used when kubeProxyMode is ipvs',
      additionalProperties: false,
      properties: {
        minSyncPeriod: duration('Minimum period between two IPVS rule syncs (kube-proxy default PT0S)'),
        syncPeriod: duration('Period of full IPVS rule resyncs (kube-proxy default PT30S)'),
        scheduler: {
          type: ['string', 'null'],
          description: 'IPVS scheduler (kube-proxy default rr)',
          enum: [...IPVS_SCHEDULERS, null],
        },
        tcpTimeout: duration("Timeout for idle IPVS TCP sessions; cannot be set between 'PT0S' and 'PT5S'"),
        tcpFinTimeout: duration('Timeout for IPVS TCP sessions after receiving a FIN'),
        udpTimeout: duration('Timeout for IPVS UDP packets'),
      },
    },
  },
};

export const customizationSchema = {
  type: ['object', 'null'],
  description: 'Cluster customization: kube-apiserver admission plugins and kube-proxy settings',
  additionalProperties: false,
  properties: {
    apiServer: apiServerSchema,
    kubeProxy: kubeProxySchema,
  },
};
