/**
 * Accounts, applications and consumer keys. Consumer keys are stored as SHA-256 hashes and
 * application secrets sealed by the secret box; both are served to the signature check from a
 * small in-memory cache, because every signed request needs them.
 */

import crypto from 'node:crypto';
import { BoundedMap } from '../bounded-map.ts';
import type { Database } from '../db/database.ts';
import { type AccessRule, compileRules, type RuleMatcher } from './access-rules.ts';
import { openAuthCacheEvents } from './auth-cache-events.ts';
import { CredentialStore } from './credentials.store.ts';
import { compileAllowedIps, type IpMatcher } from './ip-blocks.ts';
import type { SecretBox } from './secret-box.ts';
import { randomToken, sha256 } from './tokens.ts';

export interface Application {
  readonly id: number;
  readonly accountId: string;
  readonly appKey: string;
  readonly secret: string;
}

export interface Credential {
  readonly id: number;
  readonly applicationId: number;
  readonly accountId: string | null;
  readonly status: 'pendingValidation' | 'validated' | 'refused' | 'expired';
  readonly rules: readonly AccessRule[];
  readonly allows: RuleMatcher;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  /** `expiresAt` in epoch milliseconds (parsed once, not on every call). */
  readonly expiresAtMs: number | null;
  /** Where the key may be used from; null: anywhere. */
  readonly allowedIps: readonly string[] | null;
  readonly allowsIp: IpMatcher;
}

/** How a consumer key was made: the credentials page shows it as the key's origin. */
export type CredentialOrigin = 'bootstrap' | 'admin' | 'delegation' | 'createToken' | 'console';

/** How long a cached credential is trusted before it is read again (revocation delay). */
const CREDENTIAL_TTL_MS = 30_000;
/** Most applications, and most consumer keys, kept in memory: past it the cache starts over. */
export const MAX_CACHED = 10_000;

export { randomToken, sha256 } from './tokens.ts';

/** The name of the application the console signs with (one per account). */
export const CONSOLE_APPLICATION = 'mks console';

export class AuthStore {
  readonly #database: Database;
  readonly #box: SecretBox;
  readonly #applications = new BoundedMap<string, Application>(MAX_CACHED);
  readonly #credentials = new BoundedMap<string, { credential: Credential; loadedAt: number }>(MAX_CACHED);
  /** Validation, revocation and the `/me/api` views of consumer keys and applications. */
  readonly keys: CredentialStore;

  /** Whether cached entries may be served (auth-cache-events.ts: false while deaf to other processes). */
  #trusted = true;
  /** Counts evictions: a row read before one is not cached after it (it may be the old state). */
  #evictions = 0;

  constructor(database: Database, box: SecretBox) {
    this.#database = database;
    this.#box = box;
    const events = openAuthCacheEvents(database, {
      forget: (event) => {
        this.#evictions++;
        if (event.kind === 'credential') {
          for (const [key, entry] of this.#credentials) {
            if (entry.credential.id === event.id) this.#credentials.delete(key);
          }
        } else {
          for (const [key, application] of this.#applications) {
            if (application.id === event.id) this.#applications.delete(key);
          }
        }
      },
      forgetAll: () => {
        this.#evictions++;
        this.#credentials.clear();
        this.#applications.clear();
      },
      trust: (trusted) => {
        this.#trusted = trusted;
      },
    });
    this.keys = new CredentialStore(database, {
      forget: (credentialId) => events.announce({ kind: 'credential', id: credentialId }),
      forgetApplication: (applicationId) => events.announce({ kind: 'application', id: applicationId }),
    });
  }

  /** The scrypt hash of an account's console password: undefined when there is no such account. */
  async passwordHash(accountId: string): Promise<string | null | undefined> {
    const row = await this.#database.db
      .selectFrom('accounts')
      .select('password_hash')
      .where('id', '=', accountId)
      .executeTakeFirst();
    return row === undefined ? undefined : row.password_hash;
  }

