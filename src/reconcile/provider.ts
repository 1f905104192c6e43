/**
 * What the reconciler needs beyond the Kubernetes API: creating and erasing a cluster's machines
 * and control plane, which no Kubernetes API call can do. Emulated clusters implement it in the
 * emulator (whose `EmulatorControl` has these methods, structurally, so the emulator never
 * imports reconcile/); the reconciler never sees which kind of cluster it drives.
 */
import { type ClusterToken, SYSTEM_TOKEN_EPOCH } from '../clusters/cluster-tokens.ts';
import { kubernetesApiUrl } from '../clusters/clusters.model.ts';
import type { ClusterConnection } from './kube/kube-client.ts';

/** A worker node as the cluster must have it: its Kubernetes Node's name and what its pool sets. */
export interface NodeShape {
  readonly name: string;
  /** The node pool's name (the Node's `nodepool` label). */
  readonly pool: string;
  readonly flavor: string;
  /** The pool template's labels, annotations, taints and unschedulable. */
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly taints: readonly { readonly key: string; readonly value: string; readonly effect: string }[];
  readonly unschedulable: boolean;
}

export interface ClusterShape {
  readonly id: string;
  readonly version: string;
  /** Every worker node of the cluster; Nodes not listed leave it. */
  readonly nodes: readonly NodeShape[];
}

export interface ClusterProvider {
  /**
   * Creates the cluster's control plane when absent and makes its nodes those listed; idempotent.
   * Answers the cluster's state stamp: equal stamps mean the cluster did not change in between
   * (what a pass read at the first still holds); undefined when the provider cannot tell.
   */
  ensureCluster(cluster: ClusterShape): Promise<string | undefined>;
  /** Reconfigures the API server's admission plugins (control-plane flags). */
  setApiServerFlags(clusterId: string, flags: readonly string[]): Promise<void>;
  /**
   * Restarts the control plane (`POST …/restart`): the API server's watches end, every object is
   * kept, and its pod records `restart` (annotation `mks.ovh/restart-generation`), so a pass
   * restarts it once per restart asked for.
   */
  restartApiServer(clusterId: string, restart: string): Promise<void>;
  /** Erases every object outside the system namespaces and restores the base objects. */
  eraseCluster(clusterId: string): Promise<void>;
  /** Removes the cluster; its Kubernetes API answers 404 afterwards. */
  destroyCluster(clusterId: string): Promise<void>;
}

/** Every operation of ClusterProvider, by name: what a pass in the reconciler thread may ask for. */
export const PROVIDER_OPERATIONS = [
  'ensureCluster',
  'setApiServerFlags',
  'restartApiServer',
  'eraseCluster',
  'destroyCluster',
] as const satisfies readonly (keyof ClusterProvider)[];

/** Where and how to reach a cluster's Kubernetes API. */
export type ClusterConnector = (cluster: {
  readonly id: string;
  readonly tokenEpoch: number;
}) => ClusterConnection;

/**
 * How the reconciler reaches the Kubernetes API mks serves for its clusters at `kubePublicUrl`:
 * each cluster's URL and token (at its kubeconfig epoch), trusting `caPem` (else the system's CAs).
 */
export function servedConnection(
  kubePublicUrl: string,
  clusterToken: ClusterToken,
  caPem: string | undefined,
): ClusterConnector {
  return (cluster) => ({
    server: kubernetesApiUrl(kubePublicUrl, cluster.id),
    // mks's own token: valid across kubeconfig resets and from any address (cluster-tokens.ts).
    token: clusterToken(cluster.id, SYSTEM_TOKEN_EPOCH),
    ...(caPem === undefined ? {} : { caPem }),
  });
}
