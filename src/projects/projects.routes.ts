/** `GET /cloud/project`, one project's details, and what this installation offers. */
import type { FastifyInstance } from 'fastify';
import { ADMISSION_PLUGINS } from '../customization/customization.model.ts';
import type { AppDeps } from '../http/deps.ts';
import { projectParams } from '../http/params.ts';
import { sendJson } from '../http/responses.ts';

export function registerProjectRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'projects'>): void {
  app.get(
    '/1.0/cloud/project',
    {
      schema: {
        tags: ['project'],
        summary: "The caller's project ids",
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async (request, reply) => sendJson(reply, await deps.projects.listIds(request.auth!.accountId)),
  );
}

/** Routes under `/1.0/cloud/project/{serviceName}`: the scope has already checked ownership. */
export function registerProjectScopedRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'projects' | 'config'>,
): void {
  app.get(
    '',
    {
      schema: {
        tags: ['project'],
        summary: 'One project',
        params: projectParams,
        response: {
          200: {
            type: 'object',
            properties: {
              project_id: { type: 'string' },
              projectName: { type: 'string' },
              description: { type: 'string' },
              status: { type: 'string' },
              creationDate: { type: 'string', format: 'date-time' },
              planCode: { type: 'string' },
              unleash: { type: 'boolean' },
              expiration: { type: ['string', 'null'] },
              orderId: { type: ['integer', 'null'] },
              access: { type: 'string' },
              manualQuota: { type: 'boolean' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { serviceName } = request.params as { serviceName: string };
      const project = (await deps.projects.get(serviceName))!;
      return sendJson(reply, {
        project_id: project.id,
        projectName: project.name,
        description: project.description,
        status: 'ok',
        creationDate: project.createdAt,
        planCode: 'project.2018',
        unleash: false,
        expiration: null,
        orderId: null,
        access: 'full',
        manualQuota: false,
      });
    },
  );

  app.get(
    '/capabilities/kube/regions',
    {
      schema: {
        tags: ['kube'],
        summary: 'Regions where clusters can be created',
        params: projectParams,
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async (_request, reply) => sendJson(reply, deps.config.regions),
  );

  app.get(
    '/capabilities/kube/admissionplugins',
    {
      schema: {
        tags: ['kube'],
        summary: 'API-server admission plugins that can be enabled or disabled',
        params: projectParams,
        response: { 200: { type: 'array', items: { type: 'string' } } },
      },
    },
    async (_request, reply) => sendJson(reply, ADMISSION_PLUGINS),
  );
}
