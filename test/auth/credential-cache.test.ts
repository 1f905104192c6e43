/**
 * The signature check caches applications and consumer keys; a change to one must take effect at
 * once where it was made and, on PostgreSQL, in every other process sharing the database (two
 * independent stores here, each with its own caches and connections: two processes as far as the
 * database can tell) — not when a cache entry would have expired (30 s).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { AuthStore } from '../../src/auth/auth.store.ts';
import { Authenticator, type SignedRequest, signRequest } from '../../src/auth/authenticator.ts';
import { createSecretBox, type SecretBox } from '../../src/auth/secret-box.ts';
import { type Database, openDatabase } from '../../src/db/database.ts';
import { AuthError } from '../../src/errors.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/dialects.ts';
import { waitFor } from '../support/wait.ts';

const PUBLIC_URL = 'http://127.0.0.1:47613/1.0';

for (const dialect of DIALECTS) {
  describe(`auth caches follow revocations (${dialect})`, () => {
    let testDatabase: TestDatabase;
    const databases: Database[] = [];
    /** Where the calls are checked, and where the keys are changed (the same on SQLite). */
    let checking: AuthStore;
    let changing: AuthStore;
    let authenticator: Authenticator;
    let accountId: string;

    before(async () => {
      testDatabase = await createTestDatabase(dialect);
      const box: SecretBox = createSecretBox(crypto.randomBytes(32));
      const open = async () => {
        const database = await openDatabase(testDatabase.config);
        databases.push(database);
        return new AuthStore(database, box);
      };
      checking = await open();
      changing = dialect === 'postgres' ? await open() : checking;
      accountId = await changing.createAccount();
      authenticator = new Authenticator(checking, { publicUrl: PUBLIC_URL, timestampWindowSeconds: 180 });
    });
    after(async () => {
      for (const database of databases) await database.close();
      await testDatabase.drop();
    });

    async function newKey() {
      const application = await changing.createApplication({
        accountId,
        name: 'cache',
        description: 'cache',
      });
      const { id, consumerKey } = await changing.createCredential({
        applicationId: application.id,
        accountId,
        rules: [{ method: 'GET', path: '/*' }],
        status: 'validated',
      });
      const request = (): SignedRequest => {
        const timestamp = String(Math.floor(Date.now() / 1000));
        const url = '/1.0/cloud/project';
        return {
          method: 'GET',
          url,
          host: '127.0.0.1:47613',
          protocol: 'http',
          body: '',
          applicationKey: application.appKey,
          consumerKey,
          timestamp,
          signature: signRequest({
            secret: application.secret,
            consumerKey,
            method: 'GET',
            url: `${PUBLIC_URL}/cloud/project`,
            body: '',
            timestamp,
          }),
          ip: '192.0.2.7',
        };
      };
      // The process that checks calls has listened, and the key is in its caches.
      await waitFor(async () => (await authenticator.authenticate(request())).accountId === accountId, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'the key to be accepted',
      });
      assert.ok(checking.cachedCredential(consumerKey) !== undefined, 'the key is served from the cache');
      return { applicationId: application.id, credentialId: id, request };
    }

    /** The refusal code of `request`, or undefined when it is accepted. */
    async function refusal(request: SignedRequest): Promise<string | undefined> {
      try {
        await authenticator.authenticate(request);
        return undefined;
      } catch (error) {
        assert.ok(error instanceof AuthError, String(error));
        return error.code;
      }
    }

    /** At once on SQLite; on PostgreSQL once the notification is delivered (well under the TTL). */
    async function refusedSoon(request: () => SignedRequest, code: string) {
      if (dialect === 'sqlite') {
        assert.equal(await refusal(request()), code);
        return;
      }
      await waitFor(async () => (await refusal(request())) === code, {
        timeoutMs: 5_000,
        intervalMs: 10,
        what: `the change to reach the other process (${code})`,
      });
    }

    test('a revoked consumer key is refused', async () => {
      const key = await newKey();
      assert.equal(await changing.keys.revoke(accountId, key.credentialId), true);
      await refusedSoon(key.request, 'NOT_CREDENTIAL');
    });

    test('a key restricted to other IPs is refused from this one', async () => {
      const key = await newKey();
      assert.equal(await changing.keys.setAllowedIps(accountId, key.credentialId, ['198.51.100.0/24']), true);
      await refusedSoon(key.request, 'INVALID_CREDENTIAL');
    });

    test('an expired key (logout) is refused', async () => {
      const key = await newKey();
      await changing.keys.expire(key.credentialId);
      await refusedSoon(key.request, 'INVALID_CREDENTIAL');
    });

    test('a deleted application is refused', async () => {
      const key = await newKey();
      assert.equal(await changing.keys.deleteApplication(accountId, key.applicationId), true);
      await refusedSoon(key.request, 'INVALID_KEY');
    });
  });
}
