/**
 * What a customization change or a reset would do, computed without doing it (an mks extension):
 * the PUT's merge rule (a reset's normalization), its validation and the reconciler's render, from
 * the same functions they use, so a preview shows byte for byte the `config.conf` the change then
 * rolls out.
 */
import {
  type Customization,
  type CustomizationInput,
  type KubeProxyMode,
  RESET_KUBE_PROXY_MODE,
} from './customization.model.ts';
import {
  customizationProblems,
  type EffectiveKubeProxy,
  effectiveAdmissionPlugins,
  effectiveKubeProxy,
  kubeProxyWarnings,
  mergeCustomization,
  normalizeCustomization,
} from './customization.ts';
import { configHash, renderClusterConfig } from './kube-proxy-config.ts';
import { unifiedDiff } from './unified-diff.ts';

/**
 * What the change costs kube-proxy on the nodes: `none` when its config is unchanged,
 * `rolling-restart` when kube-proxy is restarted node by node for the new config,
 * `reset-required` for a reset (the only way to change the mode): the cluster's Kubernetes data is
 * erased and kube-proxy reinstalled.
 */
export type Disruption = 'none' | 'rolling-restart' | 'reset-required';

export interface CustomizationPreview {
  readonly valid: boolean;
  /** Why the change would be refused (the PUT's 400 message, one problem each). */
  readonly errors: string[];
  /** What the PUT's message would add, and values that have no effect in the cluster's mode. */
  readonly warnings: string[];
  /** Every value the cluster would run with, set or defaulted; null when invalid. */
  readonly effective: {
    readonly kubeProxy: EffectiveKubeProxy;
    readonly apiServer: { readonly admissionPlugins: ReturnType<typeof effectiveAdmissionPlugins> };
  } | null;
  readonly configConf: {
    readonly current: string;
    /** null when invalid: nothing would be rendered. */
    readonly next: string | null;
    /** Unified diff of current → next; '' when equal, null when invalid. */
    readonly diff: string | null;
  };
  /** null when invalid. */
  readonly disruption: Disruption | null;
}

export interface PreviewedCluster {
  readonly version: string;
  readonly kubeProxyMode: KubeProxyMode;
  readonly customization: Customization;
}

/** What a customization update (`PUT …/customization` with `patch`) would do. */
export function previewCustomization(
  cluster: PreviewedCluster,
  patch: CustomizationInput,
): CustomizationPreview {
  const next = mergeCustomization(cluster.customization, patch);
  return preview(cluster, { ...cluster, customization: next }, [], (changed) =>
    changed ? 'rolling-restart' : 'none',
  );
}

/** What a reset takes that changes kube-proxy: what is not sent resets to its default (ipvs, nothing set). */
export interface ResetInput {
  /** The version the reset installs (the cluster's when not sent). */
  readonly version: string;
  readonly kubeProxyMode?: KubeProxyMode | null | undefined;
  readonly customization?: CustomizationInput | null | undefined;
}

/** What a reset (`POST …/reset` with the same body) would do: always `reset-required`. */
export function previewReset(cluster: PreviewedCluster, input: ResetInput): CustomizationPreview {
  const mode = input.kubeProxyMode ?? RESET_KUBE_PROXY_MODE;
  const changes = [
    'a reset erases every object of the cluster outside its system namespaces and reinstalls kube-proxy',
    ...(mode === cluster.kubeProxyMode ? [] : [`kubeProxyMode: ${cluster.kubeProxyMode} → ${mode}`]),
    ...(input.version === cluster.version ? [] : [`version: ${cluster.version} → ${input.version}`]),
  ];
  const next = {
    version: input.version,
    kubeProxyMode: mode,
    customization: normalizeCustomization(input.customization),
  };
  return preview(cluster, next, changes, () => 'reset-required');
}

/** The preview of `next` against `cluster`; `notes` lead the warnings when it is valid. */
function preview(
  cluster: PreviewedCluster,
  next: PreviewedCluster,
  notes: readonly string[],
  disruption: (changed: boolean) => Disruption,
): CustomizationPreview {
  const current = renderClusterConfig(cluster.kubeProxyMode, cluster.customization);
  const errors = customizationProblems(next.customization);
  if (errors.length > 0) {
    return {
      valid: false,
      errors,
      warnings: [],
      effective: null,
      configConf: { current, next: null, diff: null },
      disruption: null,
    };
  }
  const rendered = renderClusterConfig(next.kubeProxyMode, next.customization);
  return {
    valid: true,
    errors: [],
    warnings: [
      ...notes,
      ...kubeProxyWarnings(next.version, next.kubeProxyMode),
      ...unusedSectionWarnings(next.kubeProxyMode, next.customization),
    ],
    effective: {
      kubeProxy: effectiveKubeProxy(next.kubeProxyMode, next.customization.kubeProxy),
      apiServer: { admissionPlugins: effectiveAdmissionPlugins(next.customization) },
    },
    configConf: {
      current,
      next: rendered,
      diff: unifiedDiff(current, rendered, { before: 'config.conf (current)', after: 'config.conf (next)' }),
    },
    disruption: disruption(configHash(rendered) !== configHash(current)),
  };
}

/** kube-proxy (1.31 and later) reads only the section of its mode (spec/kube-proxy.md §1.2). */
function unusedSectionWarnings(mode: KubeProxyMode, customization: Customization): string[] {
  const other = mode === 'ipvs' ? 'iptables' : 'ipvs';
  if (customization.kubeProxy?.[other] === undefined) return [];
  return [
    `customization.kubeProxy.${other}: set, but the cluster runs kube-proxy in ${mode} mode, which uses ` +
      `kubeProxy.${mode} only; these values take effect only after a reset to ${other} mode`,
  ];
}
