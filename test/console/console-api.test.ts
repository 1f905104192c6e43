/**
 * The console's server side and OVH's credential calls through real HTTP, on each engine:
 * passwords and sign-in (rate-limited, never saying which half was wrong), the validation page's
 * calls at the validationUrl mks returns, credential states, allowed IPs, `/me/api/*`,
 * `/auth/logout`, createToken, CSRF and oversize refusals, the page shell's headers, and
 * `mks credential list|revoke`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { hashPassword } from '../../src/auth/passwords.ts';
import { sha256 } from '../../src/auth/tokens.ts';
import { ApiClient } from '../../src/client/api-client.ts';
import { MksClient } from '../../src/client/mks-client.ts';
import { cliSandbox } from '../support/cli.ts';
import { DIALECTS } from '../support/dialects.ts';
import { MKS } from '../support/mks-process.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes; the assertions check them
  body: any;
  headers: Headers;
}

async function post(server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers } as Reply;
}

function loginOf(server: TestServer): { login: string; password: string } {
  const file = server.runtime.first.consoleLoginFile!;
  const text = fs.readFileSync(file, 'utf8');
  return {
    login: /^login=(.*)$/m.exec(text)![1]!,
    password: /^password=(.*)$/m.exec(text)![1]!,
  };
}

/** Asks for a consumer key as an application does; returns it with its validation token. */
async function requestKey(server: TestServer, applicationKey: string, extra: Record<string, unknown> = {}) {
  const reply = await post(
    server,
    '/1.0/auth/credential',
    { accessRules: [{ method: 'GET', path: '/cloud/project' }], ...extra },
    { 'X-Ovh-Application': applicationKey },
  );
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  const url = new URL(reply.body.validationUrl);
  return {
    consumerKey: reply.body.consumerKey as string,
    token: url.searchParams.get('credentialToken')!,
    url,
  };
}

