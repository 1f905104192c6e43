/**
 * The web console, served on the API's own origin: the page shell for every console address
 * (`/`, OVH's `/auth/?credentialToken=…` validation page, `/createToken/`, `/console/…`), its
 * bundled script and style, and the server side of the forms that take an account's password
 * (sign-in, validation, createToken). Everything else the console does goes through the signed
 * `/1.0` API, like any other client.
 *
 * CSRF: these forms are JSON POSTs made by the console's script. A cross-site page can only send
 * a "simple" request (form encodings) without a CORS preflight, which this server never grants;
 * the routes refuse anything but `application/json`, and a browser request whose `Origin` or
 * `Sec-Fetch-Site` says it comes from another site.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HTTP_METHODS } from '../auth/access-rules.ts';
import { accessRulesSchema } from '../auth/auth.routes.ts';
import { CONSOLE_APPLICATION } from '../auth/auth.store.ts';
import { allowedIpsProblems, MAX_ALLOWED_IPS } from '../auth/ip-blocks.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import type { AppDeps } from '../http/deps.ts';
import { sendJson } from '../http/responses.ts';
import { consoleAsset } from './bundle.ts';
import { SignInGuard } from './sign-in.ts';

/** Validity choices (seconds; null is OVH's "unlimited"). The validation page defaults to 24 h. */
export const VALIDITIES = [3600, 8 * 3600, 86_400, 7 * 86_400, 30 * 86_400, null] as const;

const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const login = { type: 'string', minLength: 1, maxLength: 200 } as const;
/** Passwords are checked by the guard, never by the schema: a schema error would echo the value. */
const password = {} as const;
const credentialToken = { type: 'string', minLength: 1, maxLength: 200 } as const;
const validity = { type: ['integer', 'null'], enum: VALIDITIES } as const;
const allowedIPs = {
  type: ['array', 'null'],
  maxItems: MAX_ALLOWED_IPS,
  items: { type: 'string', maxLength: 64 },
} as const;
const rules = accessRulesSchema;

const form = (properties: Record<string, unknown>, required: readonly string[]) => ({
  hide: true,
  body: { type: 'object', additionalProperties: false, required, properties },
});

const PAGE_PATHS = ['/', '/auth', '/auth/', '/createToken', '/createToken/', '/console', '/console/*'];

