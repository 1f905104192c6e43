import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderClusterConfig } from './kube-proxy-config.ts';
import { previewCustomization, previewReset } from './preview.ts';

const IPVS_CLUSTER = {
  version: '1.32.4',
  kubeProxyMode: 'ipvs' as const,
  customization: { kubeProxy: { ipvs: { scheduler: 'rr' as const, syncPeriod: 'PT30S' } } },
};

test('a preview lists every effective kube-proxy value, marking what kube-proxy defaults', () => {
  const preview = previewCustomization(IPVS_CLUSTER, {
    kubeProxy: { iptables: { minSyncPeriod: 'PT0S' }, ipvs: { syncPeriod: 'PT1M30S', tcpTimeout: 'PT10S' } },
  });
  assert.equal(preview.valid, true);
  assert.deepEqual(preview.effective?.kubeProxy, {
    mode: 'ipvs',
    iptables: {
      // An explicit zero is "not set" to kube-proxy's defaulting.
      minSyncPeriod: { value: '1s', defaulted: true, set: 'PT0S' },
      syncPeriod: { value: '30s', defaulted: true },
    },
    ipvs: {
      minSyncPeriod: { value: '0s', defaulted: true },
      scheduler: { value: 'rr', defaulted: true },
      syncPeriod: { value: '1m30s', defaulted: false, set: 'PT1M30S' },
      tcpFinTimeout: { value: '0s', defaulted: true },
      tcpTimeout: { value: '10s', defaulted: false, set: 'PT10S' },
      udpTimeout: { value: '0s', defaulted: true },
    },
  });
  assert.deepEqual(preview.effective?.apiServer.admissionPlugins, {
    enabled: ['AlwaysPullImages', 'NodeRestriction'],
    disabled: [],
  });
  assert.equal(preview.disruption, 'rolling-restart');
  assert.equal(preview.configConf.current, renderClusterConfig('ipvs', IPVS_CLUSTER.customization));
  assert.match(
    preview.configConf.diff ?? '',
    /^- {2}scheduler: rr\n- {2}syncPeriod: 30s\n\+ {2}syncPeriod: 1m30s\n\+ {2}tcpTimeout: 10s$/m,
  );
  assert.deepEqual(preview.warnings, [
    'customization.kubeProxy.iptables: set, but the cluster runs kube-proxy in ipvs mode, which uses kubeProxy.ipvs only; these values take effect only after a reset to iptables mode',
  ]);
});

test('a preview of what is already set changes nothing and disrupts nothing', () => {
  const preview = previewCustomization(IPVS_CLUSTER, {
    kubeProxy: { ipvs: { syncPeriod: 'PT30S', scheduler: 'rr' } },
  });
  assert.equal(preview.disruption, 'none');
  assert.equal(preview.configConf.diff, '');
  assert.equal(preview.configConf.next, preview.configConf.current);
});

test('an invalid change is reported with every problem, and nothing is rendered for it', () => {
  const preview = previewCustomization(IPVS_CLUSTER, {
    kubeProxy: { ipvs: { scheduler: 'fifo' as 'rr', tcpTimeout: 'PT2S' } },
  });
  assert.equal(preview.valid, false);
  assert.equal(preview.errors.length, 2);
  assert.match(preview.errors[0]!, /^customization\.kubeProxy\.ipvs\.tcpTimeout: "PT2S" cannot be set/);
  assert.match(preview.errors[1]!, /^customization\.kubeProxy\.ipvs\.scheduler: "fifo" is not a supported/);
  assert.equal(preview.effective, null);
  assert.equal(preview.disruption, null);
  assert.deepEqual(preview.configConf, {
    current: renderClusterConfig('ipvs', IPVS_CLUSTER.customization),
    next: null,
    diff: null,
  });
});

test('a preview on Kubernetes 1.35 in ipvs mode carries the deprecation warning a PUT returns', () => {
  const preview = previewCustomization({ ...IPVS_CLUSTER, version: '1.35.0' }, {});
  assert.match(preview.warnings[0] ?? '', /ipvs mode is deprecated since Kubernetes 1\.35/);
});

test('a reset is always reset-required, and says what it changes: the mode, the version, the customization sent only', () => {
  const same = previewReset(IPVS_CLUSTER, {
    version: IPVS_CLUSTER.version,
    kubeProxyMode: 'ipvs',
    customization: IPVS_CLUSTER.customization,
  });
  assert.equal(same.valid, true);
  assert.equal(same.disruption, 'reset-required');
  assert.equal(same.configConf.diff, '');
  assert.deepEqual(same.warnings, [
    'a reset erases every object of the cluster outside its system namespaces and reinstalls kube-proxy',
  ]);

  // Nothing sent: ipvs and kube-proxy's defaults (the stored customization is not kept).
  const bare = previewReset(IPVS_CLUSTER, { version: '1.33.1' });
  assert.equal(bare.configConf.next, renderClusterConfig('ipvs', {}));
  assert.ok(bare.warnings.includes('version: 1.32.4 → 1.33.1'), JSON.stringify(bare.warnings));
  assert.ok(!bare.warnings.some((warning) => warning.startsWith('kubeProxyMode')));

  const iptables = previewReset(IPVS_CLUSTER, { version: '1.32.4', kubeProxyMode: 'iptables' });
  assert.ok(iptables.warnings.includes('kubeProxyMode: ipvs → iptables'));
  assert.equal(iptables.effective?.kubeProxy.mode, 'iptables');
});
