import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  loadKubeProxyConfig,
  MISSING_KERNEL_MODULES_ANNOTATION,
  missingKernelModules,
} from './kube-proxy.ts';

const HEAD = 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n';
const refused = (text: string, version = '1.31.4') => {
  const result = loadKubeProxyConfig(text, version);
  return result.ok ? undefined : result.message;
};

test('unknown keys are ignored', () => {
  assert.equal(refused(`${HEAD}mode: iptables\nsyncPeriod: 1d\nipvs:\n  masqueradeAll: true\n`), undefined);
});

test('durations that are not Go durations fail to decode', () => {
  assert.equal(
    refused(`${HEAD}iptables:\n  syncPeriod: PT30S\n`),
    'failed complete: failed to decode: time: invalid duration "PT30S"',
  );
  assert.match(refused(`${HEAD}iptables:\n  syncPeriod: 30\n`)!, /cannot unmarshal number/);
  assert.match(refused(`${HEAD}iptables:\n  syncPeriod: 1d\n`)!, /time: unknown unit "d" in duration "1d"/);
  assert.match(refused(`${HEAD}iptables:\n  syncPeriod:\n`)!, /time: invalid duration ""/);
  assert.match(
    refused('kind: KubeProxyConfiguration\napiVersion: v1\n')!,
    /^failed complete: failed to decode: no kind/,
  );
});

test('validation uses effective values and, from 1.31, only the mode-selected section', () => {
  assert.match(
    refused(`${HEAD}mode: iptables\niptables:\n  minSyncPeriod: 45s\n`)!,
    /^failed validate: KubeProxyConfiguration\.SyncPeriod: .*must be greater than or equal to KubeProxyConfiguration\.MinSyncPeriod/,
  );
  assert.equal(refused(`${HEAD}mode: ipvs\niptables:\n  minSyncPeriod: 45s\n`), undefined);
  assert.match(
    refused(`${HEAD}mode: ipvs\niptables:\n  minSyncPeriod: 45s\n`, '1.30.2')!,
    /KubeProxyIPTablesConfiguration\.SyncPeriod/,
  );
  assert.match(
    refused(`${HEAD}mode: ipvs\nipvs:\n  minSyncPeriod: 1m\n`)!,
    /must be greater than or equal to/,
  );
  assert.match(
    refused(`${HEAD}mode: IPVS\n`)!,
    /KubeProxyConfiguration\.Mode\.ProxyMode: Invalid value: "IPVS"/,
  );
  assert.match(refused(`${HEAD}mode: iptables\niptables:\n  syncPeriod: -1s\n`)!, /must be greater than 0/);
});

test("a node's missing kernel modules make kube-proxy in IPVS mode fail at start-up, and only there", () => {
  const ipvs = (scheduler: string) => `${HEAD}mode: ipvs\nipvs:\n  scheduler: "${scheduler}"\n`;
  const on = (text: string, modules: string[]) => {
    const result = loadKubeProxyConfig(text, '1.32.1', modules);
    return result.ok ? undefined : result.message;
  };
  assert.equal(on(ipvs('mh'), []), undefined);
  assert.equal(
    on(ipvs('mh'), ['ip_vs_mh']),
    `Error running ProxyServer: can't use the IPVS proxier: Could not create dummy VS: scheduler="mh": no such file or directory`,
  );
  // Another scheduler's module is not needed; a blank scheduler is rr.
  assert.equal(on(ipvs('sh'), ['ip_vs_mh']), undefined);
  assert.match(on(ipvs(''), ['ip_vs_rr'])!, /scheduler="rr": no such file or directory$/);
  assert.match(
    on(ipvs('rr'), ['ip_vs'])!,
    /^Error running ProxyServer: can't use the IPVS proxier: could not get ipvs family information from the kernel/,
  );
  // iptables mode does not use IPVS.
  assert.equal(on(`${HEAD}mode: iptables\n`, ['ip_vs', 'ip_vs_rr']), undefined);
});

test('missingKernelModules reads the Node annotation: comma or space separated, deduplicated', () => {
  assert.deepEqual(missingKernelModules(undefined), []);
  assert.deepEqual(
    missingKernelModules({ [MISSING_KERNEL_MODULES_ANNOTATION]: ' ip_vs_mh, ip_vs ip_vs_mh' }),
    ['ip_vs', 'ip_vs_mh'],
  );
});
