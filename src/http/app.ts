/**
 * Builds the HTTP API: OVH's `/1.0` surface with query ids, signature auth, one error mapping and
 * an OpenAPI 3.1 document generated from the route schemas.
 */
import crypto from 'node:crypto';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
  type preValidationHookHandler,
} from 'fastify';
import { registerAuthRoutes } from '../auth/auth.routes.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { registerClusterRoutes } from '../clusters/clusters.routes.ts';
import { registerControlPlaneRoutes } from '../clusters/control-plane.routes.ts';
import { registerCustomizationRoutes } from '../clusters/customization.routes.ts';
import { registerCustomizationExtensionRoutes } from '../clusters/customization-extensions.routes.ts';
import { registerIpRestrictionRoutes } from '../clusters/ip-restrictions.routes.ts';
import { registerNetworkRoutes } from '../clusters/network.routes.ts';
import { registerNodePoolRoutes } from '../clusters/nodepools.routes.ts';
import { registerOpenIdConnectRoutes } from '../clusters/oidc.routes.ts';
import { registerConsoleRoutes } from '../console/console.routes.ts';
import { AppError, invalid, serviceNotFound } from '../errors.ts';
import { registerProjectRoutes, registerProjectScopedRoutes } from '../projects/projects.routes.ts';
import type { Project } from '../projects/projects.store.ts';
import type { AppDeps, AuthMode } from './deps.ts';
import { registerHealthRoutes } from './health.routes.ts';
import { registerJsonBody } from './json-body.ts';
import { lazyChildLogger } from './lazy-logger.ts';
import { applyListenerLimits, containsNul, nulRefused } from './limits.ts';
import { handleError } from './ovh-errors.ts';
import { PROJECT_PREFIX } from './params.ts';
import { ovhProtocolOptions } from './protocol-errors.ts';
import { rateLimitCheck } from './rate-limit.ts';
import { QUERY_ID_HEADER, sendJson } from './responses.ts';

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const queryIdPrefix = `EU.ext-mks.${crypto.randomBytes(4).toString('hex')}.${process.pid}.`;
  let queryCounter = 0;
  const nextQueryId = () => `${queryIdPrefix}${(++queryCounter).toString(36)}`;

  const app = Fastify({
    ...ovhProtocolOptions(deps.logger, nextQueryId),
    // With TLS the server is an https.Server; the instance is used the same way (typed as http).
    ...(deps.https === undefined ? {} : { https: { cert: deps.https.cert, key: deps.https.key } }),
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No log line per request: at info level it costs a large share of a small request's
    // throughput (docs/performance.md).
    // Refusals and failures are logged by the error handler, with the query id.
    logController: new ApiLogController(deps.metrics?.countRequest),
    genReqId: nextQueryId,
    childLoggerFactory: lazyChildLogger,
    bodyLimit: deps.config.bodyLimitBytes,
    trustProxy: false,
    ajv: {
      // Refuse rather than fix: unknown fields, wrong types and missing values are client errors.
      customOptions: {
        allowUnionTypes: true,
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        verbose: true,
      },
    },
  });

  app.decorateRequest('auth', undefined);
  app.decorateRequest('application', undefined);
  app.decorateRequest('routeUrl', undefined);
  registerJsonBody(app, deps.config.bodyLimitBytes);

  // What every routed request goes through before its schema is one `preValidation` hook per
  // route, built when the route is added (below), so nothing is looked up per request: the query
  // id header, authentication, the body checks, the rate limit, then, under the project prefix,
  // the project's owner. One hook with no promise on the hot path: each hook phase, promise and
  // `request.routeOptions` read (a new object each time) is a measurable share of a signed GET
  // (docs/performance.md). Errors get the query id from the error handler.
  const rateLimit = rateLimitCheck(deps.config.rateLimit);
  const ownsProject = (request: FastifyRequest): Promise<void> | undefined => {
    const { serviceName } = request.params as { serviceName: string };
    const cached = deps.projects.cached(serviceName);
    if (cached !== undefined) return ownProject(cached, request);
    return deps.projects.get(serviceName).then((project) => ownProject(project, request));
  };
  const admission = (mode: AuthMode, takesBody: boolean, projectScoped: boolean) => {
    /** Everything after authentication; a promise only when the project is not cached. */
    const afterAuth = (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined => {
      checkBody(request, takesBody);
      rateLimit?.(request, reply);
      return projectScoped ? ownsProject(request) : undefined;
    };
    return (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined => {
      if (mode === 'signed') {
        const auth = authenticate(deps.authenticator, request);
        if (auth instanceof Promise) {
          return auth.then((context) => {
            request.auth = context;
            return afterAuth(request, reply);
          });
        }
        request.auth = auth;
      } else if (mode === 'application') {
        return deps.authenticator
          .application(header(request.headers['x-ovh-application']))
          .then((application) => {
            request.application = application;
            return afterAuth(request, reply);
          });
      }
      return afterAuth(request, reply);
    };
  };
  const admissionHook = (
    url: string | undefined,
    admit: ReturnType<typeof admission>,
  ): preValidationHookHandler =>
    function admitted(request, reply, done) {
      reply.header(QUERY_ID_HEADER, request.id);
      request.routeUrl = url;
      let pending: Promise<void> | undefined;
      try {
        pending = admit(request, reply);
      } catch (error) {
        done(error as Error);
        return;
      }
      if (pending === undefined) done();
      else pending.then(() => done(), done);
    };
  app.addHook('onRoute', (route) => {
    const admit = admission(
      route.config?.auth ?? 'signed',
      route.schema?.body !== undefined,
      route.prefix === PROJECT_PREFIX,
    );
    const own = route.preValidation;
    route.preValidation = [admissionHook(route.url, admit), ...(own === undefined ? [] : [own].flat())];
  });
  deps.metrics?.instrument(app);
  registerHealthRoutes(app, deps.readiness ?? (async () => ({})));

  app.setErrorHandler(handleError);
  // A request no route takes still has its body checked (a malformed body is refused as such).
  app.setNotFoundHandler(
    { preValidation: admissionHook(undefined, admission('none', false, false)) },
    (request, reply) => {
      handleError(unroutedError(request.method, request.url), request, reply);
    },
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'mks — Managed Kubernetes Service API',
        version: '1.0',
        description:
          'Wire-compatible with the OVHcloud /cloud/project/{serviceName}/kube API. Requests are signed as OVH signs them: ' +
          'X-Ovh-Application, X-Ovh-Consumer, X-Ovh-Timestamp and X-Ovh-Signature = "$1$" + sha1hex(AS+"+"+CK+"+"+METHOD+"+"+URL+"+"+BODY+"+"+TIMESTAMP).',
      },
      servers: [{ url: deps.config.publicUrl.replace(/\/1\.0$/, '') }],
    },
  });

  registerAuthRoutes(app, deps);
  registerConsoleRoutes(app, deps);
  registerProjectRoutes(app, deps);
  await app.register(
    async (scoped) => {
      registerProjectScopedRoutes(scoped, deps);
      registerClusterRoutes(scoped, deps);
      registerCustomizationRoutes(scoped, deps);
      registerNodePoolRoutes(scoped, deps);
      registerIpRestrictionRoutes(scoped, deps);
      registerOpenIdConnectRoutes(scoped, deps);
      registerNetworkRoutes(scoped, deps);
      registerControlPlaneRoutes(scoped, deps);
      registerCustomizationExtensionRoutes(scoped, deps);
    },
    { prefix: PROJECT_PREFIX },
  );

  app.get(
    '/1.0/openapi.json',
    { config: { auth: 'none' }, schema: { hide: true } },
    async (_request, reply) => sendJson(reply, app.swagger()),
  );

  applyListenerLimits(app.server, deps.config.listeners);
  return app;
}

