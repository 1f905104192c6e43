/** Waiting on a cluster's status through the signed API, as users' tools do. */
import type { ApiClient } from '../../src/client/api-client.ts';
import { waitFor } from './wait.ts';

export type ClusterView = { id: string; status: string; statusMessage: string | null };

/**
 * Polls `GET <kubePath>/<id>` until the cluster has `status`; an `ERROR` status (when another one
 * is awaited) fails at once with its message.
 */
export function untilClusterStatus(
  client: ApiClient,
  kubePath: string,
  id: string,
  status: string,
  timeoutMs: number,
): Promise<ClusterView> {
  return waitFor(
    async () => {
      const cluster = await client.call<ClusterView>('GET', `${kubePath}/${id}`);
      if (cluster.status === 'ERROR' && status !== 'ERROR')
        throw new Error(`cluster went ERROR: ${cluster.statusMessage}`);
      return cluster.status === status ? cluster : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `cluster ${id} to be ${status}` },
  );
}
