import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadKubeProxyConfig } from './kube-proxy.ts';

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
