/**
 * `GET …/kube/{kubeId}/rollout` (mks extension): how far kube-proxy's rollout has gone, for the
 * console's "nodes N/M on the new config". The browser cannot read the cluster's Kubernetes API
 * itself (another origin, a CA it does not trust, and the console's CSP allows only this origin),
 * so the API reads the DaemonSet the way `mks … --wait` does, with the cluster's own token.
 */
import type { FastifyInstance } from 'fastify';
import { readKubeProxyRollout } from '../cli/kube-rollout.ts';
import { kubernetesApiUrl } from '../clusters/clusters.model.ts';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson } from '../http/responses.ts';

export function registerRolloutRoute(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'clusters' | 'clusterToken' | 'kubeCaPem' | 'config'>,
): void {
  app.get(
    '/kube/:kubeId/rollout',
    {
      schema: {
        tags: ['kube'],
        summary:
          "mks extension: kube-proxy's rollout on the cluster's nodes (null while the cluster's Kubernetes API cannot tell)",
        params: kubeParams,
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              generation: { type: 'integer', description: 'Bumped by every accepted change' },
              observedGeneration: {
                type: 'integer',
                description: 'The change the cluster last fully reflects',
              },
              kubeProxy: {
                type: ['object', 'null'],
                properties: {
                  desired: { type: 'integer', description: 'Nodes that run kube-proxy' },
                  updated: { type: 'integer', description: 'Nodes running the current configuration' },
                  available: { type: 'integer' },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const cluster = await deps.clusters.get(serviceName, kubeId);
      let kubeProxy: { desired: number; updated: number; available: number } | null = null;
      try {
        const rollout = await readKubeProxyRollout({
          server: kubernetesApiUrl(deps.config.kubePublicUrl, cluster.id),
          serverName: undefined,
          ca: deps.kubeCaPem,
          token: deps.clusterToken(cluster.id, cluster.tokenEpoch),
          insecure: false,
        });
        // A DaemonSet that has not yet seen its newest template counts nothing as updated.
        if (rollout !== undefined) {
          const seen = rollout.observedGeneration >= rollout.generation;
          kubeProxy = {
            desired: rollout.desired,
            updated: seen ? rollout.updated : 0,
            available: rollout.available,
          };
        }
      } catch (error) {
        // Installing, resetting or unreachable: the status says what is going on.
        request.log.debug({ err: error, clusterId: cluster.id }, 'Rollout not readable');
      }
      return sendJson(reply, {
        status: cluster.status,
        generation: cluster.generation,
        observedGeneration: cluster.observedGeneration,
        kubeProxy,
      });
    },
  );
}
