/** `/cloud/project/{serviceName}/kube/{kubeId}/ipRestrictions…`: who may call the cluster's Kubernetes API. */
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import { ipRestrictionsSchema } from './clusters.model.ts';

const voidResponse = { 200: { type: 'null', description: 'JSON null' } } as const;
const tags = ['kube ipRestrictions'];
const ipParams = {
  type: 'object',
  properties: {
    ...kubeParams.properties,
    ip: { type: 'string', description: 'An IP block of the list (URL-encoded)' },
  },
  required: ['serviceName', 'kubeId', 'ip'],
} as const;

export function registerIpRestrictionRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'clusters'>): void {
  const { clusters } = deps;

  app.get(
    '/kube/:kubeId/ipRestrictions',
    {
      schema: {
        tags,
        summary: "IP blocks allowed on the cluster's Kubernetes API (empty: every address)",
        params: kubeParams,
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(reply, (await clusters.get(serviceName, kubeId)).ipRestrictions);
    },
  );

  for (const [method, mode, summary] of [
    [
      'PUT',
      'replace',
      'Replace the IP blocks allowed on the Kubernetes API (enforced at once; [] allows all)',
    ],
    ['POST', 'add', 'Add IP blocks to those allowed on the Kubernetes API (enforced at once)'],
  ] as const) {
    app.route({
      method,
      url: '/kube/:kubeId/ipRestrictions',
      schema: { tags, summary, params: kubeParams, body: ipRestrictionsSchema, response: voidResponse },
      handler: async (request, reply) => {
        const { serviceName, kubeId } = request.params as KubeParams;
        await clusters.setIpRestrictions(serviceName, kubeId, (request.body as { ips: string[] }).ips, mode);
        return sendVoid(reply);
      },
    });
  }

  app.delete(
    '/kube/:kubeId/ipRestrictions/:ip',
    {
      schema: {
        tags,
        summary: 'Remove one IP block from those allowed (404 when it is not there)',
        params: ipParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId, ip } = request.params as KubeParams & { ip: string };
      await clusters.deleteIpRestriction(serviceName, kubeId, ip);
      return sendVoid(reply);
    },
  );
}
