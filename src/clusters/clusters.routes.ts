/** `/cloud/project/{serviceName}/kube…`: clusters, reset, kubeconfig. */
import type { FastifyInstance } from 'fastify';
import { actorOf } from '../http/actor.ts';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams, projectParams } from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import { renderKubeconfig } from './cluster-tokens.ts';
import {
  type ClusterRecord,
  type CreationInput,
  clusterResponseSchema,
  clusterView,
  creationSchema,
  resetSchema,
  type UpdatePolicy,
  updatePolicySchema,
  updateSchema,
  upgradeSchema,
} from './clusters.model.ts';
import type { UpdateStrategy } from './versions.ts';

const voidResponse = { 200: { type: 'null', description: 'JSON null' } } as const;

export function registerClusterRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'clusters' | 'config' | 'clusterToken' | 'kubeCaPem'>,
): void {
  const { clusters } = deps;
  const view = (cluster: ClusterRecord) => clusterView(cluster, deps.config.kubePublicUrl);

  app.get(
    '/kube',
    {
      schema: {
        tags: ['kube'],
        summary: "Ids of the project's clusters",
        params: projectParams,
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async (request, reply) => {
      const { serviceName } = request.params as { serviceName: string };
      return sendJson(reply, await clusters.listIds(serviceName));
    },
  );

  app.post(
    '/kube',
    {
      schema: {
        tags: ['kube'],
        summary: 'Create a cluster (status INSTALLING, then READY)',
        params: projectParams,
        body: creationSchema,
        response: { 200: clusterResponseSchema },
      },
    },
    async (request, reply) => {
      const { serviceName } = request.params as { serviceName: string };
      return sendJson(
        reply,
        view(await clusters.create(serviceName, request.body as CreationInput, actorOf(request))),
      );
    },
  );

  app.get(
    '/kube/:kubeId',
    {
      schema: {
        tags: ['kube'],
        summary: 'A cluster',
        params: kubeParams,
        response: { 200: clusterResponseSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(reply, view(await clusters.get(serviceName, kubeId)));
    },
  );

  app.put(
    '/kube/:kubeId',
    {
      schema: {
        tags: ['kube'],
        summary: 'Rename a cluster and/or change its update policy',
        params: kubeParams,
        body: updateSchema,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.update(
        serviceName,
        kubeId,
        (request.body ?? {}) as { name?: string; updatePolicy?: UpdatePolicy },
      );
      return sendVoid(reply);
    },
  );

  app.put(
    '/kube/:kubeId/updatePolicy',
    {
      schema: {
        tags: ['kube'],
        summary: "Change a cluster's update policy",
        params: kubeParams,
        body: updatePolicySchema,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.update(serviceName, kubeId, request.body as { updatePolicy: UpdatePolicy });
      return sendVoid(reply);
    },
  );

  app.post(
    '/kube/:kubeId/update',
    {
      schema: {
        tags: ['kube'],
        summary:
          'Upgrade the Kubernetes version (status UPDATING: nodes replaced one by one, then READY). ' +
          'Allowed under every update policy: the policy governs the updates OVH starts by itself, and mks starts none',
        params: kubeParams,
        body: upgradeSchema,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { strategy } = (request.body ?? {}) as { strategy?: UpdateStrategy };
      await clusters.upgrade(serviceName, kubeId, strategy ?? 'LATEST_PATCH');
      return sendVoid(reply);
    },
  );

  app.delete(
    '/kube/:kubeId',
    {
      schema: {
        tags: ['kube'],
        summary: 'Delete a cluster (status DELETING, then gone)',
        params: kubeParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.delete(serviceName, kubeId, actorOf(request));
      return sendVoid(reply);
    },
  );

  app.post(
    '/kube/:kubeId/reset',
    {
      schema: {
        tags: ['kube'],
        summary:
          'Reset a cluster: erase its Kubernetes data; fields not sent reset to defaults (kubeProxyMode ipvs)',
        params: kubeParams,
        body: resetSchema,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.reset(serviceName, kubeId, (request.body ?? {}) as CreationInput, actorOf(request));
      return sendVoid(reply);
    },
  );

  app.post(
    '/kube/:kubeId/kubeconfig',
    {
      schema: {
        tags: ['kube'],
        summary: "A kubeconfig for the cluster's Kubernetes API",
        params: kubeParams,
        response: {
          200: {
            type: 'object',
            properties: { content: { type: 'string', description: 'kubeconfig YAML' } },
          },
        },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const cluster = await clusters.get(serviceName, kubeId);
      const content = renderKubeconfig(cluster, {
        kubePublicUrl: deps.config.kubePublicUrl,
        caPem: deps.kubeCaPem,
        token: deps.clusterToken,
      });
      return sendJson(reply, { content });
    },
  );

  app.post(
    '/kube/:kubeId/kubeconfig/reset',
    {
      schema: {
        tags: ['kube'],
        summary: 'Invalidate every kubeconfig issued so far',
        params: kubeParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.resetKubeconfig(serviceName, kubeId);
      return sendVoid(reply);
    },
  );
}