for (const dialect of DIALECTS) {
  describe(`console server side and /me/api (${dialect})`, () => {
    let server: TestServer;
    let me: { login: string; password: string };
    let owner: MksClient;

    before(async () => {
      server = await startTestServer(dialect);
      me = loginOf(server);
      owner = new MksClient(server.credentials);
    });
    after(() => server?.close());

    const credentialRow = (consumerKey: string) =>
      server.services.database.db
        .selectFrom('credentials')
        .selectAll()
        .where('ck_hash', '=', sha256(consumerKey))
        .executeTakeFirst();

    const withKey = (consumerKey: string, applicationKey: string, applicationSecret: string) =>
      new ApiClient({
        endpoint: server.credentials.endpoint,
        applicationKey,
        applicationSecret,
        consumerKey,
      });

    test('the first start writes the console login beside ovh.conf, mode 0600, and the password is stored hashed', async () => {
      const file = server.runtime.first.consoleLoginFile!;
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const project = await server.services.projects.get(server.projectId);
      assert.equal(me.login, project!.accountId, 'the login is the id of the account that owns the project');
      const row = await server.services.database.db
        .selectFrom('accounts')
        .select('password_hash')
        .where('id', '=', me.login)
        .executeTakeFirstOrThrow();
      assert.match(row.password_hash!, /^scrypt\$32768\$8\$1\$/);
      assert.ok(!row.password_hash!.includes(me.password));
    });

    test('sign-in answers the same refusal for a wrong password and an unknown login, and the console application otherwise', async () => {
      const wrong = await post(server, '/console/api/sign-in', {
        login: me.login,
        password: 'not-the-password',
      });
      const unknown = await post(server, '/console/api/sign-in', {
        login: 'nobody-mks',
        password: me.password,
      });
      for (const reply of [wrong, unknown]) {
        assert.equal(reply.status, 403);
        assert.deepEqual(reply.body, { class: 'Client::Forbidden', message: 'Invalid login or password' });
      }
      const first = await post(server, '/console/api/sign-in', me);
      const second = await post(server, '/console/api/sign-in', me);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.accountId, me.login);
      assert.equal(first.body.endpoint, server.credentials.endpoint);
      assert.match(first.body.applicationKey, /^[A-Za-z0-9]{16}$/);
      assert.equal(
        second.body.applicationKey,
        first.body.applicationKey,
        'one console application per account',
      );
    });

    test('failed sign-ins are rate-limited per login: past five, even the right password is refused', async () => {
      const accountId = await server.services.authStore.createAccount({ id: 'rl12345-mks' });
      await server.services.authStore.setPasswordHash(accountId, await hashPassword('right password 123'));
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const reply = await post(server, '/console/api/sign-in', {
          login: accountId,
          password: `wrong ${attempt}`,
        });
        assert.equal(reply.body.message, 'Invalid login or password');
      }
      const blocked = await post(server, '/console/api/sign-in', {
        login: accountId,
        password: 'right password 123',
      });
      assert.equal(blocked.status, 403);
      assert.match(
        blocked.body.message,
        /^Too many failed sign-ins for this login or from this address; try again in \d+ min$/,
      );
      // Another login is not affected.
      assert.equal((await post(server, '/console/api/sign-in', me)).status, 200);
    });

    test('a key requested by an application is validated at its validationUrl and then works, with the chosen validity and IPs', async () => {
      const { applicationKey, applicationSecret } = server.credentials;
      const requested = await requestKey(server, applicationKey, { redirection: 'https://example.com/done' });
      assert.equal(`${requested.url.origin}${requested.url.pathname}`, `${server.baseUrl}/auth/`);

      const page = await fetch(requested.url);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

      const lookup = await post(server, '/console/api/validation/lookup', {
        credentialToken: requested.token,
      });
      assert.equal(lookup.status, 200);
      assert.deepEqual(lookup.body, {
        state: 'pendingValidation',
        application: { name: 'mks-default', description: 'Created by mks on first start' },
        rules: [{ method: 'GET', path: '/cloud/project' }],
        redirection: 'https://example.com/done',
      });

      const decision = {
        credentialToken: requested.token,
        ...me,
        decision: 'authorize',
        validity: 3600,
        allowedIPs: ['127.0.0.1', '::1'],
      };
      const wrongPassword = await post(server, '/console/api/validation', { ...decision, password: 'wrong' });
      assert.equal(wrongPassword.status, 403);
      assert.equal((await credentialRow(requested.consumerKey))!.status, 'pendingValidation');

      const before = Date.now();
      const validated = await post(server, '/console/api/validation', decision);
      assert.equal(validated.status, 200, JSON.stringify(validated.body));
      assert.deepEqual(validated.body, { state: 'validated', redirection: 'https://example.com/done' });

      const client = withKey(requested.consumerKey, applicationKey, applicationSecret);
      assert.deepEqual(await client.call('GET', '/cloud/project'), [server.projectId]);
      const row = (await credentialRow(requested.consumerKey))!;
      const ids = await owner.listCredentialIds({ status: 'validated' });
      assert.ok(ids.includes(row.id));
      const shown = await owner.getCredential(row.id);
      assert.equal(shown.status, 'validated');
      assert.equal(shown.origin, 'delegation');
      assert.deepEqual(shown.allowedIPs, ['127.0.0.1', '::1']);
      const expires = Date.parse(shown.expiration!);
      assert.ok(
        expires >= before + 3600_000 - 5000 && expires <= Date.now() + 3600_000 + 5000,
        shown.expiration!,
      );
      assert.ok(shown.lastUse !== null, 'the call just made is the last use');

      const reused = await post(server, '/console/api/validation', decision);
      assert.equal(reused.status, 404);
      assert.match(reused.body.message, /unknown or has already been used/);
    });

    test('a refused request stays unusable, and a request left over an hour has expired', async () => {
      const { applicationKey, applicationSecret } = server.credentials;
      const refused = await requestKey(server, applicationKey);
      const reply = await post(server, '/console/api/validation', {
        credentialToken: refused.token,
        ...me,
        decision: 'refuse',
      });
      assert.deepEqual(reply.body, { state: 'refused', redirection: null });
      const rejected = await withKey(refused.consumerKey, applicationKey, applicationSecret).raw(
        'GET',
        '/cloud/project',
      );
      assert.equal(rejected.status, 403);
      assert.deepEqual(rejected.body, {
        errorCode: 'INVALID_CREDENTIAL',
        httpCode: '403 Forbidden',
        message: 'This credential is not valid',
      });

      const stale = await requestKey(server, applicationKey);
      await server.services.database.db
        .updateTable('credentials')
        .set({ created_at: new Date(Date.now() - 2 * 3600_000).toISOString() })
        .where('ck_hash', '=', sha256(stale.consumerKey))
        .execute();
      const lookup = await post(server, '/console/api/validation/lookup', { credentialToken: stale.token });
      assert.equal(lookup.body.state, 'expired');
      const late = await post(server, '/console/api/validation', {
        credentialToken: stale.token,
        ...me,
        decision: 'authorize',
      });
      assert.equal(late.status, 409);
      assert.match(late.body.message, /has expired/);
      assert.equal((await credentialRow(stale.consumerKey))!.status, 'pendingValidation');
    });

    test('a validated key past its validity answers 403 in OVH body and is listed as expired', async () => {
      const { applicationKey, applicationSecret } = server.credentials;
      const requested = await requestKey(server, applicationKey);
      await post(server, '/console/api/validation', {
        credentialToken: requested.token,
        ...me,
        decision: 'authorize',
      });
      const row = (await credentialRow(requested.consumerKey))!;
      // Default validity: 24 h.
      const hours = (Date.parse(row.expires_at!) - Date.parse(row.created_at)) / 3600_000;
      assert.ok(hours > 23.9 && hours < 24.1, String(hours));
      await server.services.database.db
        .updateTable('credentials')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', row.id)
        .execute();
      const refused = await withKey(requested.consumerKey, applicationKey, applicationSecret).raw(
        'GET',
        '/cloud/project',
      );
      assert.equal(refused.status, 403);
      assert.equal((refused.body as { errorCode: string }).errorCode, 'INVALID_CREDENTIAL');
      assert.equal((await owner.getCredential(row.id)).status, 'expired');
      assert.ok((await owner.listCredentialIds({ status: 'expired' })).includes(row.id));
    });

    test('a key limited to other addresses is refused from this one', async () => {
      const { applicationKey, applicationSecret } = server.credentials;
      const requested = await requestKey(server, applicationKey);
      const reply = await post(server, '/console/api/validation', {
        credentialToken: requested.token,
        ...me,
        decision: 'authorize',
        allowedIPs: ['192.0.2.0/24'],
      });
      assert.equal(reply.status, 200);
      const refused = await withKey(requested.consumerKey, applicationKey, applicationSecret).raw(
        'GET',
        '/cloud/project',
      );
      assert.equal(refused.status, 403);
      assert.equal(
        (refused.body as { message: string }).message,
        'This credential is not valid from this IP address',
      );
      const row = (await credentialRow(requested.consumerKey))!;
      await owner.setCredentialAllowedIps(row.id, ['127.0.0.0/8', '::1/128', '::ffff:127.0.0.1']);
      assert.deepEqual(
        await withKey(requested.consumerKey, applicationKey, applicationSecret).call('GET', '/cloud/project'),
        [server.projectId],
      );
      const bad = await owner.api.raw('PUT', `/me/api/credential/${row.id}`, {
        allowedIPs: ['300.1.1.1', '10.0.0.0/33'],
      });
      assert.equal(bad.status, 400);
      assert.match(
        (bad.body as { message: string }).message,
        /allowedIPs\[0\]: '300\.1\.1\.1' is not an IP address.*allowedIPs\[1\]: '10\.0\.0\.0\/33': the prefix length must be 0 to 32/,
      );
    });

    test('bad input on the validation and credential request forms gets a clear message and changes nothing', async () => {
      const { applicationKey } = server.credentials;
      const badRedirect = await post(
        server,
        '/1.0/auth/credential',
        { accessRules: [{ method: 'GET', path: '/*' }], redirection: 'javascript:alert(1)' },
        { 'X-Ovh-Application': applicationKey },
      );
      assert.equal(badRedirect.status, 400);
      assert.equal(badRedirect.body.message, 'redirection: only http and https URLs are accepted');
      const unknownMethod = await post(
        server,
        '/1.0/auth/credential',
        { accessRules: [{ method: 'PATCH', path: '/*' }] },
        { 'X-Ovh-Application': applicationKey },
      );
      assert.equal(unknownMethod.status, 400);
      assert.match(
        unknownMethod.body.message,
        /accessRules\[0\]\.method: "PATCH" is not allowed; expected one of GET, POST, PUT, DELETE/,
      );

      const requested = await requestKey(server, applicationKey);
      const decision = { credentialToken: requested.token, ...me, decision: 'authorize' };
      const attempts = [
        // CSRF: another site's page, a form post, a no-cors fetch.
        post(server, '/console/api/validation', decision, { Origin: 'https://evil.example' }),
        post(server, '/console/api/validation', decision, { 'Sec-Fetch-Site': 'cross-site' }),
        post(server, '/console/api/validation', new URLSearchParams(decision).toString(), {
          'Content-Type': 'application/x-www-form-urlencoded',
        }),
        post(server, '/console/api/sign-in', me, { Origin: 'https://evil.example' }),
      ];
      for (const reply of await Promise.all(attempts)) {
        assert.equal(reply.status, 403);
        assert.match(reply.body.message, /^Cross-site request refused/);
      }
      const oversize = await post(server, '/console/api/validation', {
        ...decision,
        credentialToken: 'x'.repeat(5000),
      });
      assert.equal(oversize.status, 400);
      assert.match(oversize.body.message, /credentialToken: .* must NOT have more than 200 characters/);
      const badValidity = await post(server, '/console/api/validation', { ...decision, validity: 12 });
      assert.equal(badValidity.status, 400);
      assert.match(
        badValidity.body.message,
        /validity: 12 is not allowed; expected one of 3600, 28800, 86400/,
      );
      const badIps = await post(server, '/console/api/validation', {
        ...decision,
        allowedIPs: ['not an ip'],
      });
      assert.equal(badIps.status, 400);
      assert.match(badIps.body.message, /allowedIPs\[0\]: 'not an ip' is not an IP address/);
      const longPassword = await post(server, '/console/api/validation', {
        ...decision,
        password: 'p'.repeat(100_000),
      });
      assert.ok(longPassword.status === 403 || longPassword.status === 413, String(longPassword.status));
      assert.ok(!JSON.stringify(longPassword.body).includes('ppppp'), 'the password is never echoed');
      assert.equal((await credentialRow(requested.consumerKey))!.status, 'pendingValidation');
    });

    test("/me/api lists, shows and revokes the account's keys and applications, and the next call fails at once", async () => {
      const token = await post(server, '/console/api/token', {
        ...me,
        name: 'terraform',
        description: 'CI',
        validity: null,
        rules: [
          { method: 'GET', path: '/*' },
          { method: 'POST', path: '/cloud/project/*/kube' },
        ],
      });
      assert.equal(token.status, 200, JSON.stringify(token.body));
      assert.equal(token.body.endpoint, server.credentials.endpoint);
      assert.equal(token.body.expiration, null);
      const created = withKey(
        token.body.consumerKey,
        token.body.applicationKey,
        token.body.applicationSecret,
      );
      assert.deepEqual(await created.call('GET', '/cloud/project'), [server.projectId]);
      assert.equal((await created.raw('DELETE', `/cloud/project/${server.projectId}/kube/x`)).status, 403);

      const row = (await credentialRow(token.body.consumerKey))!;
      const credential = await owner.getCredential(row.id);
      assert.deepEqual(
        { ...credential, creation: typeof credential.creation, lastUse: typeof credential.lastUse },
        {
          credentialId: row.id,
          applicationId: row.application_id,
          ovhSupport: false,
          rules: [
            { method: 'GET', path: '/*' },
            { method: 'POST', path: '/cloud/project/*/kube' },
          ],
          status: 'validated',
          creation: 'string',
          expiration: null,
          lastUse: 'string',
          allowedIPs: null,
          origin: 'createToken',
        },
      );
      assert.deepEqual(await owner.listCredentialIds({ applicationId: row.application_id }), [row.id]);
      assert.ok((await owner.listApplicationIds()).includes(row.application_id));
      assert.deepEqual(await owner.getApplication(row.application_id), {
        applicationId: row.application_id,
        applicationKey: token.body.applicationKey,
        name: 'terraform',
        description: 'CI',
        status: 'active',
      });
      assert.deepEqual(await owner.api.call('GET', `/me/api/credential/${row.id}/application`), {
        applicationId: row.application_id,
        applicationKey: token.body.applicationKey,
        name: 'terraform',
        description: 'CI',
        status: 'active',
      });

      // The key has just been used, so it sits in the signature check's cache: revocation evicts it.
      await owner.revokeCredential(row.id);
      const refused = await created.raw('GET', '/cloud/project');
      assert.equal(refused.status, 403);
      assert.deepEqual(refused.body, {
        errorCode: 'NOT_CREDENTIAL',
        httpCode: '403 Forbidden',
        message: 'This credential does not exist',
      });
      const gone = await owner.api.raw('GET', `/me/api/credential/${row.id}`);
      assert.deepEqual(
        { status: gone.status, body: gone.body },
        {
          status: 404,
          body: { class: 'Client::NotFound', message: 'This credential does not exist' },
        },
      );
      await owner.deleteApplication(row.application_id);
      assert.ok(!(await owner.listApplicationIds()).includes(row.application_id));
    });

    test('/me/api ids that name nothing answer 404 (or nothing), and malformed ones 400, never a 5xx', async () => {
      for (const id of ['2147483648', '99999999999999999999', '0']) {
        for (const [method, path] of [
          ['GET', `/me/api/credential/${id}`],
          ['PUT', `/me/api/credential/${id}`],
          ['DELETE', `/me/api/credential/${id}`],
          ['GET', `/me/api/credential/${id}/application`],
          ['GET', `/me/api/application/${id}`],
          ['DELETE', `/me/api/application/${id}`],
        ] as const) {
          const reply = await owner.api.raw(
            method,
            path,
            method === 'PUT' ? { allowedIPs: null } : undefined,
          );
          assert.equal(reply.status, 404, `${method} ${path}: ${JSON.stringify(reply.body)}`);
        }
        assert.deepEqual(await owner.api.call('GET', `/me/api/credential?applicationId=${id}`), []);
      }
      const malformed = await owner.api.raw('GET', '/me/api/credential/abc');
      assert.equal(malformed.status, 400);
      const badStatus = await owner.api.raw('GET', '/me/api/credential?status=revoked');
      assert.equal(badStatus.status, 400);
      assert.match(
        (badStatus.body as { message: string }).message,
        /status.*expected one of pendingValidation, validated, refused, expired/,
      );
    });

    test("another account sees none of this account's keys", async () => {
      const other = await server.services.authStore.createAccount({ id: 'ot12345-mks' });
      const application = await server.services.authStore.createApplication({
        accountId: other,
        name: 'o',
        description: '',
      });
      const { consumerKey } = await server.services.authStore.createCredential({
        applicationId: application.id,
        accountId: other,
        rules: [
          { method: 'GET', path: '/*' },
          { method: 'DELETE', path: '/*' },
        ],
        status: 'validated',
      });
      const outsider = new MksClient(withKey(consumerKey, application.appKey, application.secret));
      const [mine] = await owner.listCredentialIds();
      assert.equal((await outsider.listCredentialIds()).length, 1);
      for (const [method, path] of [
        ['GET', `/me/api/credential/${mine}`],
        ['DELETE', `/me/api/credential/${mine}`],
        ['GET', `/me/api/application/${(await owner.getCredential(mine!)).applicationId}`],
      ] as const) {
        assert.equal((await outsider.api.raw(method, path)).status, 404, `${method} ${path}`);
      }
      assert.equal((await owner.getCredential(mine!)).credentialId, mine);
    });

    test('createToken refuses bad rights, oversize fields and a wrong password, and creates nothing then', async () => {
      const count = async () =>
        (await server.services.database.db.selectFrom('applications').select('id').execute()).length;
      const before = await count();
      const base = { ...me, name: 'x', rules: [{ method: 'GET', path: '/*' }] };
      const cases: [unknown, number, RegExp][] = [
        [
          { ...base, rules: [{ method: 'PATCH', path: '/*' }] },
          400,
          /rules\[0\]\.method: "PATCH" is not allowed/,
        ],
        [
          { ...base, rules: [{ method: 'GET', path: 'cloud' }] },
          400,
          /rules\[0\]\.path: "cloud" must match pattern/,
        ],
        [{ ...base, rules: [] }, 400, /rules: .*must NOT have fewer than 1 items/],
        [{ ...base, name: 'n'.repeat(101) }, 400, /name: .* must NOT have more than 100 characters/],
        [{ ...base, password: 'wrong' }, 403, /^Invalid login or password$/],
      ];
      for (const [body, status, message] of cases) {
        const reply = await post(server, '/console/api/token', body);
        assert.equal(reply.status, status, JSON.stringify(reply.body));
        assert.match(reply.body.message, message);
      }
      assert.equal(await count(), before);
    });

    test('POST /auth/logout expires the calling key, which is then refused and listed as expired', async () => {
      const signIn = await post(server, '/console/api/sign-in', me);
      const requested = await requestKey(server, signIn.body.applicationKey);
      await post(server, '/console/api/validation', {
        credentialToken: requested.token,
        ...me,
        decision: 'authorize',
        validity: 8 * 3600,
      });
      const session = new MksClient(
        withKey(requested.consumerKey, signIn.body.applicationKey, signIn.body.applicationSecret),
      );
      assert.deepEqual(await session.listProjects(), [server.projectId]);
      const row = (await credentialRow(requested.consumerKey))!;
      assert.equal((await owner.getCredential(row.id)).origin, 'console');
      await session.logout();
      const after = await session.api.raw('GET', '/cloud/project');
      assert.equal(after.status, 403);
      assert.equal((await owner.getCredential(row.id)).status, 'expired');
    });

    test("the rollout extension reports kube-proxy's nodes on the new configuration", async () => {
      const created = await owner.createCluster(server.projectId, { region: 'GRA5', name: 'rollout' });
      const done = await waitFor(
        async () => {
          const rollout = await owner.rollout(server.projectId, created.id);
          return rollout.status === 'READY' && rollout.phase !== null ? rollout : undefined;
        },
        { what: 'the new cluster to be READY with kube-proxy rolled out', timeoutMs: 30_000 },
      );
      assert.equal(done.observedGeneration, done.generation);
      assert.ok(done.desired > 0);
      assert.equal(done.updated, done.desired);
      // What the console shows as "N/M nodes on the new configuration".
      assert.equal(
        done.nodes.filter((node) => node.generation === done.generation && node.ready).length,
        done.desired,
      );
      const missing = await owner.api.raw('GET', `/cloud/project/${server.projectId}/kube/nope/rollout`);
      assert.equal(missing.status, 404);
    });

    test('the console pages and assets are served on the API origin with a strict policy', async () => {
      for (const path of [
        '/',
        '/createToken/?GET=/*&POST=/*',
        '/createToken/?GET=*',
        '/console/credentials',
      ]) {
        const response = await fetch(`${server.baseUrl}${path}`);
        assert.equal(response.status, 200, path);
        assert.match(response.headers.get('content-type')!, /^text\/html/);
        assert.equal(
          response.headers.get('content-security-policy'),
          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        );
        assert.doesNotMatch(await response.text(), /<script>|\son\w+=/, 'no inline script');
      }
      const script = await fetch(`${server.baseUrl}/console/assets/app.js`);
      assert.equal(script.status, 200);
      assert.match(script.headers.get('content-type')!, /^text\/javascript/);
      assert.ok((await script.text()).length > 1000);
      assert.equal((await fetch(`${server.baseUrl}/console/assets/nothing.js`)).status, 404);
    });

    test('mks admin account create|password set console passwords, from stdin or generated and shown once', async () => {
      const admin = (args: string[], stdin?: string) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              MKS,
              'admin',
              'account',
              ...args,
              '--data-dir',
              server.config.dataDir,
              '--database-url',
              server.database.url,
            ],
            { env: { PATH: process.env.PATH, HOME: os.tmpdir() }, stdio: ['pipe', 'pipe', 'pipe'] },
          );
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk) => {
            stdout += chunk;
          });
          child.stderr.on('data', (chunk) => {
            stderr += chunk;
          });
          child.on('error', reject);
          child.on('close', (code) => resolve({ code, stdout, stderr }));
          child.stdin.end(stdin ?? '');
        });
      const signIn = (login: string, password: string) =>
        post(server, '/console/api/sign-in', { login, password });

      const created = await admin(
        ['create', '--id', 'cli12345-mks', '--password-stdin'],
        'a long enough password\n',
      );
      assert.equal(created.code, 0, created.stderr);
      assert.equal(created.stdout, 'cli12345-mks\n');
      assert.equal(created.stderr, '', 'a password read from stdin is not shown');
      assert.equal((await signIn('cli12345-mks', 'a long enough password')).status, 200);

      const short = await admin(['password', '--account', 'cli12345-mks', '--password-stdin'], 'short\n');
      assert.equal(short.code, 1);
      assert.match(short.stderr, /--password-stdin: a password needs at least 12 characters/);
      assert.equal((await signIn('cli12345-mks', 'a long enough password')).status, 200, 'unchanged');

      const generated = await admin(['password', '--account', 'cli12345-mks']);
      assert.equal(generated.code, 0, generated.stderr);
      const shown = /^Console login: cli12345-mks, password: (\S+) \(shown once\)\n$/.exec(generated.stderr);
      assert.ok(shown, generated.stderr);
      assert.equal((await signIn('cli12345-mks', shown[1]!)).status, 200);
      assert.equal((await signIn('cli12345-mks', 'a long enough password')).status, 403);

      const unknown = await admin(['password', '--account', 'nobody-mks']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /--account: no account 'nobody-mks'/);
    });

    test('mks credential list shows the keys and revoke makes the next call fail', async () => {
      const sandbox = cliSandbox(server.credentials);
      try {
        const token = await post(server, '/console/api/token', {
          ...me,
          name: 'cli-test',
          rules: [{ method: 'GET', path: '/*' }],
        });
        const row = (await credentialRow(token.body.consumerKey))!;
        const listed = await sandbox.run(['credential', 'list', '-o', 'json']);
        assert.equal(listed.code, 0, listed.stderr);
        const entry = (
          JSON.parse(listed.stdout) as { credentialId: number; application: { name: string } }[]
        ).find((credential) => credential.credentialId === row.id);
        assert.equal(entry?.application.name, 'cli-test');
        const table = await sandbox.run(['credential', 'list', '--status', 'validated', '-o', 'table']);
        assert.match(
          table.stdout,
          /^ID\s+APPLICATION\s+STATUS\s+RULES\s+EXPIRES\s+LAST USE\s+ALLOWED IPS\s+ORIGIN/,
        );
        assert.match(table.stdout, new RegExp(`\\n${row.id}\\s+cli-test\\s+validated\\s+GET /\\*`));
        const revoked = await sandbox.run(['credential', 'revoke', String(row.id)]);
        assert.equal(revoked.code, 0, revoked.stderr);
        assert.equal(revoked.stdout, `credential ${row.id} revoked\n`);
        const client = withKey(
          token.body.consumerKey,
          token.body.applicationKey,
          token.body.applicationSecret,
        );
        assert.equal((await client.raw('GET', '/cloud/project')).status, 403);
        const again = await sandbox.run(['credential', 'revoke', String(row.id)]);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /^error: 404: This credential does not exist/);
        const usage = await sandbox.run(['credential', 'revoke', 'abc']);
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /not a credential id \(a number\): abc/);
      } finally {
        sandbox.dispose();
      }
    });
  });
}
