/**
 * OVH's calls on an account's own API keys (`/me/api/*`, models `api.Application` and
 * `api.Credential`) and `POST /auth/logout`. Every call is signed, and sees only the calling
 * account's applications and keys: anything else is "not found", as OVH answers.
 */
import type { FastifyInstance } from 'fastify';
import { AppError, invalid } from '../errors.ts';
import type { AppDeps } from '../http/deps.ts';
import { sendJson, sendVoid } from '../http/responses.ts';
import { CREDENTIAL_STATES, type CredentialState } from './credentials.store.ts';
import { allowedIpsProblems, MAX_ALLOWED_IPS } from './ip-blocks.ts';

const ruleSchema = {
  type: 'object',
  properties: { method: { type: 'string' }, path: { type: 'string' } },
} as const;

const applicationSchema = {
  type: 'object',
  description: 'api.Application',
  properties: {
    applicationId: { type: 'integer' },
    applicationKey: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    status: { type: 'string', enum: ['active', 'blocked', 'inactive', 'trusted'] },
  },
} as const;

const credentialSchema = {
  type: 'object',
  description: 'api.Credential',
  properties: {
    credentialId: { type: 'integer' },
    applicationId: { type: 'integer' },
    ovhSupport: { type: 'boolean' },
    rules: { type: 'array', items: ruleSchema },
    status: { type: 'string', enum: CREDENTIAL_STATES },
    creation: { type: 'string', format: 'date-time' },
    expiration: { type: ['string', 'null'] },
    lastUse: { type: ['string', 'null'] },
    allowedIPs: { type: ['array', 'null'], items: { type: 'string' } },
    origin: {
      type: ['string', 'null'],
      description: 'mks extension: bootstrap, admin, delegation, createToken or console',
    },
  },
} as const;

const idParams = (name: string, description: string) =>
  ({
    type: 'object',
    required: [name],
    properties: { [name]: { type: 'string', pattern: '^[0-9]{1,20}$', description } },
  }) as const;

const credentialParams = idParams('credentialId', 'Credential id');
const applicationParams = idParams('applicationId', 'Application id');

const idList = { 200: { type: 'array', items: { type: 'integer' } } } as const;
const voidResponse = { 200: { type: 'null' } } as const;

/**
 * Ids are 32-bit on PostgreSQL (`serial`): a larger number names nothing, and must not reach the
 * database, which would refuse the comparison with an error.
 */
const MAX_ID = 2 ** 31 - 1;
const idOf = (text: string): number | undefined => {
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
};

const credentialNotFound = () => new AppError('NotFound', 'This credential does not exist');
const applicationNotFound = () => new AppError('NotFound', 'This application does not exist');

export function registerMeRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'authStore'>): void {
  const keys = deps.authStore.keys;

  app.get(
    '/1.0/me/api/application',
    {
      schema: {
        tags: ['me'],
        summary: 'Ids of the applications that have API keys on this account',
        response: idList,
      },
    },
    async (request, reply) => sendJson(reply, await keys.applications(request.auth!.accountId)),
  );

  app.get(
    '/1.0/me/api/application/:applicationId',
    {
      schema: {
        tags: ['me'],
        summary: 'One application',
        params: applicationParams,
        response: { 200: applicationSchema },
      },
    },
    async (request, reply) => {
      const { applicationId } = request.params as { applicationId: string };
      const id = idOf(applicationId);
      const application = id === undefined ? undefined : await keys.application(request.auth!.accountId, id);
      if (application === undefined) throw applicationNotFound();
      return sendJson(reply, application);
    },
  );

  app.delete(
    '/1.0/me/api/application/:applicationId',
    {
      schema: {
        tags: ['me'],
        summary:
          "Remove an application: this account's keys for it stop working (and the application itself, when the account owns it)",
        params: applicationParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { applicationId } = request.params as { applicationId: string };
      const id = idOf(applicationId);
      if (id === undefined || !(await keys.deleteApplication(request.auth!.accountId, id))) {
        throw applicationNotFound();
      }
      return sendVoid(reply);
    },
  );

  app.get(
    '/1.0/me/api/credential',
    {
      schema: {
        tags: ['me'],
        summary: "Ids of the account's API keys (consumer keys)",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: CREDENTIAL_STATES },
            applicationId: { type: 'string', pattern: '^[0-9]{1,20}$' },
          },
        },
        response: idList,
      },
    },
    async (request, reply) => {
      const query = request.query as { status?: CredentialState; applicationId?: string };
      const applicationId = query.applicationId === undefined ? undefined : idOf(query.applicationId);
      if (query.applicationId !== undefined && applicationId === undefined) return sendJson(reply, []);
      const ids = await keys.list(request.auth!.accountId, {
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(applicationId === undefined ? {} : { applicationId }),
      });
      return sendJson(reply, ids);
    },
  );

  app.get(
    '/1.0/me/api/credential/:credentialId',
    {
      schema: {
        tags: ['me'],
        summary: 'One API key: rules, state, creation, expiration, last use, allowed IPs',
        params: credentialParams,
        response: { 200: credentialSchema },
      },
    },
    async (request, reply) => {
      const { credentialId } = request.params as { credentialId: string };
      const id = idOf(credentialId);
      const credential = id === undefined ? undefined : await keys.get(request.auth!.accountId, id);
      if (credential === undefined) throw credentialNotFound();
      return sendJson(reply, credential);
    },
  );

  app.put(
    '/1.0/me/api/credential/:credentialId',
    {
      schema: {
        tags: ['me'],
        summary: "Change an API key's allowed IPs (null or [] allows any address)",
        params: credentialParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            allowedIPs: {
              type: ['array', 'null'],
              maxItems: MAX_ALLOWED_IPS,
              items: { type: 'string', maxLength: 64 },
            },
          },
        },
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { credentialId } = request.params as { credentialId: string };
      const { allowedIPs } = request.body as { allowedIPs?: string[] | null };
      const problems = allowedIpsProblems(allowedIPs ?? []);
      if (problems.length > 0) throw invalid(problems.join('; '));
      const blocks = allowedIPs == null || allowedIPs.length === 0 ? null : allowedIPs;
      const id = idOf(credentialId);
      if (id === undefined || !(await keys.setAllowedIps(request.auth!.accountId, id, blocks))) {
        throw credentialNotFound();
      }
      return sendVoid(reply);
    },
  );

  app.delete(
    '/1.0/me/api/credential/:credentialId',
    {
      schema: {
        tags: ['me'],
        summary: 'Revoke an API key: its next call is refused',
        params: credentialParams,
        response: voidResponse,
      },
    },
    async (request, reply) => {
      const { credentialId } = request.params as { credentialId: string };
      const id = idOf(credentialId);
      if (id === undefined || !(await keys.revoke(request.auth!.accountId, id))) throw credentialNotFound();
      return sendVoid(reply);
    },
  );

  app.get(
    '/1.0/me/api/credential/:credentialId/application',
    {
      schema: {
        tags: ['me'],
        summary: 'The application an API key belongs to',
        params: credentialParams,
        response: { 200: applicationSchema },
      },
    },
    async (request, reply) => {
      const { credentialId } = request.params as { credentialId: string };
      const { accountId } = request.auth!;
      const id = idOf(credentialId);
      const credential = id === undefined ? undefined : await keys.get(accountId, id);
      if (credential === undefined) throw credentialNotFound();
      const application = await keys.application(accountId, credential.applicationId);
      if (application === undefined) throw applicationNotFound();
      return sendJson(reply, application);
    },
  );
}
