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
    const application =
      this.#cachedApplication(applicationKey) ?? (await this.#loadApplication(applicationKey));
    return application;
  }

  /**
   * Checks a signed request. On the hot path (application and consumer key already in the
   * store's caches, `lastUse` written less than a minute ago) it completes synchronously and
   * returns the context itself; otherwise a promise of it. Refusals are thrown (or rejected).
   */
  authenticate(request: SignedRequest): AuthContext | Promise<AuthContext> {
    const { consumerKey, timestamp, signature } = request;
    if (consumerKey === undefined || timestamp === undefined || signature === undefined) {
      throw new AuthError('NOT_AUTHENTICATED', 'You must login first');
    }
    const application = this.#cachedApplication(request.applicationKey);
    if (application === undefined) {
      return this.#loadApplication(request.applicationKey).then((loaded) =>
        this.#afterApplication(request, loaded, consumerKey, timestamp, signature),
      );
    }
    return this.#afterApplication(request, application, consumerKey, timestamp, signature);
  }

  #cachedApplication(applicationKey: string | undefined): Application | undefined {
    if (applicationKey === undefined || applicationKey === '') {
      throw new AuthError('NOT_AUTHENTICATED', 'You must login first');
    }
    return this.#store.cachedApplication(applicationKey);
  }

  async #loadApplication(applicationKey: string | undefined): Promise<Application> {
    const application = await this.#store.findApplication(applicationKey!);
    if (application === undefined) throw new AuthError('INVALID_KEY', 'This application key is invalid');
    return application;
  }

  #afterApplication(
    request: SignedRequest,
    application: Application,
    consumerKey: string,
    timestamp: string,
    signature: string,
  ): AuthContext | Promise<AuthContext> {
    const seconds = timestampSeconds(timestamp);
    const nowMs = this.#now();
    const nowSeconds = Math.floor(nowMs / 1000);
    if (Number.isNaN(seconds) || Math.abs(nowSeconds - seconds) > this.#windowSeconds) {
      throw new AuthError(
        'QUERY_TIME_OUT',
        `Query out of time: X-Ovh-Timestamp must be within ${this.#windowSeconds} s of the server time (GET /1.0/auth/time)`,
      );
    }

    if (!this.#signatureMatches(request, application.secret, consumerKey, timestamp, signature)) {
      throw new AuthError('INVALID_SIGNATURE', 'Invalid signature');
    }

    const cached = this.#store.cachedCredential(consumerKey);
    if (cached !== undefined) return this.#granted(request, application, cached, nowMs);
    return this.#store
      .findCredential(consumerKey)
      .then((credential) => this.#granted(request, application, credential, nowMs));
  }

  #granted(
    request: SignedRequest,
    application: Application,
    credential: Credential | undefined,
    nowMs: number,
  ): AuthContext | Promise<AuthContext> {
    if (credential === undefined) throw new AuthError('NOT_CREDENTIAL', 'This credential does not exist');
    const expired = credential.expiresAtMs !== null && credential.expiresAtMs <= nowMs;
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

    const path = requestPath(request.url);
    // A key may always expire itself (`POST /auth/logout`), whatever rights it was given.
    const isLogout = request.method === 'POST' && path === '/auth/logout';
    if (!isLogout && !credential.allows(request.method, path)) {
      throw new AuthError('NOT_GRANTED_CALL', 'This call has not been granted');
    }
    const context: AuthContext = { accountId: credential.accountId, application, credential };
    const touched = this.#store.keys.touch(credential.id, nowMs);
    if (touched === undefined) return context;
    // lastUse is informative: a failed write of it must not fail the call it describes.
    return touched.then(
      () => context,
      () => context,
    );
  }

  #signatureMatches(
    request: SignedRequest,
    secret: string,
    consumerKey: string,
    timestamp: string,
    signature: string,
  ) {
    const { method, body } = request;
    const configured = `${this.#publicUrl}${request.url.slice('/1.0'.length)}`;
    if (signatureIs(signature, secret, consumerKey, method, configured, body, timestamp)) return true;
    if (request.host === undefined) return false;
    const asReceived = `${request.protocol}://${request.host}${request.url}`;
    if (
      asReceived !== configured &&
      signatureIs(signature, secret, consumerKey, method, asReceived, body, timestamp)
    ) {
      return true;
    }
    const npmClients = `https://${stripPort(request.host)}${request.url}`;
    return (
      npmClients !== configured &&
      npmClients !== asReceived &&
      signatureIs(signature, secret, consumerKey, method, npmClients, body, timestamp)
    );
  }
}

/**
 * Whether `expected` is the signature of the request for one URL form. Each comparison is
 * constant-time. Which URL form matched is not secret (it only tells the client's kind), so the
 * caller stops at the first match: one SHA-1 for go-ovh's form.
 */
function signatureIs(
  expected: string,
  secret: string,
  consumerKey: string,
  method: string,
  url: string,
  body: string,
  timestamp: string,
): boolean {
  const payload = signaturePayload({ secret, consumerKey, method, url, body, timestamp });
  return isSignature(crypto.hash('sha1', payload, 'hex'), expected);
}

const SIGNATURE_PREFIX = '$1$';

/**
 * `expected === '$1$' + hex` in time that depends only on the lengths (which are not secret: a
 * signature is 43 characters): every character is compared, with no branch on what they hold, and
 * no string is made. On the hot path this replaces two `Buffer.from` and `crypto.timingSafeEqual`,
 * ≈ 0.24 µs per signed call, and the `'$1$' + hex` text another ≈ 0.05 µs (docs/performance.md).
 */
function isSignature(hex: string, expected: string): boolean {
  const offset = SIGNATURE_PREFIX.length;
  if (expected.length !== offset + hex.length) return false;
  let difference = 0;
  for (let index = 0; index < offset; index++) {
    difference |= SIGNATURE_PREFIX.charCodeAt(index) ^ expected.charCodeAt(index);
  }
  for (let index = 0; index < hex.length; index++) {
    difference |= hex.charCodeAt(index) ^ expected.charCodeAt(offset + index);
  }
  return difference === 0;
}

/**
 * The seconds of an `X-Ovh-Timestamp` of 1 to 12 decimal digits, else NaN. Read in the pass that
 * checks the digits: a regular expression, or `Number()` of the text after the check (a runtime
 * call, ≈ 0.2 µs of a signed call in place), costs more on every signed call (docs/performance.md).
 */
export function timestampSeconds(text: string): number {
  if (text.length === 0 || text.length > 12) return Number.NaN;
  let seconds = 0;
  for (let index = 0; index < text.length; index++) {
    const digit = text.charCodeAt(index) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    seconds = seconds * 10 + digit;
  }
  return seconds;
}

/** The path of a `/1.0/...` URL below `/1.0`, without its query. */
function requestPath(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url.slice('/1.0'.length) : url.slice('/1.0'.length, query);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The client's signing code (one formula for the CLI, the tests and the console). */
export { signRequest } from '../client/signing.ts';
