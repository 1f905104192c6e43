/**
 * `POST …/kube/{kubeId}/restart` and `GET …/kube/{kubeId}/metrics/etcdUsage`: the cluster's
 * control plane, restarted (a generation the reconciler applies) and measured (what its objects
 * take in the store against its etcd quota).
 */
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/actor.ts';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import { etcdQuota, etcdUsageSchema } from './etcd-usage.ts';

const tags = ['kube'];

export function registerControlPlaneRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'clusters' | 'config' | 'storedBytes'>,
): void {
  const { clusters } = deps;

  app.post(
    '/kube/:kubeId/restart',
    {
      schema: {
        tags,
        summary:
          "Restart the cluster's control plane (status REDEPLOYING, then READY): the API server restarts, " +
          'its watches end, every object is kept. A cluster not READY is refused (409) unless force is true',
        params: kubeParams,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            force: {
              type: ['boolean', 'null'],
              description: 'Restart even while the cluster is not READY (folded into the change in progress)',
            },
          },
        },
        response: { 200: { type: 'null', description: 'JSON null' } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { force } = (request.body ?? {}) as { force?: boolean | null };
      await clusters.restart(serviceName, kubeId, force === true, actorOf(request));
      return sendVoid(reply);
    },
  );

  app.get(
    '/kube/:kubeId/metrics/etcdUsage',
    {
      schema: {
        tags,
        summary:
          "The cluster's etcd usage: bytes its objects take (keys and values, as etcd counts them) " +
          'and its quota (OVH: 10 MB + 25 MB per node, at most 200 MB; MKS_ETCD_QUOTA_BYTES fixes it)',
        params: kubeParams,
        response: { 200: etcdUsageSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const cluster = await clusters.get(serviceName, kubeId);
      // A cluster whose control plane is not installed yet stores nothing.
      const usage = (await deps.storedBytes(cluster.id)) ?? 0;
      return sendJson(reply, { quota: etcdQuota(cluster, deps.config.etcdQuotaBytes), usage });
    },
  );
}
