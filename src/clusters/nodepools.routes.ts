/** `/cloud/project/{serviceName}/kube/{kubeId}/nodepool…`, `…/node…` and the flavors offered. */
import type { FastifyInstance } from 'fastify';
import { invalid } from '../errors.ts';
import type { AppDeps } from '../http/deps.ts';
import {
  type KubeParams,
  kubeParams,
  type NodeParams,
  type NodePoolParams,
  nodeParams,
  nodePoolParams,
  projectParams,
} from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import {
  FLAVORS,
  flavorResponseSchema,
  type NodePoolCreationInput,
  type NodePoolUpdateInput,
  nodePoolCreationSchema,
  nodePoolResponseSchema,
  nodePoolUpdateSchema,
  nodePoolView,
  nodeResponseSchema,
  nodeView,
} from './nodepools.model.ts';

const voidResponse = { 200: { type: 'null', description: 'JSON null' } } as const;
const tags = ['kube nodepools'];

export function registerNodePoolRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'clusters' | 'config'>,
): void {
  const { clusters } = deps;

  app.get(
    '/capabilities/kube/flavors',
    {
      schema: {
        tags,
        summary: 'Flavors a node pool may use in a region',
        params: projectParams,
        querystring: {
          type: 'object',
          properties: {
            region: { type: 'string', description: 'Region, see GET /capabilities/kube/regions' },
          },
        },
        response: { 200: { type: 'array', items: flavorResponseSchema } },
      },
    },
    async (request, reply) => {
      const { region } = request.query as { region?: string };
      if (region !== undefined && !deps.config.regions.includes(region)) {
        throw invalid(
          `region: '${region}' is not offered; available regions: ${deps.config.regions.join(', ')}`,
        );
      }
      return sendJson(reply, FLAVORS);
    },
  );

  app.get(
    '/kube/:kubeId/nodepool',
    {
      schema: {
        tags,
        summary: "The cluster's node pools (full objects)",
        params: kubeParams,
        response: { 200: { type: 'array', items: nodePoolResponseSchema } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { cluster, pools } = await clusters.listPools(serviceName, kubeId);
      return sendJson(
        reply,
        pools.map((pool) => nodePoolView(pool, cluster)),
      );
    },
  );

  app.post(
    '/kube/:kubeId/nodepool',
    {
      schema: {
        tags,
        summary: 'Create a node pool (status INSTALLING, then READY once its nodes run kube-proxy)',
        params: kubeParams,
        body: nodePoolCreationSchema,
        response: { 200: nodePoolResponseSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { cluster, pool } = await clusters.createPool(
        serviceName,
        kubeId,
        request.body as NodePoolCreationInput,
      );
      return sendJson(reply, nodePoolView(pool, cluster));
    },
  );

  app.get(
    '/kube/:kubeId/nodepool/:nodePoolId',
    {
      schema: {
        tags,
        summary: 'A node pool',
        params: nodePoolParams,
        response: { 200: nodePoolResponseSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, nodePoolId } = request.params as NodePoolParams;
      const { cluster, pool } = await clusters.getPool(serviceName, kubeId, nodePoolId);
      return sendJson(reply, nodePoolView(pool, cluster));
    },
  );

  app.put(
    '/kube/:kubeId/nodepool/:nodePoolId',
    {
      schema: {
        tags,
        summary:
          'Update a node pool: size and bounds (desiredNodes within [minNodes, maxNodes]), autoscaling settings ' +
          '(autoscale: true lets the cluster autoscaler resize the pool within its bounds), template (labels, annotations, taints, unschedulable of its Nodes), nodesToRemove',
        params: nodePoolParams,
        body: nodePoolUpdateSchema,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, nodePoolId } = request.params as NodePoolParams;
      await clusters.updatePool(serviceName, kubeId, nodePoolId, request.body as NodePoolUpdateInput);
      return sendVoid(reply);
    },
  );

  app.delete(
    '/kube/:kubeId/nodepool/:nodePoolId',
    {
      schema: {
        tags,
        summary: 'Delete a node pool (status DELETING, then gone with its nodes)',
        params: nodePoolParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, nodePoolId } = request.params as NodePoolParams;
      await clusters.deletePool(serviceName, kubeId, nodePoolId);
      return sendVoid(reply);
    },
  );

  app.get(
    '/kube/:kubeId/nodepool/:nodePoolId/nodes',
    {
      schema: {
        tags,
        summary: "A node pool's nodes",
        params: nodePoolParams,
        response: { 200: { type: 'array', items: nodeResponseSchema } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, nodePoolId } = request.params as NodePoolParams;
      const { cluster, nodes } = await clusters.listNodes(serviceName, kubeId, nodePoolId);
      return sendJson(
        reply,
        nodes.map(({ node, pool }) => nodeView(node, pool, cluster)),
      );
    },
  );

  app.get(
    '/kube/:kubeId/node',
    {
      schema: {
        tags,
        summary: "The cluster's nodes, of every pool",
        params: kubeParams,
        response: { 200: { type: 'array', items: nodeResponseSchema } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { cluster, nodes } = await clusters.listNodes(serviceName, kubeId);
      return sendJson(
        reply,
        nodes.map(({ node, pool }) => nodeView(node, pool, cluster)),
      );
    },
  );

  app.get(
    '/kube/:kubeId/node/:nodeId',
    { schema: { tags, summary: 'A node', params: nodeParams, response: { 200: nodeResponseSchema } } },
    async (request, reply) => {
      const { serviceName, kubeId, nodeId } = request.params as NodeParams;
      const { cluster, node, pool } = await clusters.getNode(serviceName, kubeId, nodeId);
      return sendJson(reply, nodeView(node, pool, cluster));
    },
  );

  app.delete(
    '/kube/:kubeId/node/:nodeId',
    {
      schema: {
        tags,
        summary: "Delete a node: it leaves the cluster and its pool's desiredNodes shrinks by one",
        params: nodeParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, nodeId } = request.params as NodeParams;
      await clusters.deleteNode(serviceName, kubeId, nodeId);
      return sendVoid(reply);
    },
  );
}
