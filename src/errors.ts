/**
 * The error catalogue: every kind of error the API answers with, its HTTP status and how OVH's
 * wire body names it. Services throw these kinds and know nothing of HTTP; errors from elsewhere
 * (fastify, ajv, the body parser, the database) are turned into them by `http/ovh-errors.ts`,
 * which renders every one the same way. The codes are stable: docs/errors.md lists them.
 *
 * Two families exist on OVH's API, and clients parse both:
 * - business errors: `{"class": "Client::<Kind>", "message"}` (`Server::` for 5xx);
 * - authentication-layer errors: `{"errorCode": "...", "httpCode": "<code> <text>", "message"}`.
 */

/** Business errors, by kind: status and OVH class. */
export const ERROR_KINDS = Object.freeze({
  /** Invalid input: a validation failure, a malformed body, a value not offered. */
  BadRequest: { status: 400, ovhClass: 'Client::BadRequest' },
  /** Refused for the caller: a sign-in that failed or is rate-limited, a cross-site form. */
  Forbidden: { status: 403, ovhClass: 'Client::Forbidden' },
  /** Absent, or not the caller's (no existence leak). */
  NotFound: { status: 404, ovhClass: 'Client::NotFound' },
  /** The resource's state forbids the change (e.g. a cluster being deleted). */
  Conflict: { status: 409, ovhClass: 'Client::Conflict' },
  /** The request body is over the configured limit. */
  RequestEntityTooLarge: { status: 413, ovhClass: 'Client::RequestEntityTooLarge' },
  /** A request body that is not sent as JSON. */
  UnsupportedMediaType: { status: 415, ovhClass: 'Client::UnsupportedMediaType' },
  /** Over the per-credential request rate (`Retry-After` says when to retry). */
  TooManyRequests: { status: 429, ovhClass: 'Client::TooManyRequests' },
  /** Anything unexpected: a generic message and the query id, the details in the log. */
  InternalServerError: { status: 500, ovhClass: 'Server::InternalServerError' },
  /** The database cannot be reached right now: retry shortly. */
  ServiceUnavailable: { status: 503, ovhClass: 'Server::ServiceUnavailable' },
} as const satisfies Record<string, { status: number; ovhClass: string }>);

export type ErrorKind = keyof typeof ERROR_KINDS;

/** Authentication-layer errors, by code as OVH's API and its clients (python-ovh) name them. */
export const AUTH_ERROR_CODES = Object.freeze({
  /** No application key, consumer key, timestamp or signature where one is required. */
  NOT_AUTHENTICATED: { status: 401 },
  /** Unknown application key. */
  INVALID_KEY: { status: 403 },
  /** The signature does not match the request. */
  INVALID_SIGNATURE: { status: 400 },
  /** The consumer key is not validated, expired, or of another application. */
  INVALID_CREDENTIAL: { status: 403 },
  /** Unknown consumer key. */
  NOT_CREDENTIAL: { status: 403 },
  /** The consumer key's access rules do not allow this call. */
  NOT_GRANTED_CALL: { status: 403 },
  /** X-Ovh-Timestamp is outside the allowed window of the server time. */
  QUERY_TIME_OUT: { status: 400 },
} as const satisfies Record<string, { status: number }>);

export type AuthErrorCode = keyof typeof AUTH_ERROR_CODES;

/** A business error, rendered as `{"class", "message"}`. */
export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly ovhClass: string;

  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.status = ERROR_KINDS[kind].status;
    this.ovhClass = ERROR_KINDS[kind].ovhClass;
  }
}

export const invalid = (message: string, cause?: unknown): AppError =>
  new AppError('BadRequest', message, { cause });
export const notFound = (message: string): AppError => new AppError('NotFound', message);
export const conflict = (message: string): AppError => new AppError('Conflict', message);

/** OVH's answer for a project that does not exist *or* is not the caller's: no existence leak. */
export const serviceNotFound = (): AppError => notFound('This service does not exist');

/** An authentication-layer error, rendered as `{"errorCode", "httpCode", "message"}`. */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;

  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
    this.status = AUTH_ERROR_CODES[code].status;
  }
}

/** What the HTTP layer renders: every error is turned into one of these first. */
export type CatalogueError = AppError | AuthError;
