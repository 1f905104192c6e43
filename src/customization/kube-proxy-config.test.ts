import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DurationError, parseGoDuration } from './duration.ts';
import { configHash, renderKubeProxyConfig } from './kube-proxy-config.ts';

/** The fields every rendering starts with, for a cluster in `mode` on the default pod subnet. */
const baseLines = (mode: string) => [
  'apiVersion: kubeproxy.config.k8s.io/v1alpha1',
  'kind: KubeProxyConfiguration',
  'bindAddress: 0.0.0.0',
  'clientConnection:',
  '  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf',
  'clusterCIDR: 10.2.0.0/16',
  `mode: ${mode}`,
];

test('a cluster without kube-proxy customization gets only the base fields and its mode', () => {
  assert.equal(
    renderKubeProxyConfig({ mode: 'iptables', clusterCIDR: '10.2.0.0/16' }),
    [...baseLines('iptables'), ''].join('\n'),
  );
});

test("the guide's create payload renders both sections with Go durations in a fixed order", () => {
  const text = renderKubeProxyConfig({
    mode: 'ipvs',
    clusterCIDR: '10.2.0.0/16',
    kubeProxy: {
      ipvs: {
        udpTimeout: 'PT0S',
        tcpTimeout: 'PT0S',
        tcpFinTimeout: 'PT0S',
        syncPeriod: 'PT30S',
        scheduler: 'rr',
        minSyncPeriod: 'PT0S',
      },
      iptables: { syncPeriod: 'PT30S', minSyncPeriod: 'PT1S' },
    },
  });
  assert.equal(
    text,
    [
      ...baseLines('ipvs'),
      'iptables:',
      '  minSyncPeriod: 1s',
      '  syncPeriod: 30s',
      'ipvs:',
      '  minSyncPeriod: 0s',
      '  scheduler: rr',
      '  syncPeriod: 30s',
      '  tcpFinTimeout: 0s',
      '  tcpTimeout: 0s',
      '  udpTimeout: 0s',
      '',
    ].join('\n'),
  );
});

test('only the fields the user set are written, converted to Go canonical form', () => {
  const text = renderKubeProxyConfig({
    mode: 'iptables',
    clusterCIDR: '10.2.0.0/16',
    kubeProxy: { iptables: { syncPeriod: 'PT1M30S' }, ipvs: { tcpTimeout: 'P1D', udpTimeout: 'PT0,5S' } },
  });
  assert.ok(
    text.endsWith(
      ['iptables:', '  syncPeriod: 1m30s', 'ipvs:', '  tcpTimeout: 24h0m0s', '  udpTimeout: 500ms', ''].join(
        '\n',
      ),
    ),
    text,
  );
  assert.ok(!text.includes('minSyncPeriod'));
});

test('the rendered file reads back with the values kube-proxy will decode', () => {
  const text = renderKubeProxyConfig({
    mode: 'ipvs',
    clusterCIDR: '10.2.0.0/16,fd00:10:2::/56',
    kubeProxy: { iptables: { minSyncPeriod: 'PT1H30S' }, ipvs: { syncPeriod: 'PT1.5S', scheduler: 'sed' } },
  });
  for (const version of ['1.1', '1.2'] as const) {
    const doc = parse(text, { version });
    assert.equal(doc.clusterCIDR, '10.2.0.0/16,fd00:10:2::/56');
    assert.equal(doc.clientConnection.kubeconfig, '/var/lib/kube-proxy/kubeconfig.conf');
    assert.equal(parseGoDuration(doc.iptables.minSyncPeriod), 3_630_000_000_000n);
    assert.equal(doc.ipvs.syncPeriod, '1.5s');
    assert.equal(doc.ipvs.scheduler, 'sed');
  }
});

test('values YAML could misread are quoted', () => {
  for (const cidr of [
    'on',
    'yes',
    '10',
    '',
    ' 10.0.0.0/8',
    'a: b',
    '#x',
    '1_000',
    '2001-12-14',
    'null',
    '~',
  ]) {
    const text = renderKubeProxyConfig({ mode: 'iptables', clusterCIDR: cidr });
    for (const version of ['1.1', '1.2'] as const) {
      assert.equal(parse(text, { version }).clusterCIDR, cidr, `${JSON.stringify(cidr)} in YAML ${version}`);
    }
  }
});

test('the same input always renders the same bytes, whatever the key order received', () => {
  const a = renderKubeProxyConfig({
    mode: 'ipvs',
    clusterCIDR: '10.2.0.0/16',
    kubeProxy: { ipvs: { scheduler: 'rr', syncPeriod: 'PT30S' }, iptables: { syncPeriod: 'PT30S' } },
  });
  const b = renderKubeProxyConfig({
    clusterCIDR: '10.2.0.0/16',
    kubeProxy: { iptables: { syncPeriod: 'PT30S' }, ipvs: { syncPeriod: 'PT30S', scheduler: 'rr' } },
    mode: 'ipvs',
  });
  assert.equal(a, b);
  assert.equal(configHash(a), configHash(b));
});

test('equal durations in different ISO spellings render identically', () => {
  const render = (syncPeriod: string) =>
    renderKubeProxyConfig({
      mode: 'iptables',
      clusterCIDR: '10.2.0.0/16',
      kubeProxy: { iptables: { syncPeriod } },
    });
  assert.equal(render('PT90S'), render('PT1M30S'));
  assert.equal(render('PT1.5M'), render('PT1M30S'));
});

test('rendering an unvalidated duration throws rather than writing a file kube-proxy would reject', () => {
  assert.throws(
    () =>
      renderKubeProxyConfig({
        mode: 'iptables',
        clusterCIDR: '10.2.0.0/16',
        kubeProxy: { iptables: { syncPeriod: '30s' } },
      }),
    DurationError,
  );
});

test('the config hash is 16 hex characters of sha256 and changes with the content', () => {
  assert.equal(configHash(''), 'e3b0c44298fc1c14');
  assert.match(configHash('a'), /^[0-9a-f]{16}$/);
  assert.notEqual(configHash('mode: ipvs\n'), configHash('mode: iptables\n'));
});
