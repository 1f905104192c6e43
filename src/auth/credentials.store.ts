/**
 * What happens to consumer keys after they are made: a user's decision on a pending request
 * (the validation page), the `/me/api` views of an account's applications and keys (OVH's models),
 * revocation, allowed IPs and last use. Reads filter on the account, so one account never sees
 * or touches another's keys: a key or application of someone else is "not found".
 */
import { BoundedMap } from '../bounded-map.ts';
import type { Database } from '../db/database.ts';
import type { CredentialTable } from '../db/schema.ts';
import type { AccessRule } from './access-rules.ts';
import type { CredentialOrigin } from './auth.store.ts';
import { sha256 } from './tokens.ts';

export type CredentialState = 'pendingValidation' | 'validated' | 'refused' | 'expired';
export const CREDENTIAL_STATES: readonly CredentialState[] = [
  'pendingValidation',
  'validated',
  'refused',
  'expired',
];

/** A request nobody decides on expires: its link is dead after this long. */
export const PENDING_TTL_MS = 60 * 60 * 1000;
/** `lastUse` is written at most this often per key, so signed calls do not each write a row. */
const LAST_USE_RESOLUTION_MS = 60 * 1000;

/** `auth.ApiCredential`, as `GET /me/api/credential/{id}` answers. */
export interface ApiCredential {
  credentialId: number;
  applicationId: number;
  ovhSupport: boolean;
  rules: AccessRule[];
  status: CredentialState;
  creation: string;
  expiration: string | null;
  lastUse: string | null;
  allowedIPs: string[] | null;
  /** mks extension: how the key was made (bootstrap, admin, delegation, createToken, console). */
  origin: string | null;
}

/** `api.Application`. */
export interface ApiApplication {
  applicationId: number;
  applicationKey: string;
  name: string;
  description: string;
  status: 'active';
}

/** What the validation page shows of a pending request. */
export interface PendingRequest {
  readonly credentialId: number;
  readonly state: CredentialState;
  readonly application: {
    readonly id: number;
    readonly accountId: string;
    readonly name: string;
    readonly description: string;
  };
  readonly rules: AccessRule[];
  readonly redirection: string | null;
}

export type Decision =
  | {
      readonly kind: 'authorize';
      readonly accountId: string;
      readonly expiresAt: string | null;
      readonly allowedIps: readonly string[] | null;
      /** Overrides the request's origin (the console's own sign-ins say `console`). */
      readonly origin?: CredentialOrigin;
    }
  | { readonly kind: 'refuse'; readonly accountId: string };

type StateRow = Pick<CredentialTable, 'status' | 'created_at' | 'expires_at'>;

/** The state a client sees: a validated key past its expiry, or a request left too long, is expired. */
export function credentialState(row: StateRow, now = Date.now()): CredentialState {
  if (row.status === 'validated' && row.expires_at !== null && Date.parse(row.expires_at) <= now) {
    return 'expired';
  }
  if (row.status === 'pendingValidation' && Date.parse(row.created_at) + PENDING_TTL_MS <= now) {
    return 'expired';
  }
  return row.status;
}

export interface CacheEviction {
  /**
   * Drops a consumer key from the signature check's caches (revoked, expired, restricted): in
   * this process at once, in the others sharing the database as soon as they hear of it
   * (auth-cache-events.ts). Called once the change is committed.
   */
  forget(credentialId: number): Promise<void>;
  forgetApplication(applicationId: number): Promise<void>;
}

export class CredentialStore {
  readonly #database: Database;
  readonly #cache: CacheEviction;
  readonly #lastUseWritten = new BoundedMap<number, number>(10_000);

  constructor(database: Database, cache: CacheEviction) {
    this.#database = database;
    this.#cache = cache;
  }

  /** The request behind a validation token, while it is still the one to decide on. */
  async pendingRequest(token: string): Promise<PendingRequest | undefined> {
    const row = await this.#database.db
      .selectFrom('credentials')
      .innerJoin('applications', 'applications.id', 'credentials.application_id')
      .select([
        'credentials.id as id',
        'credentials.status as status',
        'credentials.created_at as created_at',
        'credentials.expires_at as expires_at',
        'credentials.rules as rules',
        'credentials.redirection as redirection',
        'applications.id as application_id',
        'applications.account_id as application_account',
        'applications.name as name',
        'applications.description as description',
      ])
      .where('credentials.validation_token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      credentialId: row.id,
      state: credentialState(row),
      application: {
        id: row.application_id,
        accountId: row.application_account,
        name: row.name,
        description: row.description,
      },
      rules: JSON.parse(row.rules) as AccessRule[],
      redirection: row.redirection,
    };
  }

