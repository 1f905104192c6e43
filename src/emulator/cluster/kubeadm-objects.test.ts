import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import type { JsonObject } from '../apiserver/objects.ts';
import { readKubeProxyConfig } from './kube-proxy.ts';
import {
  daemonPod,
  kubeProxyConfigMap,
  kubeProxyDaemonSet,
  LOADED_CONFIG_ANNOTATION,
  loadedConfigHash,
} from './kubeadm-objects.ts';

test("the kube-proxy ConfigMap is kubeadm's: config.conf with kubeadm's fields, an in-cluster kubeconfig.conf", () => {
  const configMap = kubeProxyConfigMap('https://10.0.0.1:6443');
  assert.deepEqual(configMap.metadata, {
    name: 'kube-proxy',
    namespace: 'kube-system',
    labels: { app: 'kube-proxy' },
  });
  const data = configMap.data as Record<string, string>;
  assert.deepEqual(Object.keys(data).sort(), ['config.conf', 'kubeconfig.conf']);
  assert.deepEqual(parse(data['config.conf']!), {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    bindAddress: '0.0.0.0',
    clientConnection: { kubeconfig: '/var/lib/kube-proxy/kubeconfig.conf' },
    clusterCIDR: '10.2.0.0/16',
    mode: 'iptables',
  });
  assert.equal(readKubeProxyConfig(data['config.conf']!, '1.32.4').ok, true);
  assert.deepEqual(parse(data['kubeconfig.conf']!), {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        cluster: {
          'certificate-authority': '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt',
          server: 'https://10.0.0.1:6443',
        },
        name: 'default',
      },
    ],
    contexts: [{ context: { cluster: 'default', namespace: 'default', user: 'default' }, name: 'default' }],
    'current-context': 'default',
    users: [{ name: 'default', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
  });
  const ipv6 = kubeProxyConfigMap('https://[fd00::1]:6443').data as Record<string, string>;
  assert.equal(parse(ipv6['kubeconfig.conf']!).clusters[0].cluster.server, 'https://[fd00::1]:6443');
});

test('the loaded-config annotation holds 16 hex characters of the sha256 of config.conf', () => {
  assert.equal(LOADED_CONFIG_ANNOTATION, 'mks.ovh/loaded-config-hash');
  assert.equal(loadedConfigHash(''), 'e3b0c44298fc1c14');
  assert.match(loadedConfigHash('a'), /^[0-9a-f]{16}$/);
  assert.notEqual(loadedConfigHash('mode: ipvs\n'), loadedConfigHash('mode: iptables\n'));
});

test("a daemon pod tolerates its template's taints and the DaemonSet controller's, one list for a template's pods", () => {
  const ds = kubeProxyDaemonSet('1.32.0');
  const templateSpec = (ds.spec as JsonObject).template as JsonObject;
  const own = (templateSpec.spec as JsonObject).tolerations;
  const snapshot = JSON.stringify(own);
  const [first, second] = ['node-0', 'node-1'].map(
    (node, i) => daemonPod(ds, 'hash', node, `10.0.0.${i}`, new Date(0)).spec as JsonObject,
  );
  assert.deepEqual(first!.tolerations, [
    ...(own as JsonObject[]),
    { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists' },
    { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists' },
    { effect: 'NoSchedule', key: 'node.kubernetes.io/disk-pressure', operator: 'Exists' },
    { effect: 'NoSchedule', key: 'node.kubernetes.io/memory-pressure', operator: 'Exists' },
    { effect: 'NoSchedule', key: 'node.kubernetes.io/pid-pressure', operator: 'Exists' },
    { effect: 'NoSchedule', key: 'node.kubernetes.io/unschedulable', operator: 'Exists' },
    { effect: 'NoSchedule', key: 'node.kubernetes.io/network-unavailable', operator: 'Exists' },
  ]);
  assert.equal(second!.tolerations, first!.tolerations, 'shared by the pods of one template');
  assert.equal(JSON.stringify(own), snapshot, "the template's own list is left as it was");
  // Another template (a spec without tolerations) gets only the controller's.
  const bare = { ...ds, spec: { ...(ds.spec as JsonObject), template: { spec: { containers: [] } } } };
  const bareSpec = daemonPod(bare, 'h', 'node-0', '10.0.0.1', new Date(0)).spec as JsonObject;
  assert.deepEqual(bareSpec.tolerations, (first!.tolerations as JsonObject[]).slice(-7));
});
