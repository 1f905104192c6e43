/**
 * The authentication layer through real HTTP: signatures as each client computes them, the
 * refusals and their OVH bodies, access rules, tenancy between accounts, `/auth/*`, query ids on
 * every response, and secrets at rest.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { AccessRule } from '../../src/auth/access-rules.ts';
import type { Credential } from '../../src/auth/auth.store.ts';
import { ApiClient } from '../../src/client/api-client.ts';
import type { OvhCredentials } from '../../src/client/ovh-conf.ts';
import { DIALECTS } from '../support/dialects.ts';
import { ovhAuthHeaders } from '../support/ovh-headers.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const NOT_FOUND = { class: 'Client::NotFound', message: 'This service does not exist' };

interface Reply {
  status: number;
  body: unknown;
  queryId: string | null;
}

interface SignedCall {
  method?: string;
  /** Below /1.0, e.g. `/cloud/project`. */
  path: string;
  body?: string;
  credentials: OvhCredentials;
  /** The URL the signature covers (default: the configured endpoint + path, as go-ovh signs). */
  signedUrl?: string;
  signedMethod?: string;
  signedBody?: string;
  timestamp?: number;
  /** Headers to leave out. */
  omit?: readonly string[];
}

async function send(url: string, init: RequestInit): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body, queryId: response.headers.get('x-ovh-queryid') };
}

async function call(server: TestServer, input: SignedCall): Promise<Reply> {
  const method = input.method ?? 'GET';
  const body = input.body ?? '';
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000);
  const { credentials } = input;
  const headers = ovhAuthHeaders(
    credentials,
    input.signedMethod ?? method,
    input.signedUrl ?? `${credentials.endpoint}${input.path}`,
    input.signedBody ?? body,
    timestamp,
  );
  if (body !== '') headers['Content-Type'] = 'application/json;charset=utf-8';
  for (const name of input.omit ?? []) delete headers[name];
  return send(`${server.baseUrl}/1.0${input.path}`, {
    method,
    headers,
    ...(body === '' ? {} : { body }),
  });
}

/** Asserts an auth-layer refusal: status, exactly `{errorCode, httpCode, message}`, a query id. */
function assertAuthError(reply: Reply, status: number, errorCode: string, httpCode: string) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  const { message, ...rest } = reply.body as Record<string, unknown>;
  assert.deepEqual(rest, { errorCode, httpCode });
  assert.ok(typeof message === 'string' && message.length > 0, `message: ${String(message)}`);
  assert.ok(reply.queryId, 'X-Ovh-QueryID is set');
}

