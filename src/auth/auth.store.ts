/**
 * Accounts, applications and consumer keys. Consumer keys are stored as SHA-256 hashes and
 * application secrets sealed by the secret box; both are served to the signature check from a
 * small in-memory cache, because every signed request needs them.
 */
import crypto from 'node:crypto';
import type { Database } from '../db/database.ts';
import { type AccessRule, compileRules, type RuleMatcher } from './access-rules.ts';
import type { SecretBox } from './secret-box.ts';

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
}

/** How long a cached credential is trusted before it is read again (revocation delay). */
const CREDENTIAL_TTL_MS = 30_000;

export const sha256 = (text: string): string => crypto.createHash('sha256').update(text).digest('hex');

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** A random token in OVH's style (application keys: 16, secrets and consumer keys: 32). */
export function randomToken(length: number): string {
  const bytes = crypto.randomBytes(length);
  let token = '';
  // 256 is not a multiple of 62: rejection sampling would be exact, but the bias of `% 62` on
  // 32-character secrets is far below anything that weakens them; keep it simple.
  for (const byte of bytes) token += ALPHANUMERIC[byte % ALPHANUMERIC.length];
  return token;
}

export class AuthStore {
  readonly #database: Database;
  readonly #box: SecretBox;
  readonly #applications = new Map<string, Application>();
  readonly #credentials = new Map<string, { credential: Credential; loadedAt: number }>();

  constructor(database: Database, box: SecretBox) {
    this.#database = database;
    this.#box = box;
  }

  async createAccount(input: { id?: string; email?: string | null } = {}): Promise<string> {
    const id =
      input.id ??
      `${randomToken(2).toLowerCase().replace(/[0-9]/g, 'x')}${crypto.randomInt(10000, 99999)}-mks`;
    await this.#database.db
      .insertInto('accounts')
      .values({ id, email: input.email ?? null, created_at: new Date().toISOString() })
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
        expires_at: null,
        last_use: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { id: row.id, consumerKey };
  }

  /** The application behind an application key; cached (applications never change). */
  async findApplication(appKey: string): Promise<Application | undefined> {
    const cached = this.#applications.get(appKey);
    if (cached !== undefined) return cached;
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
    this.#applications.set(appKey, application);
    return application;
  }

  /** The credential behind a consumer key; cached for a short while so revocations take effect. */
  async findCredential(consumerKey: string): Promise<Credential | undefined> {
    const now = Date.now();
    const cached = this.#credentials.get(consumerKey);
    if (cached !== undefined && now - cached.loadedAt < CREDENTIAL_TTL_MS) return cached.credential;
    const row = await this.#database.db
      .selectFrom('credentials')
      .select(['id', 'application_id', 'account_id', 'status', 'rules', 'created_at', 'expires_at'])
      .where('ck_hash', '=', sha256(consumerKey))
      .executeTakeFirst();
    if (row === undefined) {
      this.#credentials.delete(consumerKey);
      return undefined;
    }
    const rules = JSON.parse(row.rules) as AccessRule[];
    const credential: Credential = Object.freeze({
      id: row.id,
      applicationId: row.application_id,
      accountId: row.account_id,
      status: row.status,
      rules,
      allows: compileRules(rules),
      createdAt: row.created_at,
      expiresAt: row.expires_at,
    });
    // Only usable credentials are worth keeping: a pending one changes state when validated.
    if (credential.status === 'validated') {
      if (this.#credentials.size > 10_000) this.#credentials.clear();
      this.#credentials.set(consumerKey, { credential, loadedAt: now });
    }
    return credential;
  }
}
