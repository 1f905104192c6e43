/**
 * `…/kube/{kubeId}/privateNetworkConfiguration` and `…/updateLoadBalancersSubnetId`. mks has no
 * OpenStack networks: it validates the shape, stores the values and echoes them; nothing is
 * applied (the summaries say so in the API reference).
 */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';

const tags = ['kube'];

const privateNetworkConfigurationBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    defaultVrackGateway: {
      type: 'string',
      maxLength: 64,
      description: 'An IPv4 address; empty string means disabled',
    },
    privateNetworkRoutingAsDefault: { type: ['boolean', 'null'] },
  },
} as const;

const loadBalancersSubnetBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    loadBalancersSubnetId: { type: ['string', 'null'], maxLength: 64, description: 'A UUID, or null' },
  },
} as const;

export function registerNetworkRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'clusters'>): void {
  const { clusters } = deps;

  app.get(
    '/kube/:kubeId/privateNetworkConfiguration',
    {
      schema: {
        tags,
        summary:
          "The cluster's private network configuration, as stored (mks has no vRack: nothing is applied)",
        params: kubeParams,
        response: {
          200: {
            type: 'object',
            properties: {
              defaultVrackGateway: { type: 'string' },
              privateNetworkRoutingAsDefault: { type: 'boolean' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const cluster = await clusters.get(serviceName, kubeId);
      return sendJson(
        reply,
        cluster.privateNetworkConfiguration ?? {
          defaultVrackGateway: '',
          privateNetworkRoutingAsDefault: false,
        },
      );
    },
  );

  app.put(
    '/kube/:kubeId/privateNetworkConfiguration',
    {
      schema: {
        tags,
        summary:
          'Store the private network configuration (validated and echoed; mks has no vRack: nothing is applied)',
        params: kubeParams,
        body: privateNetworkConfigurationBody,
        response: { 200: { type: 'object', properties: { message: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const body = request.body as {
        defaultVrackGateway?: string;
        privateNetworkRoutingAsDefault?: boolean | null;
      };
      await clusters.setNetwork(serviceName, kubeId, { privateNetworkConfiguration: body });
      return sendJson(reply, {
        message:
          'Private network configuration stored. mks has no private network: nothing is applied to the cluster.',
      });
    },
  );

  app.put(
    '/kube/:kubeId/updateLoadBalancersSubnetId',
    {
      schema: {
        tags,
        summary:
          'Store the load balancers subnet id (validated and echoed; mks has no load balancers: nothing is applied)',
        params: kubeParams,
        body: loadBalancersSubnetBody,
        response: { 200: { type: 'null', description: 'JSON null' } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { loadBalancersSubnetId } = request.body as { loadBalancersSubnetId?: string | null };
      await clusters.setNetwork(serviceName, kubeId, {
        loadBalancersSubnetId: loadBalancersSubnetId ?? null,
      });
      return sendVoid(reply);
    },
  );
}