for (const dialect of DIALECTS) {
  describe(`authentication (${dialect})`, () => {
    let server: TestServer;
    let accountId: string;

    /** A new application + credential for `account`, as an OVH client would be configured. */
    const credentialFor = async (
      account: string,
      rules: readonly AccessRule[],
      status: Credential['status'] = 'validated',
    ): Promise<OvhCredentials> => {
      const application = await server.services.authStore.createApplication({
        accountId: account,
        name: 'test',
        description: 'test',
      });
      const { consumerKey } = await server.services.authStore.createCredential({
        applicationId: application.id,
        accountId: status === 'pendingValidation' ? null : account,
        rules,
        status,
      });
      return {
        endpoint: server.credentials.endpoint,
        applicationKey: application.appKey,
        applicationSecret: application.secret,
        consumerKey,
      };
    };

    before(async () => {
      server = await startTestServer(dialect);
      const details = (await server.client.call('GET', '/auth/details')) as { account: string };
      accountId = details.account;
    });
    after(() => server.close());

    describe('signatures', () => {
      test('a signature over the configured endpoint URL, scheme and port included, is accepted', async () => {
        assert.equal(server.credentials.endpoint, `${server.baseUrl}/1.0`);
        const reply = await call(server, { path: '/cloud/project', credentials: server.credentials });
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.body, [server.projectId]);
      });

      test('a signature over https and the host without its port, as the npm clients sign, is accepted', async () => {
        const reply = await call(server, {
          path: '/cloud/project',
          credentials: server.credentials,
          signedUrl: 'https://127.0.0.1/1.0/cloud/project',
        });
        assert.equal(reply.status, 200);
        assert.deepEqual(reply.body, [server.projectId]);
      });

      test('a signed body is accepted when it is the exact body sent', async () => {
        const reply = await call(server, {
          method: 'POST',
          path: `/cloud/project/${server.projectId}/kube`,
          body: '{"region":"GRA11","name":"signed-body"}',
          credentials: server.credentials,
        });
        assert.equal(reply.status, 200, JSON.stringify(reply.body));
        assert.equal((reply.body as { name: string }).name, 'signed-body');
      });

      test('a signature over any other URL, body or method is refused as invalid', async () => {
        const port = new URL(server.baseUrl).port;
        const path = `/cloud/project/${server.projectId}/kube`;
        const body = '{"region":"GRA11"}';
        const wrong: SignedCall[] = [
          {
            path: '/cloud/project',
            signedUrl: 'http://127.0.0.1/1.0/cloud/project',
            credentials: server.credentials,
          },
          {
            path: '/cloud/project',
            signedUrl: `https://127.0.0.1:${port}/1.0/cloud/project`,
            credentials: server.credentials,
          },
          {
            path: '/cloud/project',
            signedUrl: `${server.baseUrl}/1.0/cloud/project/other`,
            credentials: server.credentials,
          },
          {
            path: '/cloud/project',
            signedUrl: `${server.baseUrl}/cloud/project`,
            credentials: server.credentials,
          },
          { path: '/cloud/project', signedMethod: 'POST', credentials: server.credentials },
          { method: 'POST', path, body, signedBody: '{"region":"GRA9"}', credentials: server.credentials },
          { method: 'POST', path, body, signedBody: '', credentials: server.credentials },
          {
            path: '/cloud/project',
            credentials: { ...server.credentials, applicationSecret: 'not-the-secret' },
          },
        ];
        for (const input of wrong) {
          const reply = await call(server, input);
          assert.equal(reply.status, 400, JSON.stringify(input));
          assert.deepEqual(reply.body, {
            errorCode: 'INVALID_SIGNATURE',
            httpCode: '400 Bad Request',
            message: 'Invalid signature',
          });
        }
        const clusters = (await server.client.call('GET', path)) as string[];
        assert.equal(clusters.length, 1, 'no refused POST created a cluster');
      });

      test('a request without the signature headers is told to log in first', async () => {
        for (const omit of [
          ['X-Ovh-Application', 'X-Ovh-Consumer', 'X-Ovh-Timestamp', 'X-Ovh-Signature'],
          ['X-Ovh-Signature'],
          ['X-Ovh-Timestamp'],
          ['X-Ovh-Consumer'],
          ['X-Ovh-Application'],
        ]) {
          const reply = await call(server, { path: '/cloud/project', credentials: server.credentials, omit });
          assertAuthError(reply, 401, 'NOT_AUTHENTICATED', '401 Unauthorized');
        }
        assertAuthError(
          await send(`${server.baseUrl}/1.0/cloud/project`, {}),
          401,
          'NOT_AUTHENTICATED',
          '401 Unauthorized',
        );
      });

      test('an unknown application key is refused as an invalid key', async () => {
        const reply = await call(server, {
          path: '/cloud/project',
          credentials: { ...server.credentials, applicationKey: 'NoSuchAppKey0000' },
        });
        assertAuthError(reply, 403, 'INVALID_KEY', '403 Forbidden');
      });

      test('an unknown consumer key is refused as a credential that does not exist', async () => {
        const reply = await call(server, {
          path: '/cloud/project',
          credentials: { ...server.credentials, consumerKey: 'NoSuchConsumerKey000000000000000' },
        });
        assertAuthError(reply, 403, 'NOT_CREDENTIAL', '403 Forbidden');
        assert.equal((reply.body as { message: string }).message, 'This credential does not exist');
      });

      test('a consumer key still waiting for validation is not a valid credential', async () => {
        const pending = await credentialFor(accountId, [{ method: 'GET', path: '/*' }], 'pendingValidation');
        const reply = await call(server, { path: '/cloud/project', credentials: pending });
        assertAuthError(reply, 403, 'INVALID_CREDENTIAL', '403 Forbidden');
        assert.equal((reply.body as { message: string }).message, 'This credential is not valid');
      });

      test('a timestamp more than 180 seconds from the server clock is refused', async () => {
        const now = Math.floor(Date.now() / 1000);
        for (const timestamp of [now - 300, now + 300, now - 200, now + 200]) {
          const reply = await call(server, {
            path: '/cloud/project',
            credentials: server.credentials,
            timestamp,
          });
          assertAuthError(reply, 400, 'QUERY_TIME_OUT', '400 Bad Request');
        }
        // Well inside the window (a few seconds of margin for the test's own clock reading).
        for (const timestamp of [now - 170, now + 170]) {
          const reply = await call(server, {
            path: '/cloud/project',
            credentials: server.credentials,
            timestamp,
          });
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
        }
      });
    });

    describe('query ids', () => {
      test('every response carries a distinct X-Ovh-QueryID', async () => {
        const replies: Reply[] = [
          await call(server, { path: '/cloud/project', credentials: server.credentials }),
          await send(`${server.baseUrl}/1.0/cloud/project`, {}),
          await call(server, {
            path: '/cloud/project',
            credentials: { ...server.credentials, applicationKey: 'NoSuchAppKey0000' },
          }),
          await call(server, { path: '/no/such/route', credentials: server.credentials }),
          await send(`${server.baseUrl}/no/such/route`, {}),
          await call(server, {
            method: 'POST',
            path: `/cloud/project/${server.projectId}/kube`,
            body: '{}',
            credentials: server.credentials,
          }),
          await call(server, {
            method: 'POST',
            path: `/cloud/project/${server.projectId}/kube`,
            body: '{"region":',
            credentials: server.credentials,
          }),
          await send(`${server.baseUrl}/1.0/auth/time`, {}),
        ];
        assert.deepEqual(
          replies.map((reply) => reply.status),
          [200, 401, 403, 404, 404, 400, 400, 200],
        );
        assert.deepEqual(replies[3]!.body, {
          class: 'Client::NotFound',
          message: 'Got an invalid (or empty) URL',
        });
        assert.equal((replies[5]!.body as { class: string }).class, 'Client::BadRequest');
        assert.match((replies[5]!.body as { message: string }).message, /region/);
        assert.match((replies[6]!.body as { message: string }).message, /Malformed JSON body/);
        for (const reply of replies) assert.match(reply.queryId ?? '', /^EU\.ext-mks\./);
        assert.equal(new Set(replies.map((reply) => reply.queryId)).size, replies.length);
      });
    });

    describe('access rules', () => {
      test('a read-only credential can read but is not granted POST, PUT or DELETE', async () => {
        const readOnly = await credentialFor(accountId, [{ method: 'GET', path: '/*' }]);
        const clusterId = (
          (await server.client.call('POST', `/cloud/project/${server.projectId}/kube`, {
            region: 'GRA11',
            name: 'read-only-target',
          })) as { id: string }
        ).id;
        const reader = new ApiClient(readOnly);
        assert.deepEqual(await reader.call('GET', '/cloud/project'), [server.projectId]);
        const cluster = (await reader.call(
          'GET',
          `/cloud/project/${server.projectId}/kube/${clusterId}`,
        )) as {
          name: string;
        };
        assert.equal(cluster.name, 'read-only-target');

        const base = `/cloud/project/${server.projectId}/kube`;
        for (const [method, path, body] of [
          ['POST', base, { region: 'GRA11' }],
          ['PUT', `${base}/${clusterId}`, { name: 'renamed' }],
          ['DELETE', `${base}/${clusterId}`, undefined],
        ] as const) {
          const reply = await reader.raw(method, path, body);
          assertAuthError(
            { status: reply.status, body: reply.body, queryId: reply.queryId },
            403,
            'NOT_GRANTED_CALL',
            '403 Forbidden',
          );
          assert.equal((reply.body as { message: string }).message, 'This call has not been granted');
        }
        const after = (await server.client.call('GET', `${base}/${clusterId}`)) as { name: string };
        assert.equal(after.name, 'read-only-target', 'the refused PUT changed nothing');
      });

      test('a rule on a path does not grant the paths below it', async () => {
        const listOnly = new ApiClient(
          await credentialFor(accountId, [{ method: 'GET', path: '/cloud/project' }]),
        );
        assert.deepEqual(await listOnly.call('GET', '/cloud/project'), [server.projectId]);
        const reply = await listOnly.raw('GET', `/cloud/project/${server.projectId}`);
        assert.equal(reply.status, 403);
        assert.equal((reply.body as { errorCode: string }).errorCode, 'NOT_GRANTED_CALL');
      });

      test('a star in the middle of a rule matches any project', async () => {
        const regionsOnly = new ApiClient(
          await credentialFor(accountId, [
            { method: 'GET', path: '/cloud/project/*/capabilities/kube/regions' },
          ]),
        );
        const regions = await regionsOnly.call(
          'GET',
          `/cloud/project/${server.projectId}/capabilities/kube/regions`,
        );
        assert.deepEqual(regions, server.config.regions);
        for (const path of ['/cloud/project', `/cloud/project/${server.projectId}/kube`]) {
          const reply = await regionsOnly.raw('GET', path);
          assert.equal((reply.body as { errorCode: string }).errorCode, 'NOT_GRANTED_CALL', path);
        }
      });
    });

    describe('tenancy', () => {
      let accountB: string;
      let projectB: string;
      let clientB: ApiClient;
      let clusterA: string;

      before(async () => {
        accountB = await server.services.authStore.createAccount({ email: 'b@example.com' });
        projectB = (await server.services.projects.create({ accountId: accountB, name: 'b' })).id;
        clientB = new ApiClient(
          await credentialFor(accountB, [
            { method: 'GET', path: '/*' },
            { method: 'POST', path: '/*' },
            { method: 'PUT', path: '/*' },
            { method: 'DELETE', path: '/*' },
          ]),
        );
        clusterA = (
          (await server.client.call('POST', `/cloud/project/${server.projectId}/kube`, {
            region: 'GRA11',
            name: 'owned-by-a',
          })) as { id: string }
        ).id;
      });

      test('each account lists only its own projects', async () => {
        assert.deepEqual(await clientB.call('GET', '/cloud/project'), [projectB]);
        assert.deepEqual(await server.client.call('GET', '/cloud/project'), [server.projectId]);
        const details = (await clientB.call('GET', '/auth/details')) as { account: string };
        assert.equal(details.account, accountB);
      });

      test("another account's project answers exactly as a project that does not exist", async () => {
        const a = server.projectId;
        const missing = '0123456789abcdef0123456789abcdef';
        for (const project of [a, missing]) {
          for (const [method, path, body] of [
            ['GET', `/cloud/project/${project}`, undefined],
            ['GET', `/cloud/project/${project}/kube`, undefined],
            ['GET', `/cloud/project/${project}/kube/${clusterA}`, undefined],
            ['POST', `/cloud/project/${project}/kube`, { region: 'GRA11', name: 'intruder' }],
            ['POST', `/cloud/project/${project}/kube`, { nonsense: true }],
            ['PUT', `/cloud/project/${project}/kube/${clusterA}`, { name: 'stolen' }],
            ['DELETE', `/cloud/project/${project}/kube/${clusterA}`, undefined],
            ['GET', `/cloud/project/${project}/capabilities/kube/regions`, undefined],
          ] as const) {
            const reply = await clientB.raw(method, path, body);
            assert.equal(reply.status, 404, `${method} ${path}: ${JSON.stringify(reply.body)}`);
            assert.deepEqual(reply.body, NOT_FOUND, `${method} ${path}`);
            assert.ok(reply.queryId);
          }
        }
        const clusters = (await server.client.call('GET', `/cloud/project/${a}/kube`)) as string[];
        assert.ok(clusters.includes(clusterA), "A's cluster survived B's DELETE");
        const cluster = (await server.client.call('GET', `/cloud/project/${a}/kube/${clusterA}`)) as {
          name: string;
        };
        assert.equal(cluster.name, 'owned-by-a');
        const names = await Promise.all(
          clusters.map(
            async (id) =>
              ((await server.client.call('GET', `/cloud/project/${a}/kube/${id}`)) as { name: string }).name,
          ),
        );
        assert.equal(names.includes('intruder'), false);
      });

      test("another account's clusters are invisible from one's own project", async () => {
        assert.deepEqual(await clientB.call('GET', `/cloud/project/${projectB}/kube`), []);
        const reply = await clientB.raw('GET', `/cloud/project/${projectB}/kube/${clusterA}`);
        assert.equal(reply.status, 404);
        const created = (await clientB.call('POST', `/cloud/project/${projectB}/kube`, {
          region: 'GRA11',
          name: 'owned-by-b',
        })) as { id: string };
        assert.deepEqual(await clientB.call('GET', `/cloud/project/${projectB}/kube`), [created.id]);
        const listA = (await server.client.call(
          'GET',
          `/cloud/project/${server.projectId}/kube`,
        )) as string[];
        assert.equal(listA.includes(created.id), false);
        const fromA = await server.client.raw('GET', `/cloud/project/${server.projectId}/kube/${created.id}`);
        assert.equal(fromA.status, 404);
      });
    });

    describe('/auth endpoints', () => {
      test('/auth/time answers unsigned with a bare integer close to now', async () => {
        const before = Math.floor(Date.now() / 1000);
        const response = await fetch(`${server.baseUrl}/1.0/auth/time`);
        const after = Math.floor(Date.now() / 1000);
        const text = await response.text();
        assert.equal(response.status, 200);
        assert.match(text, /^\d+$/);
        assert.ok(Number(text) >= before && Number(text) <= after, text);
        assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      });

      test('/auth/details names the account and the allowed routes', async () => {
        const rules: AccessRule[] = [
          { method: 'GET', path: '/auth/*' },
          { method: 'GET', path: '/cloud/project' },
        ];
        const details = await new ApiClient(await credentialFor(accountId, rules)).call(
          'GET',
          '/auth/details',
        );
        assert.deepEqual(details, {
          account: accountId,
          allowedRoutes: rules,
          description: null,
          identities: [`urn:v1:eu:identity:account:${accountId}`],
          method: 'account',
          roles: null,
          user: null,
        });
      });

      test('/auth/currentCredential describes the credential used', async () => {
        const rules: AccessRule[] = [{ method: 'GET', path: '/auth/currentCredential' }];
        const credentials = await credentialFor(accountId, rules);
        const current = (await new ApiClient(credentials).call('GET', '/auth/currentCredential')) as Record<
          string,
          unknown
        >;
        const row = await server.services.database.db
          .selectFrom('credentials')
          .innerJoin('applications', 'applications.id', 'credentials.application_id')
          .select(['credentials.id', 'credentials.application_id'])
          .where('applications.app_key', '=', credentials.applicationKey)
          .executeTakeFirstOrThrow();
        assert.deepEqual(
          { ...current, creation: typeof current.creation },
          {
            credentialId: row.id,
            applicationId: row.application_id,
            creation: 'string',
            expiration: null,
            lastUse: null,
            status: 'validated',
            rules,
            allowedIPs: null,
            ovhSupport: false,
          },
        );
        assert.ok(Number.isFinite(Date.parse(current.creation as string)));
      });

      test('/auth/details is refused without a signature', async () => {
        assertAuthError(
          await send(`${server.baseUrl}/1.0/auth/details`, {
            headers: { 'X-Ovh-Application': server.credentials.applicationKey },
          }),
          401,
          'NOT_AUTHENTICATED',
          '401 Unauthorized',
        );
      });
    });

    describe('secrets at rest', () => {
      test('neither application secrets nor consumer keys are stored in clear', async () => {
        const extra = await credentialFor(accountId, [{ method: 'GET', path: '/*' }]);
        const secrets = [
          server.credentials.applicationSecret,
          server.credentials.consumerKey,
          extra.applicationSecret,
          extra.consumerKey,
        ];
        // Both credentials work, so what is stored is enough to check them.
        await new ApiClient(extra).call('GET', '/cloud/project');

        const db = server.services.database.db;
        const applications = await db.selectFrom('applications').selectAll().execute();
        const credentials = await db.selectFrom('credentials').selectAll().execute();
        const accounts = await db.selectFrom('accounts').selectAll().execute();
        const projects = await db.selectFrom('projects').selectAll().execute();
        assert.ok(applications.some((row) => row.app_key === extra.applicationKey));
        const dump = JSON.stringify({ applications, credentials, accounts, projects });
        for (const secret of secrets) assert.equal(dump.includes(secret), false);
        for (const row of applications) assert.match(row.secret_enc, /^v1:/);
        for (const row of credentials) assert.match(row.ck_hash, /^[0-9a-f]{64}$/);

        if (server.database.config.kind === 'sqlite') {
          const file = server.database.config.file;
          const files = [file, `${file}-wal`, `${file}-journal`].filter((name) => fs.existsSync(name));
          assert.ok(files.length > 0);
          const bytes = Buffer.concat(files.map((name) => fs.readFileSync(name)));
          assert.ok(
            bytes.includes(Buffer.from(extra.applicationKey)),
            'the application key itself is stored',
          );
          for (const secret of secrets) assert.equal(bytes.includes(Buffer.from(secret)), false);
        }
      });
    });
  });
}
