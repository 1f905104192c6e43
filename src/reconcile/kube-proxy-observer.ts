/**
 * Reads a cluster's kube-proxy objects for the rollout view (clusters/cluster-rollout.ts) through
 * the reconciler's Kubernetes client: the ConfigMap, the DaemonSet and its pods, as plain data.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { KubeProxyObserver, ObservedPod } from '../clusters/cluster-rollout.ts';
import type { Decoded, KubeClients } from './kube/kube-client.ts';
import { CONFIG_HASH_ANNOTATION, KUBE_PROXY, KUBE_SYSTEM } from './plan.ts';
import type { ClusterConnector } from './provider.ts';

export function kubeProxyObserver(kube: KubeClients, connection: ClusterConnector): KubeProxyObserver {
  return {
    async observe(cluster) {
      try {
        const k = kube.for(cluster.id, connection(cluster));
        const [configMap, daemonSet, pods] = await Promise.all([
          k.readConfigMap(KUBE_SYSTEM, KUBE_PROXY),
          k.readDaemonSet(KUBE_SYSTEM, KUBE_PROXY),
          k.listPods(KUBE_SYSTEM, `k8s-app=${KUBE_PROXY}`),
        ]);
        return {
          configConf: configMap?.data?.['config.conf'],
          templateHash: daemonSet?.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION],
          desired: daemonSet?.status?.desiredNumberScheduled ?? 0,
          updated: daemonSet?.status?.updatedNumberScheduled ?? 0,
          available: daemonSet?.status?.numberAvailable ?? 0,
          pods: pods.map(observedPod),
        };
      } catch (error) {
        // KubeError messages name the call and the status, never the token.
        return { unreachable: `the cluster's Kubernetes API cannot be read: ${(error as Error).message}` };
      }
    },
  };
}

function observedPod(pod: Decoded<V1Pod>): ObservedPod {
  const containers = pod.status?.containerStatuses ?? [];
  const container = containers[0];
  const waiting = container?.state?.waiting;
  const lastExit = container?.lastState?.terminated?.message?.trim();
  const message =
    waiting === undefined
      ? null
      : [waiting.reason, lastExit ?? waiting.message]
          .filter((part) => part !== undefined && part !== '')
          .join(': ');
  return {
    name: pod.metadata?.name ?? '',
    node: pod.spec?.nodeName ?? null,
    configHash: pod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION] ?? null,
    ready:
      pod.status?.conditions?.some(
        (condition) => condition.type === 'Ready' && condition.status === 'True',
      ) ?? false,
    restarts: containers.reduce((sum, status) => sum + (status.restartCount ?? 0), 0),
    message: message === '' ? null : message,
  };
}