export function registerConsoleRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'authStore' | 'config'>) {
  const guard = new SignInGuard(deps.authStore);
  const keys = deps.authStore.keys;
  const endpoint = deps.config.publicUrl;
  const publicOrigin = new URL(endpoint).origin;

  /** Refuses what a cross-site page could make a signed-in browser send (see the file's note). */
  const sameOriginOnly = async (request: FastifyRequest) => {
    const type = request.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      throw new AppError(
        'Forbidden',
        'Cross-site request refused: console forms are sent as application/json',
      );
    }
    const site = request.headers['sec-fetch-site'];
    const origin = request.headers.origin;
    const ownOrigin = `${request.protocol}://${request.host}`;
    if (
      (site !== undefined && site !== 'same-origin' && site !== 'none') ||
      (origin !== undefined && origin !== ownOrigin && origin !== publicOrigin)
    ) {
      throw new AppError('Forbidden', 'Cross-site request refused: use the console on this origin');
    }
  };
  const formRoute = { config: { auth: 'none' as const }, onRequest: sameOriginOnly };

  for (const url of PAGE_PATHS) {
    app.get(url, { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) =>
      securityHeaders(reply)
        .type('text/html; charset=utf-8')
        .header('Cache-Control', 'no-store')
        .send(shell()),
    );
  }

  app.get(
    '/console/assets/:name',
    { config: { auth: 'none' }, schema: { hide: true } },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const asset = await consoleAsset(name);
      if (asset === undefined) throw notFound('Got an invalid (or empty) URL');
      return securityHeaders(reply)
        .type(asset.type)
        .header('Cache-Control', 'no-cache')
        .header('ETag', asset.etag)
        .send(asset.body);
    },
  );

  // Sign-in: the account's console application (its key and secret sign in this browser). The
  // script then asks for a consumer key through POST /1.0/auth/credential and validates it
  // below, like any application: the session is a scoped, expiring key.
  app.post(
    '/console/api/sign-in',
    { ...formRoute, schema: form({ login, password }, ['login', 'password']) },
    async (request, reply) => {
      const body = request.body as { login: string; password: unknown };
      const accountId = await guard.check(body.login, body.password, request.ip);
      const application = await deps.authStore.consoleApplication(accountId);
      return sendJson(reply, {
        accountId,
        applicationKey: application.appKey,
        applicationSecret: application.secret,
        endpoint,
      });
    },
  );

  // What the validation page shows before anyone signs in: who asks, for what.
  app.post(
    '/console/api/validation/lookup',
    { ...formRoute, schema: form({ credentialToken }, ['credentialToken']) },
    async (request, reply) => {
      const { credentialToken: token } = request.body as { credentialToken: string };
      const pending = await keys.pendingRequest(token);
      if (pending === undefined) throw unknownToken();
      return sendJson(reply, {
        state: pending.state,
        application: { name: pending.application.name, description: pending.application.description },
        rules: pending.rules,
        redirection: pending.redirection,
      });
    },
  );

  app.post(
    '/console/api/validation',
    {
      ...formRoute,
      schema: form(
        {
          credentialToken,
          login,
          password,
          decision: { type: 'string', enum: ['authorize', 'refuse'] },
          validity,
          allowedIPs,
        },
        ['credentialToken', 'login', 'password', 'decision'],
      ),
    },
    async (request, reply) => {
      const body = request.body as {
        credentialToken: string;
        login: string;
        password: unknown;
        decision: 'authorize' | 'refuse';
        validity?: number | null;
        allowedIPs?: string[] | null;
      };
      const pending = await keys.pendingRequest(body.credentialToken);
      if (pending === undefined) throw unknownToken();
      if (pending.state !== 'pendingValidation') throw decidedAlready(pending.state);
      const blocks = checkedIps(body.allowedIPs);
      const accountId = await guard.check(body.login, body.password, request.ip);
      const decided =
        body.decision === 'refuse'
          ? await keys.decide(body.credentialToken, { kind: 'refuse', accountId })
          : await keys.decide(body.credentialToken, {
              kind: 'authorize',
              accountId,
              expiresAt: expiry(body.validity === undefined ? 86_400 : body.validity),
              allowedIps: blocks,
              ...(pending.application.name === CONSOLE_APPLICATION &&
              pending.application.accountId === accountId
                ? { origin: 'console' as const }
                : {}),
            });
      if (!decided) throw decidedAlready('decided');
      return sendJson(reply, {
        state: body.decision === 'refuse' ? 'refused' : 'validated',
        redirection: pending.redirection,
      });
    },
  );

  // OVH's createToken: an application and a validated consumer key at once, shown once.
  app.post(
    '/console/api/token',
    {
      ...formRoute,
      schema: form(
        {
          login,
          password,
          name: { type: 'string', minLength: 1, maxLength: 100 },
          description: { type: 'string', maxLength: 500 },
          validity,
          rules,
          allowedIPs,
        },
        ['login', 'password', 'name', 'rules'],
      ),
    },
    async (request, reply) => {
      const body = request.body as {
        login: string;
        password: unknown;
        name: string;
        description?: string;
        validity?: number | null;
        rules: { method: (typeof HTTP_METHODS)[number]; path: string }[];
        allowedIPs?: string[] | null;
      };
      const blocks = checkedIps(body.allowedIPs);
      const accountId = await guard.check(body.login, body.password, request.ip);
      const application = await deps.authStore.createApplication({
        accountId,
        name: body.name,
        description: body.description ?? '',
      });
      const expiration = expiry(body.validity === undefined ? 86_400 : body.validity);
      const { consumerKey } = await deps.authStore.createCredential({
        applicationId: application.id,
        accountId,
        rules: body.rules.map((rule) => ({ method: rule.method, path: rule.path })),
        status: 'validated',
        expiresAt: expiration,
        allowedIps: blocks,
        origin: 'createToken',
      });
      return sendJson(reply, {
        endpoint,
        applicationKey: application.appKey,
        applicationSecret: application.secret,
        consumerKey,
        expiration,
      });
    },
  );
}

function checkedIps(blocks: string[] | null | undefined): string[] | null {
  const problems = allowedIpsProblems(blocks ?? []);
  if (problems.length > 0) throw invalid(problems.join('; '));
  return blocks == null || blocks.length === 0 ? null : blocks;
}

const expiry = (seconds: number | null) =>
  seconds === null ? null : new Date(Date.now() + seconds * 1000).toISOString();

const unknownToken = () =>
  notFound('This validation link is unknown or has already been used: ask the application for a new one');

function decidedAlready(state: string) {
  const what =
    state === 'expired'
      ? 'has expired (a request must be decided within an hour)'
      : state === 'decided'
        ? 'was decided meanwhile'
        : `is already ${state}`;
  return new AppError('Conflict', `This request ${what}: ask the application for a new one`);
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return (
    reply
      .header('Content-Security-Policy', CONTENT_SECURITY_POLICY)
      .header('X-Content-Type-Options', 'nosniff')
      .header('X-Frame-Options', 'DENY')
      .header('Cross-Origin-Opener-Policy', 'same-origin')
      // The validation page's address carries the credential token: never send it onward.
      .header('Referrer-Policy', 'no-referrer')
  );
}

/** The one HTML page: the script renders whichever console page the address names. */
function shell(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mks console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/app.css">
<script type="module" src="/console/assets/app.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<div id="app"><main id="main"><p>Loading the mks console…</p><noscript>The console needs JavaScript.</noscript></main></div>
</body>
</html>
`;
}
