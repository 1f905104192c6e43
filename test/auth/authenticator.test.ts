/**
 * The OVH signature check against a real store on each engine: signatures, timestamps, consumer
 * keys and their applications, expiry, access rules.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AuthStore } from '../../src/auth/auth.store.ts';
import { Authenticator, type SignedRequest, signRequest } from '../../src/auth/authenticator.ts';
import { createSecretBox } from '../../src/auth/secret-box.ts';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { AuthError } from '../../src/errors.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';

const PUBLIC_URL = 'http://127.0.0.1:47613/1.0';
const NOW_SECONDS = 1_795_684_200;

for (const dialect of DIALECTS) {
  describe(`authenticator (${dialect})`, () => {
    let testDatabase: TestDatabase;
    let database: Database;
    let store: AuthStore;
    let authenticator: Authenticator;
    let appKey: string;
    let secret: string;
    let consumerKey: string;
    let accountId: string;

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      database = await openDatabase(testDatabase.config);
      store = new AuthStore(database, createSecretBox(crypto.randomBytes(32)));
      accountId = await store.createAccount();
      const application = await store.createApplication({ accountId, name: 'test', description: 'test' });
      appKey = application.appKey;
      secret = application.secret;
      ({ consumerKey } = await store.createCredential({
        applicationId: application.id,
        accountId,
        rules: [
          { method: 'GET', path: '/cloud/project' },
          { method: 'GET', path: '/cloud/project/*' },
        ],
        status: 'validated',
      }));
      authenticator = new Authenticator(store, {
        publicUrl: PUBLIC_URL,
        timestampWindowSeconds: 180,
        now: () => NOW_SECONDS * 1000,
      });
    });
    after(async () => {
      await database.close();
      await testDatabase.drop();
    });

    /** A request signed over `signedUrl`, as received on 127.0.0.1:47613. */
    const request = (
      overrides: Partial<SignedRequest> & {
        signedUrl?: string;
        signedBody?: string;
        signedMethod?: string;
      } = {},
    ): SignedRequest => {
      const method = overrides.method ?? 'GET';
      const url = overrides.url ?? '/1.0/cloud/project';
      const body = overrides.body ?? '';
      const key = overrides.consumerKey ?? consumerKey;
      const timestamp = overrides.timestamp ?? String(NOW_SECONDS);
      return {
        method,
        url,
        host: '127.0.0.1:47613',
        protocol: 'http',
        body,
        applicationKey: appKey,
        consumerKey: key,
        timestamp,
        signature: signRequest({
          secret,
          consumerKey: key,
          method: overrides.signedMethod ?? method,
          url: overrides.signedUrl ?? `http://127.0.0.1:47613${url}`,
          body: overrides.signedBody ?? body,
          timestamp,
        }),
        ...overrides,
      };
    };

    const refusal = async (input: SignedRequest) => {
      try {
        await authenticator.authenticate(input);
      } catch (error) {
        assert.ok(error instanceof AuthError, String(error));
        return { code: error.code, status: error.status };
      }
      assert.fail('the request was accepted');
    };

    test('signatures are computed as OVH documents them', () => {
      assert.equal(
        signRequest({
          secret: 'EgWIz07P0HYwtQDs',
          consumerKey: 'MtSwSrPpNjqfVSmJhLV4S5Q8v5rm5c',
          method: 'GET',
          url: 'https://eu.api.ovh.com/1.0/me',
          body: '',
          timestamp: 1366560945,
        }),
        '$1$dd1b7624af9878f4cb9927c371e29e2ea285622f',
      );
    });

    test('a signature over the configured endpoint URL (go-ovh) is accepted', async () => {
      const context = await authenticator.authenticate(request());
      assert.equal(context.accountId, accountId);
      assert.equal(context.application.appKey, appKey);
    });

    test('a signature over https and the host without its port (npm clients) is accepted', async () => {
      const context = await authenticator.authenticate(
        request({ signedUrl: 'https://127.0.0.1/1.0/cloud/project' }),
      );
      assert.equal(context.accountId, accountId);
    });

    test('a signature over the configured endpoint is accepted whatever Host header arrived', async () => {
      const context = await authenticator.authenticate(
        request({ host: 'proxy.internal:9999', signedUrl: `${PUBLIC_URL}/cloud/project` }),
      );
      assert.equal(context.accountId, accountId);
    });

    test('the query string is part of the signed URL', async () => {
      const url = '/1.0/cloud/project?x=1';
      assert.equal((await authenticator.authenticate(request({ url }))).accountId, accountId);
      assert.deepEqual(await refusal(request({ url, signedUrl: `${PUBLIC_URL}/cloud/project` })), {
        code: 'INVALID_SIGNATURE',
        status: 400,
      });
    });

    test('a signature over any other URL, body, method or key is refused', async () => {
      const invalid = { code: 'INVALID_SIGNATURE', status: 400 };
      for (const signedUrl of [
        'http://127.0.0.1/1.0/cloud/project',
        'https://127.0.0.1:47613/1.0/cloud/project',
        'http://127.0.0.1:47613/1.0/cloud/project/other',
        'http://localhost:47613/1.0/cloud/project',
        '/1.0/cloud/project',
      ]) {
        assert.deepEqual(await refusal(request({ signedUrl })), invalid, signedUrl);
      }
      assert.deepEqual(await refusal(request({ body: '{"a":1}', signedBody: '{"a":2}' })), invalid);
      assert.deepEqual(await refusal(request({ signedMethod: 'POST' })), invalid);
      assert.deepEqual(await refusal({ ...request(), signature: 'not a signature' }), invalid);
      // The exact text only: the same digest in upper case, one character off, one more or less,
      // under another prefix of the same length, without its prefix, the prefix alone.
      const good = request().signature!;
      const last = good.at(-1) === '0' ? '1' : '0';
      for (const signature of [
        good.toUpperCase(),
        `${good.slice(0, -1)}${last}`,
        `${good}0`,
        good.slice(0, -1),
        `$2$${good.slice(3)}`,
        `x1$${good.slice(3)}`,
        good.slice(3),
        good.slice(0, 3),
      ]) {
        assert.deepEqual(await refusal({ ...request(), signature }), invalid, signature);
      }
      assert.equal(
        (await authenticator.authenticate({ ...request(), signature: good })).accountId,
        accountId,
      );
      assert.deepEqual(await refusal({ ...request(), timestamp: String(NOW_SECONDS - 1) }), invalid);
    });

    test('a request without the signature headers must log in first', async () => {
      for (const field of ['consumerKey', 'timestamp', 'signature', 'applicationKey'] as const) {
        assert.deepEqual(await refusal({ ...request(), [field]: undefined }), {
          code: 'NOT_AUTHENTICATED',
          status: 401,
        });
      }
    });

    test('an unknown application key is refused as an invalid key', async () => {
      assert.deepEqual(await refusal({ ...request(), applicationKey: 'unknownAppKey123' }), {
        code: 'INVALID_KEY',
        status: 403,
      });
      await assert.rejects(authenticator.application('unknownAppKey123'), { code: 'INVALID_KEY' });
      assert.equal((await authenticator.application(appKey)).appKey, appKey);
    });

    test('timestamps up to 180 seconds away are accepted and further ones refused', async () => {
      for (const delta of [-180, 180]) {
        const timestamp = String(NOW_SECONDS + delta);
        assert.equal((await authenticator.authenticate(request({ timestamp }))).accountId, accountId);
      }
      for (const timestamp of [
        String(NOW_SECONDS - 181),
        String(NOW_SECONDS + 181),
        'soon',
        '-1',
        '1.5',
        '',
      ]) {
        assert.deepEqual(
          await refusal(request({ timestamp })),
          { code: 'QUERY_TIME_OUT', status: 400 },
          timestamp,
        );
      }
    });

    test('a correctly signed unknown consumer key is refused as a missing credential', async () => {
      assert.deepEqual(await refusal(request({ consumerKey: 'unknownConsumerKey0123456789abcd' })), {
        code: 'NOT_CREDENTIAL',
        status: 403,
      });
    });

    test('pending, refused and expired credentials are not valid', async () => {
      const application = (await store.findApplication(appKey))!;
      for (const status of ['pendingValidation', 'refused', 'expired'] as const) {
        const pending = await store.createCredential({
          applicationId: application.id,
          accountId: status === 'pendingValidation' ? null : accountId,
          rules: [{ method: 'GET', path: '/*' }],
          status,
        });
        assert.deepEqual(
          await refusal(request({ consumerKey: pending.consumerKey })),
          { code: 'INVALID_CREDENTIAL', status: 403 },
          status,
        );
      }
    });

    test('a credential past its expiry date is not valid', async () => {
      const application = (await store.findApplication(appKey))!;
      const created = await store.createCredential({
        applicationId: application.id,
        accountId,
        rules: [{ method: 'GET', path: '/*' }],
        status: 'validated',
      });
      await database.db
        .updateTable('credentials')
        .set({ expires_at: new Date((NOW_SECONDS - 1) * 1000).toISOString() })
        .where('id', '=', created.id)
        .execute();
      assert.deepEqual(await refusal(request({ consumerKey: created.consumerKey })), {
        code: 'INVALID_CREDENTIAL',
        status: 403,
      });
    });

    test("a consumer key is refused with another application's key", async () => {
      const other = await store.createApplication({ accountId, name: 'other', description: 'other' });
      const timestamp = String(NOW_SECONDS);
      const url = '/1.0/cloud/project';
      assert.deepEqual(
        await refusal({
          ...request(),
          applicationKey: other.appKey,
          signature: signRequest({
            secret: other.secret,
            consumerKey,
            method: 'GET',
            url: `${PUBLIC_URL}/cloud/project`,
            body: '',
            timestamp,
          }),
          url,
        }),
        { code: 'INVALID_CREDENTIAL', status: 403 },
      );
    });

    test("calls outside the credential's rules are not granted, whatever the query string", async () => {
      const notGranted = { code: 'NOT_GRANTED_CALL', status: 403 };
      assert.deepEqual(
        await refusal(request({ method: 'POST', url: '/1.0/cloud/project/p/kube' })),
        notGranted,
      );
      assert.deepEqual(await refusal(request({ url: '/1.0/me' })), notGranted);
      assert.deepEqual(await refusal(request({ url: '/1.0/me?path=/cloud/project' })), notGranted);
      const granted = await authenticator.authenticate(request({ url: '/1.0/cloud/project/p/kube?x=/me' }));
      assert.equal(granted.accountId, accountId);
    });
  });
}
