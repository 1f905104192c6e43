/**
 * Verifies OVH request signatures:
 *   "$1$" + sha1hex(AS + "+" + CK + "+" + METHOD + "+" + URL + "+" + BODY + "+" + TIMESTAMP)
 * Clients disagree on URL (spec/ovh-api.md §4): go-ovh (Terraform) signs the configured endpoint
 * with scheme and port; the npm clients sign `https://<host without port><path>`. We accept exactly
 * those candidate URLs, compared in constant time, and nothing looser.
 */
import crypto from 'node:crypto';
import { signaturePayload } from '../client/signing.ts';
import { AuthError } from '../errors.ts';
import type { Application, AuthStore, Credential } from './auth.store.ts';

export interface SignedRequest {
  readonly method: string;
  /** Path and query as received, `/1.0/...`. */
  readonly url: string;
  /** The `Host` header. */
  readonly host: string | undefined;
  /** `http` or `https`, as this server received the request. */
  readonly protocol: string;
  readonly body: string;
  readonly applicationKey: string | undefined;
  readonly consumerKey: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  /** The client's address, checked against the key's allowed IPs. */
  readonly ip?: string;
}

export interface AuthContext {
  readonly accountId: string;
  readonly application: Application;
  readonly credential: Credential;
}

export interface AuthenticatorOptions {
  /** The public base URL ending in `/1.0`. */
  readonly publicUrl: string;
  readonly timestampWindowSeconds: number;
  readonly now?: () => number;
}

export class Authenticator {
  readonly #store: AuthStore;
  readonly #publicUrl: string;
  readonly #windowSeconds: number;
  readonly #now: () => number;

  constructor(store: AuthStore, options: AuthenticatorOptions) {
    this.#store = store;
    this.#publicUrl = options.publicUrl;
    this.#windowSeconds = options.timestampWindowSeconds;
    this.#now = options.now ?? Date.now;
  }

  /** The application named by `X-Ovh-Application` (for calls that need no consumer key). */
  async application(applicationKey: string | undefined): Promise<Application> {
    if (applicationKey === undefined || applicationKey === '') {
      throw new AuthError('NOT_AUTHENTICATED', 'You must login first');
    }
    const application = await this.#store.findApplication(applicationKey);
    if (application === undefined) throw new AuthError('INVALID_KEY', 'This application key is invalid');
    return application;
  }

  async authenticate(request: SignedRequest): Promise<AuthContext> {
    const { consumerKey, timestamp, signature } = request;
    if (consumerKey === undefined || timestamp === undefined || signature === undefined) {
      throw new AuthError('NOT_AUTHENTICATED', 'You must login first');
    }
    const application = await this.application(request.applicationKey);

    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
    const nowSeconds = Math.floor(this.#now() / 1000);
    if (!Number.isFinite(seconds) || Math.abs(nowSeconds - seconds) > this.#windowSeconds) {
      throw new AuthError(
        'QUERY_TIME_OUT',
        `Query out of time: X-Ovh-Timestamp must be within ${this.#windowSeconds} s of the server time (GET /1.0/auth/time)`,
      );
    }

    if (!this.#signatureMatches(request, application.secret, consumerKey, timestamp, signature)) {
      throw new AuthError('INVALID_SIGNATURE', 'Invalid signature');
    }

    const credential = await this.#store.findCredential(consumerKey);
    if (credential === undefined) throw new AuthError('NOT_CREDENTIAL', 'This credential does not exist');
    const expired = credential.expiresAt !== null && Date.parse(credential.expiresAt) <= this.#now();
    if (
      credential.status !== 'validated' ||
      expired ||
      credential.accountId === null ||
      credential.applicationId !== application.id
    ) {
      throw new AuthError('INVALID_CREDENTIAL', 'This credential is not valid');
    }

    if (!credential.allowsIp(request.ip)) {
      throw new AuthError('INVALID_CREDENTIAL', 'This credential is not valid from this IP address');
    }

    const path = request.url.slice('/1.0'.length).split('?', 1)[0]!;
    // A key may always expire itself (`POST /auth/logout`), whatever rights it was given.
    const isLogout = request.method === 'POST' && path === '/auth/logout';
    if (!isLogout && !credential.allows(request.method, path)) {
      throw new AuthError('NOT_GRANTED_CALL', 'This call has not been granted');
    }
    try {
      await this.#store.keys.touch(credential.id, this.#now());
    } catch {
      // lastUse is informative: a failed write of it must not fail the call it describes.
    }
    return { accountId: credential.accountId, application, credential };
  }

  #signatureMatches(
    request: SignedRequest,
    secret: string,
    consumerKey: string,
    timestamp: string,
    signature: string,
  ) {
    const expected = Buffer.from(signature);
    const matches = (url: string) => {
      const digest = crypto
        .createHash('sha1')
        .update(
          signaturePayload({
            secret,
            consumerKey,
            method: request.method,
            url,
            body: request.body,
            timestamp,
          }),
        )
        .digest('hex');
      const computed = Buffer.from(`$1$${digest}`);
      // Each comparison is constant-time. Which URL form matched is not secret (it only tells the
      // client's kind), so the check stops at the first match: one SHA-1 for go-ovh's form.
      return computed.length === expected.length && crypto.timingSafeEqual(computed, expected);
    };
    const configured = `${this.#publicUrl}${request.url.slice('/1.0'.length)}`;
    if (matches(configured)) return true;
    if (request.host === undefined) return false;
    const asReceived = `${request.protocol}://${request.host}${request.url}`;
    if (asReceived !== configured && matches(asReceived)) return true;
    const npmClients = `https://${stripPort(request.host)}${request.url}`;
    return npmClients !== configured && npmClients !== asReceived && matches(npmClients);
  }
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The client's signing code (one formula for the CLI, the tests and the console). */
export { signRequest } from '../client/signing.ts';
