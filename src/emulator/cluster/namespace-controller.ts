/**
 * What kube-controller-manager puts in every namespace: the `default` ServiceAccount (its
 * serviceaccount controller), the `kube-root-ca.crt` ConfigMap with the cluster's CA (its
 * root-ca-cert-publisher) and the `openshift-service-ca.crt` ConfigMap (the service-ca-cert
 * publisher of the control plane the kubectl session was recorded on, see docs/emulator.md),
 * created when a namespace appears and again when one is deleted.
 */
import type { ChangeEvent, ObjectStore } from '../apiserver/object-store.ts';
import type { KubeObject } from '../apiserver/objects.ts';
import { RESOURCE } from '../apiserver/resources.ts';

export const ROOT_CA_CONFIG_MAP = 'kube-root-ca.crt';
export const SERVICE_CA_CONFIG_MAP = 'openshift-service-ca.crt';
const MANAGER = 'kube-controller-manager';

export function serviceAccountObject(namespace: string, name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace } };
}

export function rootCaConfigMap(namespace: string, caPem: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ROOT_CA_CONFIG_MAP,
      namespace,
      annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION },
    },
    data: { 'ca.crt': caPem },
  };
}

/**
 * The service CA publisher's ConfigMap: created with an empty `service-ca.crt` (the key a projected
 * service-account volume names, so pods can start) and the annotation asking a service CA operator
 * to inject the bundle; no such operator runs, so it stays empty, as on the recorded cluster.
 */
export function serviceCaConfigMap(namespace: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: SERVICE_CA_CONFIG_MAP,
      namespace,
      annotations: { 'service.beta.openshift.io/inject-cabundle': 'true' },
    },
    data: { 'service-ca.crt': '' },
  };
}

const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

/**
 * Whether a change concerns what this controller keeps. Its object is read only for the resources
 * that need it (an Event's, created as text, would be parsed for nothing: `ChangeEvent.object`).
 */
export function concernsNamespaces(change: ChangeEvent): boolean {
  const resource = change.resource.name;
  if (resource === RESOURCE.namespaces.name) return true;
  if (resource === RESOURCE.serviceaccounts.name) return change.object.metadata.name === 'default';
  if (resource !== RESOURCE.configmaps.name) return false;
  const name = change.object.metadata.name;
  return name === ROOT_CA_CONFIG_MAP || name === SERVICE_CA_CONFIG_MAP;
}

/** Creates what an active namespace lacks. */
export function syncNamespaces(cluster: ObjectStore, caPem: string): void {
  for (const namespace of cluster.list(RESOURCE.namespaces)) {
    const name = namespace.metadata.name ?? '';
    if (namespace.metadata.deletionTimestamp !== undefined) continue;
    if (cluster.get(RESOURCE.serviceaccounts, name, 'default') === undefined)
      cluster.create(RESOURCE.serviceaccounts, serviceAccountObject(name, 'default'), {
        manager: MANAGER,
        owned: true,
      });
    if (cluster.get(RESOURCE.configmaps, name, ROOT_CA_CONFIG_MAP) === undefined)
      cluster.create(RESOURCE.configmaps, rootCaConfigMap(name, caPem), { manager: MANAGER, owned: true });
    if (cluster.get(RESOURCE.configmaps, name, SERVICE_CA_CONFIG_MAP) === undefined)
      cluster.create(RESOURCE.configmaps, serviceCaConfigMap(name), { manager: MANAGER, owned: true });
  }
}
