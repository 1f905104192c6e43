/** `/cloud/project/{serviceName}/kube/{kubeId}/openIdConnect`: OIDC on the cluster's Kubernetes API. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import { type OpenIdConnectInput, openIdConnectResponseSchema, openIdConnectSchema } from './oidc.ts';

const tags = ['kube openIdConnect'];

export function registerOpenIdConnectRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'clusters'>): void {
  const { clusters } = deps;
  const path = '/kube/:kubeId/openIdConnect';

  app.get(
    path,
    {
      schema: {
        tags,
        summary: "The cluster's OpenID Connect configuration (404 when none)",
        params: kubeParams,
        response: { 200: openIdConnectResponseSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(reply, await clusters.getOpenIdConnect(serviceName, kubeId));
    },
  );

  for (const [method, action, summary] of [
    ['POST', 'create', 'Configure OpenID Connect (kube-apiserver --oidc-* flags; REDEPLOYING, then READY)'],
    ['PUT', 'update', 'Replace the OpenID Connect configuration (REDEPLOYING, then READY)'],
  ] as const) {
    app.route({
      method,
      url: path,
      schema: {
        tags,
        summary,
        params: kubeParams,
        body: openIdConnectSchema,
        response: { 200: openIdConnectResponseSchema },
      },
      handler: async (request, reply) => {
        const { serviceName, kubeId } = request.params as KubeParams;
        const body = request.body as OpenIdConnectInput;
        return sendJson(reply, await clusters.setOpenIdConnect(serviceName, kubeId, action, body));
      },
    });
  }

  app.delete(
    path,
    {
      schema: {
        tags,
        summary: 'Remove the OpenID Connect configuration (REDEPLOYING, then READY)',
        params: kubeParams,
        response: { 200: { type: 'null', description: 'JSON null' } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      await clusters.setOpenIdConnect(serviceName, kubeId, 'delete');
      return sendVoid(reply);
    },
  );
}