  /**
   * Records a user's decision on a pending request. The token is spent in the same statement
   * (its hash is cleared), so two concurrent decisions cannot both win: false when the request
   * was decided already, has expired, or never existed.
   */
  async decide(token: string, decision: Decision): Promise<boolean> {
    const cutoff = new Date(Date.now() - PENDING_TTL_MS).toISOString();
    const result = await this.#database.db
      .updateTable('credentials')
      .set(
        decision.kind === 'authorize'
          ? {
              status: 'validated',
              account_id: decision.accountId,
              expires_at: decision.expiresAt,
              allowed_ips: decision.allowedIps === null ? null : JSON.stringify(decision.allowedIps),
              validation_token_hash: null,
              ...(decision.origin === undefined ? {} : { origin: decision.origin }),
            }
          : { status: 'refused', account_id: decision.accountId, validation_token_hash: null },
      )
      .where('validation_token_hash', '=', sha256(token))
      .where('status', '=', 'pendingValidation')
      .where('created_at', '>', cutoff)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** `GET /me/api/credential`: the account's key ids, optionally of one state or application. */
  async list(
    accountId: string,
    filter: { status?: CredentialState; applicationId?: number } = {},
  ): Promise<number[]> {
    let query = this.#database.db
      .selectFrom('credentials')
      .select(['id', 'status', 'created_at', 'expires_at'])
      .where('account_id', '=', accountId);
    if (filter.applicationId !== undefined) query = query.where('application_id', '=', filter.applicationId);
    const rows = await query.orderBy('id').execute();
    const now = Date.now();
    return rows
      .filter((row) => filter.status === undefined || credentialState(row, now) === filter.status)
      .map((row) => row.id);
  }

  async get(accountId: string, credentialId: number): Promise<ApiCredential | undefined> {
    const row = await this.#database.db
      .selectFrom('credentials')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('id', '=', credentialId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      credentialId: row.id,
      applicationId: row.application_id,
      ovhSupport: false,
      rules: JSON.parse(row.rules) as AccessRule[],
      status: credentialState(row),
      creation: row.created_at,
      expiration: row.expires_at,
      lastUse: row.last_use,
      allowedIPs: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
      origin: row.origin,
    };
  }

  /** `PUT /me/api/credential/{id}`: the only property a user may change is allowedIPs. */
  async setAllowedIps(
    accountId: string,
    credentialId: number,
    allowedIps: readonly string[] | null,
  ): Promise<boolean> {
    const result = await this.#database.db
      .updateTable('credentials')
      .set({ allowed_ips: allowedIps === null ? null : JSON.stringify(allowedIps) })
      .where('account_id', '=', accountId)
      .where('id', '=', credentialId)
      .executeTakeFirst();
    await this.#cache.forget(credentialId);
    return Number(result.numUpdatedRows) > 0;
  }

  /** `DELETE /me/api/credential/{id}`: the key stops working at once in this process. */
  async revoke(accountId: string, credentialId: number): Promise<boolean> {
    const result = await this.#database.db
      .deleteFrom('credentials')
      .where('account_id', '=', accountId)
      .where('id', '=', credentialId)
      .executeTakeFirst();
    await this.#cache.forget(credentialId);
    return Number(result.numDeletedRows) > 0;
  }

  /** `POST /auth/logout`: OVH expires the calling key (it stays listed, as expired). */
  async expire(credentialId: number): Promise<void> {
    await this.#database.db
      .updateTable('credentials')
      .set({ expires_at: new Date().toISOString() })
      .where('id', '=', credentialId)
      .execute();
    await this.#cache.forget(credentialId);
  }

  /**
   * Notes a signed call: `lastUse` is kept to the minute, so most calls write nothing and get
   * undefined back (no promise to wait for); otherwise the write's promise.
   */
  touch(credentialId: number, now = Date.now()): Promise<void> | undefined {
    const written = this.#lastUseWritten.get(credentialId);
    if (written !== undefined && now - written < LAST_USE_RESOLUTION_MS) return undefined;
    this.#lastUseWritten.set(credentialId, now);
    return this.#database.db
      .updateTable('credentials')
      .set({ last_use: new Date(now).toISOString() })
      .where('id', '=', credentialId)
      .execute()
      .then(() => undefined);
  }

  /** `GET /me/api/application`: the applications the account owns or has granted a key to. */
  async applications(accountId: string): Promise<number[]> {
    const rows = await this.#visibleApplications(accountId).select('applications.id as id').execute();
    return rows.map((row) => row.id);
  }

  async application(accountId: string, applicationId: number): Promise<ApiApplication | undefined> {
    const row = await this.#visibleApplications(accountId)
      .select([
        'applications.id as id',
        'applications.app_key as app_key',
        'applications.name as name',
        'applications.description as description',
      ])
      .where('applications.id', '=', applicationId)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    return {
      applicationId: row.id,
      applicationKey: row.app_key,
      name: row.name,
      description: row.description,
      status: 'active',
    };
  }

  /**
   * `DELETE /me/api/application/{id}`: the account's keys for it go; an application the account
   * owns goes too, with every key made for it.
   */
  async deleteApplication(accountId: string, applicationId: number): Promise<boolean> {
    const visible = await this.application(accountId, applicationId);
    if (visible === undefined) return false;
    const keys = await this.#database.db.transaction().execute(async (trx) => {
      const owned = await trx
        .selectFrom('applications')
        .select('id')
        .where('id', '=', applicationId)
        .where('account_id', '=', accountId)
        .executeTakeFirst();
      const doomed = await trx
        .deleteFrom('credentials')
        .where('application_id', '=', applicationId)
        .$if(owned === undefined, (query) => query.where('account_id', '=', accountId))
        .returning('id')
        .execute();
      if (owned !== undefined) await trx.deleteFrom('applications').where('id', '=', applicationId).execute();
      return doomed.map((row) => row.id);
    });
    for (const id of keys) await this.#cache.forget(id);
    await this.#cache.forgetApplication(applicationId);
    return true;
  }

  #visibleApplications(accountId: string) {
    const db = this.#database.db;
    return db
      .selectFrom('applications')
      .where((eb) =>
        eb.or([
          eb('applications.account_id', '=', accountId),
          eb(
            'applications.id',
            'in',
            db.selectFrom('credentials').select('application_id').where('account_id', '=', accountId),
          ),
        ]),
      )
      .orderBy('applications.id');
  }
}
