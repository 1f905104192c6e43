/** What a test compares to prove a request changed nothing, and what a cluster's kube-proxy runs. */
import type { Kysely } from 'kysely';
import type { ApiClient } from '../../src/client/api-client.ts';
import type { Schema } from '../../src/db/schema.ts';
import { KubeAccess } from './kube.ts';
import type { TestServer } from './server.ts';

/**
 * Everything stored about a cluster that a change writes: its row, its history rows and the
 * generation its reconcile work was enqueued for (not the work's lease and timing, which the
 * reconciler moves on its own).
 */
export async function storedCluster(db: Kysely<Schema>, clusterId: string): Promise<string> {
  const row = await db.selectFrom('clusters').selectAll().where('id', '=', clusterId).executeTakeFirst();
  const history = await db
    .selectFrom('cluster_history')
    .selectAll()
    .where('cluster_id', '=', clusterId)
    .orderBy('id')
    .execute();
  const work = await db
    .selectFrom('reconcile_work')
    .select(['cluster_id', 'generation'])
    .where('cluster_id', '=', clusterId)
    .execute();
  return JSON.stringify({ row, history, work });
}

/** The `config.conf` of the cluster's kube-proxy ConfigMap, read through its Kubernetes API. */
export async function kubeProxyConfigConf(k: KubeAccess): Promise<string> {
  const configMap = await k.core.readNamespacedConfigMap({ name: 'kube-proxy', namespace: 'kube-system' });
  return configMap.data?.['config.conf'] ?? '';
}

/** Access to a cluster's Kubernetes API with the kubeconfig the API hands out (close it after). */
export async function clusterKube(
  client: ApiClient,
  kubePath: string,
  clusterId: string,
): Promise<KubeAccess> {
  const { content } = await client.call<{ content: string }>('POST', `${kubePath}/${clusterId}/kubeconfig`);
  return new KubeAccess(content);
}

/** A cluster in another project of the caller's account: not to be found under its own project. */
export async function clusterOfAnotherProject(server: TestServer): Promise<string> {
  const account = (await server.client.call<{ account: string }>('GET', '/auth/details')).account;
  const project = await server.services.projects.create({ accountId: account, name: 'other' });
  return (
    await server.client.call<{ id: string }>('POST', `/cloud/project/${project.id}/kube`, { region: 'GRA5' })
  ).id;
}

/** An Event of kube-system as kubectl lists it (the fields the tests read). */
export interface KubeSystemEvent {
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly involvedObject: { readonly kind: string };
}

/** The Events of kube-system, as `kubectl get events -n kube-system -o json` lists them. */
export async function kubeSystemEvents(k: KubeAccess): Promise<KubeSystemEvent[]> {
  return (await k.json<{ items: KubeSystemEvent[] }>('get', 'events', '-n', 'kube-system', '-o', 'json'))
    .items;
}

/** Reconcile passes that found a cluster settled (outcome `done`), as the server's /metrics counts them. */
export async function settledPasses(server: TestServer): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith('mks_reconcile_passes_total{outcome="done"} '));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}
