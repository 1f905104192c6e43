/**
 * What a customization change would do, computed without doing it (an mks extension): the PUT's
 * merge rule, its validation and the reconciler's render, from the same functions they use, so a
 * preview shows byte for byte the `config.conf` a PUT then rolls out.
 */
import type { Customization, CustomizationInput, KubeProxyMode } from './customization.model.ts';
import {
  customizationProblems,
  type EffectiveKubeProxy,
  effectiveAdmissionPlugins,
  effectiveKubeProxy,
  kubeProxyWarnings,
  mergeCustomization,
} from './customization.ts';
import { configHash, renderClusterConfig } from './kube-proxy-config.ts';
import { unifiedDiff } from './unified-diff.ts';

/**
 * What the change costs kube-proxy on the nodes: `none` when its config is unchanged,
 * `rolling-restart` when kube-proxy is restarted node by node for the new config.
 */
export type Disruption = 'none' | 'rolling-restart';

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

export function previewCustomization(
  cluster: PreviewedCluster,
  patch: CustomizationInput,
): CustomizationPreview {
  const current = renderClusterConfig(cluster.kubeProxyMode, cluster.customization);
  const next = mergeCustomization(cluster.customization, patch);
  const errors = customizationProblems(next);
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
  const rendered = renderClusterConfig(cluster.kubeProxyMode, next);
  return {
    valid: true,
    errors: [],
    warnings: [
      ...kubeProxyWarnings(cluster.version, cluster.kubeProxyMode),
      ...unusedSectionWarnings(cluster.kubeProxyMode, next),
    ],
    effective: {
      kubeProxy: effectiveKubeProxy(cluster.kubeProxyMode, next.kubeProxy),
      apiServer: { admissionPlugins: effectiveAdmissionPlugins(next) },
    },
    configConf: {
      current,
      next: rendered,
      diff: unifiedDiff(current, rendered, { before: 'config.conf (current)', after: 'config.conf (next)' }),
    },
    disruption: configHash(rendered) === configHash(current) ? 'none' : 'rolling-restart',
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