/**
 * Fastify's per-request log lines, off, and the request metrics counted where fastify reports each
 * answer complete (after the `onResponse` hooks, of which the API has none): the same requests an
 * `onResponse` hook sees, without a hook phase per request (docs/performance.md).
 */
class ApiLogController extends LogController {
  readonly #completed: ((request: FastifyRequest, reply: FastifyReply) => void) | undefined;

  constructor(completed: ((request: FastifyRequest, reply: FastifyReply) => void) | undefined) {
    super({ disableRequestLogging: true, requestIdLogLabel: 'queryId' });
    this.#completed = completed;
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    this.#completed?.(request, reply);
    super.requestCompleted(error, request, reply, metadata);
  }
}

/**
 * A request no route takes. Under `/1.0/cloud/`, OVH's API where mks serves a part, the path is
 * one of OVH's calls mks does not provide (or a mistyped one): a 400 naming it, never a 404 that
 * OVH's clients read as "the resource was deleted". Elsewhere, OVH's own answer to a bad URL.
 */
export function unroutedError(method: string, url: string): AppError {
  const path = url.split('?')[0] ?? '';
  if (!path.startsWith('/1.0/cloud/')) return new AppError('NotFound', 'Got an invalid (or empty) URL');
  const shown = path.length > 256 ? `${path.slice(4, 260)}…` : path.slice(4);
  return invalid(
    `${method} ${shown} is not provided by mks: it serves the OVH kube calls listed in its API reference (GET /1.0/openapi.json)`,
  );
}

/**
 * Refusals found once authentication passed (so an unauthenticated caller learns nothing more):
 * a malformed body, a NUL in the path; and OVH clients' missing body on a route that takes one.
 */
function checkBody(request: FastifyRequest, takesBody: boolean): void {
  if (request.bodyError !== undefined) throw request.bodyError;
  // A path parameter holds U+0000 only when the URL has `%00` (HTTP refuses the raw byte; the
  // router percent-decodes parameters): most URLs need no walk over the parameters (≈ 0.2 µs).
  if (request.url.includes('%00') && containsNul(request.params)) throw nulRefused('the path');
  // OVH's clients send no body at all for empty parameters (the npm clients for `{}`, go-ovh
  // for nil): on a route that takes a body, that is an empty object, not a missing one.
  if (takesBody && request.body === undefined && request.rawBody === '') request.body = {};
}

/** The project must exist and belong to the caller's account (else the same 404 as a missing one). */
function ownProject(project: Project | undefined, request: FastifyRequest): undefined {
  if (project === undefined || project.accountId !== request.auth?.accountId) throw serviceNotFound();
  return undefined;
}

function authenticate(authenticator: Authenticator, request: FastifyRequest) {
  const headers = request.headers;
  return authenticator.authenticate({
    method: request.method,
    url: request.url,
    host: headers.host,
    protocol: request.protocol,
    body: request.rawBody,
    applicationKey: header(headers['x-ovh-application']),
    consumerKey: header(headers['x-ovh-consumer']),
    timestamp: header(headers['x-ovh-timestamp']),
    signature: header(headers['x-ovh-signature']),
    ip: request.ip,
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
