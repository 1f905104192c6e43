/**
 * OVH's `/auth` endpoints that clients call while configuring themselves.
 *
 * Unsigned `/auth` calls: the npm clients (`ovh` 2.x, `@ovhcloud/node-ovh` 3.x) never sign a path
 * containing `/auth` — they send `X-Ovh-Application` alone, no consumer key, no timestamp, no
 * signature. For `/auth/time` and `/auth/credential` that is what OVH expects. For `/auth/details`
 * and `/auth/currentCredential` nothing in such a request says *which* credential is asking (the
 * application key is not a secret, and the consumer key is not sent), so there is nothing honest
 * to answer: they stay signed-only and refuse with a 401 that says why. Signature checks are never
 * relaxed for any other route.
 */
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, invalid } from '../errors.ts';
import type { AppDeps } from '../http/deps.ts';
import { sendJson, sendJsonText, sendVoid } from '../http/responses.ts';
import type { AccessRule } from './access-rules.ts';
import { registerMeRoutes } from './me.routes.ts';

const ruleSchema = {
  type: 'object',
  properties: {
    method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'] },
    path: { type: 'string' },
  },
} as const;

/** A list of access rules as callers send them (`POST /auth/credential`, the createToken form). */
export const accessRulesSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 200,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['method', 'path'],
    properties: {
      method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'DELETE'] },
      path: { type: 'string', pattern: '^/', maxLength: 1024 },
    },
  },
} as const;

/** `auth.ApiCredentialRequestParams`. */
const credentialRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['accessRules'],
  properties: {
    accessRules: accessRulesSchema,
    redirection: { type: ['string', 'null'], maxLength: 2048 },
    allowedIPs: { type: ['array', 'null'], items: { type: 'string' } },
  },
} as const;

interface CredentialRequest {
  accessRules: AccessRule[];
  redirection?: string | null;
  allowedIPs?: string[] | null;
}

/**
 * Runs before the signature check of `/auth/details` and `/auth/currentCredential`: a request
 * with no consumer key and no signature is what the npm clients send there; say so.
 */
async function refuseUnsignedAuthCall(request: FastifyRequest): Promise<void> {
  const { headers } = request;
  if (headers['x-ovh-consumer'] === undefined && headers['x-ovh-signature'] === undefined) {
    throw new AuthError(
      'NOT_AUTHENTICATED',
      'You must login first: this call must be signed (X-Ovh-Consumer, X-Ovh-Timestamp, X-Ovh-Signature). ' +
        'The npm clients ovh and @ovhcloud/node-ovh never sign paths containing /auth, so they cannot use it; ' +
        'check credentials with a signed call such as GET /cloud/project',
    );
  }
}

/**
 * The validation page sends the browser to `redirection` after the user decides, so only a plain
 * web address is accepted: no `javascript:`/`data:` URL, no credentials in it.
 */
export function redirectionProblemOf(redirection: string): string | undefined {
  if (redirection === '') return undefined;
  let url: URL;
  try {
    url = new URL(redirection);
  } catch {
    return `'${redirection.slice(0, 100)}' is not an absolute URL such as https://example.com/done`;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'only http and https URLs are accepted';
  if (url.username !== '' || url.password !== '') return 'a URL with a user name or password is not accepted';
  return undefined;
}

export function registerAuthRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'authStore' | 'config'>): void {
  // Where a user approves a requested consumer key (served by the web console), as OVH's
  // `https://eu.api.ovh.com/auth/?credentialToken=...`.
  const validationBase = `${deps.config.publicUrl.replace(/\/1\.0$/, '')}/auth/`;

  app.post(
    '/1.0/auth/credential',
    {
      config: { auth: 'application' },
      schema: {
        tags: ['auth'],
        summary:
          'Request a consumer key for the application (X-Ovh-Application only); it stays pendingValidation until a user validates it at validationUrl',
        body: credentialRequestSchema,
        response: {
          200: {
            type: 'object',
            description: 'auth.ApiCredentialRequest',
            properties: {
              validationUrl: { type: 'string' },
              consumerKey: { type: 'string' },
              state: { type: 'string', enum: ['pendingValidation'] },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body as CredentialRequest;
      if (body.allowedIPs != null && body.allowedIPs.length > 0) {
        throw invalid(
          'allowedIPs: restricting a credential to IP addresses is not supported by mks; leave it out',
        );
      }
      const redirectionProblem =
        body.redirection == null ? undefined : redirectionProblemOf(body.redirection);
      if (redirectionProblem !== undefined) throw invalid(`redirection: ${redirectionProblem}`);
      // The token is the secret of the validation link; only its hash is stored.
      const validationToken = crypto.randomBytes(24).toString('base64url');
      const { consumerKey } = await deps.authStore.createCredential({
        applicationId: request.application!.id,
        accountId: null,
        rules: body.accessRules.map((rule) => ({ method: rule.method, path: rule.path })),
        status: 'pendingValidation',
        redirection: body.redirection == null || body.redirection === '' ? null : body.redirection,
        validationToken,
        origin: 'delegation',
      });
      return sendJson(reply, {
        validationUrl: `${validationBase}?credentialToken=${encodeURIComponent(validationToken)}`,
        consumerKey,
        state: 'pendingValidation',
      });
    },
  );

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
      onRequest: refuseUnsignedAuthCall,
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
      onRequest: refuseUnsignedAuthCall,
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
        allowedIPs: credential.allowedIps,
        ovhSupport: false,
      });
    },
  );

  app.post(
    '/1.0/auth/logout',
    {
      onRequest: refuseUnsignedAuthCall,
      schema: {
        tags: ['auth'],
        summary: 'Expire the consumer key that signs this call (it is listed as expired afterwards)',
        response: { 200: { type: 'null' } },
      },
    },
    async (request, reply) => {
      await deps.authStore.keys.expire(request.auth!.credential.id);
      return sendVoid(reply);
    },
  );

  registerMeRoutes(app, deps);
}
