/** OVH's `/auth` endpoints that clients call while configuring themselves. */
import type { FastifyInstance } from 'fastify';
import { sendJson, sendJsonText } from '../http/responses.ts';

const ruleSchema = {
  type: 'object',
  properties: {
    method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'] },
    path: { type: 'string' },
  },
} as const;

export function registerAuthRoutes(app: FastifyInstance): void {
  app.get(
    '/1.0/auth/time',
    {
      config: { auth: 'none' },
      schema: {
        tags: ['auth'],
        summary: 'Server time in Unix seconds (unsigned; clients use it to correct their clock)',
        response: { 200: { type: 'integer' } },
      },
    },
    // A bare JSON integer: go-ovh decodes it into an int64.
    async (_request, reply) => sendJsonText(reply, String(Math.floor(Date.now() / 1000))),
  );

  app.get(
    '/1.0/auth/details',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who the credential acts for (the Terraform provider calls it at start-up)',
        response: {
          200: {
            type: 'object',
            properties: {
              account: { type: 'string' },
              allowedRoutes: { type: ['array', 'null'], items: ruleSchema },
              description: { type: ['string', 'null'] },
              identities: { type: 'array', items: { type: 'string' } },
              method: { type: 'string' },
              roles: { type: ['array', 'null'] },
              user: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const auth = request.auth!;
      return sendJson(reply, {
        account: auth.accountId,
        allowedRoutes: auth.credential.rules,
        description: null,
        identities: [`urn:v1:eu:identity:account:${auth.accountId}`],
        method: 'account',
        roles: null,
        user: null,
      });
    },
  );

  app.get(
    '/1.0/auth/currentCredential',
    {
      schema: {
        tags: ['auth'],
        summary: 'The credential used for this call',
        response: {
          200: {
            type: 'object',
            properties: {
              credentialId: { type: 'integer' },
              applicationId: { type: 'integer' },
              creation: { type: 'string', format: 'date-time' },
              expiration: { type: ['string', 'null'] },
              lastUse: { type: ['string', 'null'] },
              status: { type: 'string' },
              rules: { type: 'array', items: ruleSchema },
              allowedIPs: { type: ['array', 'null'] },
              ovhSupport: { type: 'boolean' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { credential } = request.auth!;
      return sendJson(reply, {
        credentialId: credential.id,
        applicationId: credential.applicationId,
        creation: credential.createdAt,
        expiration: credential.expiresAt,
        lastUse: null,
        status: credential.status,
        rules: credential.rules,
        allowedIPs: null,
        ovhSupport: false,
      });
    },
  );
}
