/** A READY cluster created through the signed API, with access to its Kubernetes API. */

import type { ApiClient } from '../../src/client/api-client.ts';
import { untilClusterStatus } from '../support/cluster-status.ts';
import { KubeAccess } from '../support/kube.ts';
import { serverPath } from './raw-http.ts';

export async function readyCluster(
  client: ApiClient,
  kubePath: string,
  name = 'reliability',
): Promise<{ id: string; access: KubeAccess; prefix: string }> {
  const { id } = await client.call<{ id: string }>('POST', kubePath, { region: 'GRA5', name });
  await untilClusterStatus(client, kubePath, id, 'READY', 60_000);
  const { content } = await client.call<{ content: string }>('POST', `${kubePath}/${id}/kubeconfig`);
  const access = new KubeAccess(content);
  return { id, access, prefix: serverPath(access.server) };
}