  /** Sets an account's console password hash (see passwords.ts); false when there is no such account. */
  async setPasswordHash(accountId: string, hash: string): Promise<boolean> {
    const result = await this.#database.db
      .updateTable('accounts')
      .set({ password_hash: hash })
      .where('id', '=', accountId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * The application the console signs its requests with for an account, made on first sign-in.
   * Its secret reaches the signed-in browser (it signs there), so it is never used for anything else.
   */
  async consoleApplication(accountId: string): Promise<Application> {
    const row = await this.#database.db
      .selectFrom('applications')
      .select('app_key')
      .where('account_id', '=', accountId)
      .where('name', '=', CONSOLE_APPLICATION)
      .orderBy('id')
      .executeTakeFirst();
    const existing = row === undefined ? undefined : await this.findApplication(row.app_key);
    return (
      existing ??
      this.createApplication({
        accountId,
        name: CONSOLE_APPLICATION,
        description: 'The mks web console (its sign-ins)',
      })
    );
  }

  async createAccount(input: { id?: string; email?: string | null } = {}): Promise<string> {
    const id =
      input.id ??
      `${randomToken(2).toLowerCase().replace(/[0-9]/g, 'x')}${crypto.randomInt(10000, 99999)}-mks`;
    await this.#database.db
      .insertInto('accounts')
      .values({
        id,
        email: input.email ?? null,
        created_at: new Date().toISOString(),
        password_hash: null,
      })
      .execute();
    return id;
  }

  async accountExists(id: string): Promise<boolean> {
    const row = await this.#database.db
      .selectFrom('accounts')
      .select('id')
      .where('id', '=', id)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Whether any account exists (the first start of the embedded default creates one). */
  async hasAccounts(): Promise<boolean> {
    const row = await this.#database.db.selectFrom('accounts').select('id').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async createApplication(input: {
    accountId: string;
    name: string;
    description: string;
  }): Promise<Application> {
    const appKey = randomToken(16);
    const secret = randomToken(32);
    const row = await this.#database.db
      .insertInto('applications')
      .values({
        account_id: input.accountId,
        app_key: appKey,
        secret_enc: this.#box.seal(secret),
        name: input.name,
        description: input.description,
        created_at: new Date().toISOString(),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, accountId: input.accountId, appKey, secret };
  }

  async createCredential(input: {
    applicationId: number;
    accountId: string | null;
    rules: readonly AccessRule[];
    status: Credential['status'];
    redirection?: string | null;
    validationToken?: string | null;
    expiresAt?: string | null;
    allowedIps?: readonly string[] | null;
    origin?: CredentialOrigin;
  }): Promise<{ id: number; consumerKey: string }> {
    const consumerKey = randomToken(32);
    const row = await this.#database.db
      .insertInto('credentials')
      .values({
        application_id: input.applicationId,
        account_id: input.accountId,
        ck_hash: sha256(consumerKey),
        status: input.status,
        rules: JSON.stringify(input.rules),
        redirection: input.redirection ?? null,
        validation_token_hash: input.validationToken ? sha256(input.validationToken) : null,
        created_at: new Date().toISOString(),
        expires_at: input.expiresAt ?? null,
        last_use: null,
        allowed_ips: input.allowedIps == null ? null : JSON.stringify(input.allowedIps),
        origin: input.origin ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, consumerKey };
  }

  /** The cached application behind an application key, if any (the signature check's hot path). */
  cachedApplication(appKey: string): Application | undefined {
    return this.#trusted ? this.#applications.get(appKey) : undefined;
  }

  /** The application behind an application key; cached (deleting one evicts it: `keys.deleteApplication`). */
  async findApplication(appKey: string): Promise<Application | undefined> {
    const cached = this.cachedApplication(appKey);
    if (cached !== undefined) return cached;
    const evictions = this.#evictions;
    const row = await this.#database.db
      .selectFrom('applications')
      .select(['id', 'account_id', 'secret_enc'])
      .where('app_key', '=', appKey)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const application = Object.freeze({
      id: row.id,
      accountId: row.account_id,
      appKey,
      secret: this.#box.open(row.secret_enc),
    });
    if (evictions === this.#evictions) {
      this.#applications.set(appKey, application);
    }
    return application;
  }

  /** The cached credential behind a consumer key while it is fresh (the signature check's hot path). */
  cachedCredential(consumerKey: string, now = Date.now()): Credential | undefined {
    if (!this.#trusted) return undefined;
    const cached = this.#credentials.get(consumerKey);
    return cached !== undefined && now - cached.loadedAt < CREDENTIAL_TTL_MS ? cached.credential : undefined;
  }

  /** The credential behind a consumer key; cached for a short while so revocations take effect. */
  async findCredential(consumerKey: string): Promise<Credential | undefined> {
    const now = Date.now();
    const cached = this.cachedCredential(consumerKey, now);
    if (cached !== undefined) return cached;
    const evictions = this.#evictions;
    const row = await this.#database.db
      .selectFrom('credentials')
      .select([
        'id',
        'application_id',
        'account_id',
        'status',
        'rules',
        'created_at',
        'expires_at',
        'allowed_ips',
      ])
      .where('ck_hash', '=', sha256(consumerKey))
      .executeTakeFirst();
    if (row === undefined) {
      this.#credentials.delete(consumerKey);
      return undefined;
    }
    const rules = JSON.parse(row.rules) as AccessRule[];
    const allowedIps = row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]);
    const credential: Credential = Object.freeze({
      id: row.id,
      applicationId: row.application_id,
      accountId: row.account_id,
      status: row.status,
      rules,
      allows: compileRules(rules),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      expiresAtMs: row.expires_at === null ? null : Date.parse(row.expires_at),
      allowedIps,
      allowsIp: compileAllowedIps(allowedIps),
    });
    // Only usable credentials are worth keeping: a pending one changes state when validated.
    if (credential.status === 'validated' && evictions === this.#evictions) {
      this.#credentials.set(consumerKey, { credential, loadedAt: now });
    }
    return credential;
  }
}
