/**
 * Renders the `kube-system/kube-proxy` ConfigMap's `config.conf` (kubeadm layout, spec/kube-proxy.md
 * §4.1 and §4.3; `kubeconfig.conf` is kubeadm's and mks leaves it alone). Built by hand rather than with a YAML serializer so the bytes are fixed by this
 * file alone: the same input always hashes the same, and the rollout never restarts kube-proxy
 * for a config that did not change.
 */

import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { Customization, IpvsSettings, KubeProxyMode, KubeProxySettings } from './customization.model.ts';
import { formatGoDuration, parseIsoDuration } from './duration.ts';

/**
 * A YAML scalar that reads back as the same string. kube-proxy decodes with sigs.k8s.io/yaml
 * (YAML 1.1 rules: `on`, `yes`, `1_000`, dates are not strings there) while other tools use 1.2,
 * so a value is written plain only when both versions read it back unchanged; otherwise it is
 * double-quoted (a JSON string is a valid YAML double-quoted scalar).
 */
function scalar(value: string): string {
  const plain =
    /^[A-Za-z0-9./_-][A-Za-z0-9.:/_,+-]*$/.test(value) &&
    parse(value, { version: '1.1' }) === value &&
    parse(value, { version: '1.2' }) === value;
  return plain ? value : JSON.stringify(value);
}

/** ISO 8601 as received → Go's canonical form (`PT1M30S` → `1m30s`); input was validated. */
const goDuration = (iso: string): string => formatGoDuration(parseIsoDuration(iso));

type Entry = readonly [key: string, value: string | undefined];

function section(name: string, entries: readonly Entry[]): string[] {
  const lines = entries.flatMap(([key, value]) =>
    value === undefined ? [] : [`  ${key}: ${scalar(value)}`],
  );
  return lines.length === 0 ? [] : [`${name}:`, ...lines];
}

const durationOf = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : goDuration(value);

function ipvsEntries(ipvs: IpvsSettings | undefined): Entry[] {
  // Alphabetical, as kubeadm and OVH write them.
  return [
    ['minSyncPeriod', durationOf(ipvs?.minSyncPeriod)],
    ['scheduler', ipvs?.scheduler],
    ['syncPeriod', durationOf(ipvs?.syncPeriod)],
    ['tcpFinTimeout', durationOf(ipvs?.tcpFinTimeout)],
    ['tcpTimeout', durationOf(ipvs?.tcpTimeout)],
    ['udpTimeout', durationOf(ipvs?.udpTimeout)],
  ];
}

/**
 * `config.conf`: mks-owned base fields, the cluster's mode, then only the user's kube-proxy fields
 * (anything left out keeps kube-proxy's default). Both `iptables` and `ipvs` are written when set;
 * kube-proxy uses the one matching `mode`. Expects a validated customization: an invalid duration
 * throws DurationError.
 */
export function renderKubeProxyConfig(input: {
  mode: KubeProxyMode;
  kubeProxy?: KubeProxySettings;
  clusterCIDR: string;
}): string {
  const { iptables, ipvs } = input.kubeProxy ?? {};
  const lines = [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
    'kind: KubeProxyConfiguration',
    'bindAddress: 0.0.0.0',
    'clientConnection:',
    '  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf',
    `clusterCIDR: ${scalar(input.clusterCIDR)}`,
    `mode: ${scalar(input.mode)}`,
    ...section('iptables', [
      ['minSyncPeriod', durationOf(iptables?.minSyncPeriod)],
      ['syncPeriod', durationOf(iptables?.syncPeriod)],
    ]),
    ...section('ipvs', ipvsEntries(ipvs)),
  ];
  return `${lines.join('\n')}\n`;
}

/** The pod network every cluster's kube-proxy is given (`clusterCIDR`). */
export const CLUSTER_CIDR = '10.2.0.0/16';

/**
 * The `config.conf` a cluster runs for its mode and customization: what the reconciler applies
 * and what a preview shows, from this one function.
 */
export function renderClusterConfig(mode: KubeProxyMode, customization: Customization): string {
  return renderKubeProxyConfig({
    mode,
    ...(customization.kubeProxy === undefined ? {} : { kubeProxy: customization.kubeProxy }),
    clusterCIDR: CLUSTER_CIDR,
  });
}

/** Short content hash for the DaemonSet's restart annotation: same config, same value, no restart. */
export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
