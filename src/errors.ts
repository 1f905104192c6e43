/**
 * The error catalogue. Services throw these kinds; they know nothing of HTTP. One place
 * (`http/ovh-errors.ts`) maps them to OVH's wire bodies and statuses.
 *
 * Two families exist on OVH's API, and clients parse both:
 * - business errors: `{"class": "Client::<Kind>", "message": ...}`;
 * - authentication-layer errors: `{"errorCode": "...", "httpCode": "<code> <text>", "message": ...}`.
 */

export type ErrorKind =
  | 'BadRequest'
  | 'NotFound'
  | 'Conflict'
  | 'Forbidden'
  | 'Unauthorized'
  | 'PayloadTooLarge'
  | 'TooManyRequests'
  | 'Unavailable'
  | 'Internal';

const STATUS: Readonly<Record<ErrorKind, number>> = Object.freeze({
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  PayloadTooLarge: 413,
  TooManyRequests: 429,
  Internal: 500,
  Unavailable: 503,
});

/** A business error, rendered as `{"class": "Client::<kind>", "message"}` (or `Server::` for 5xx). */
export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly status: number;
  readonly details: Readonly<Record<string, string>> | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.kind = kind;
    this.status = STATUS[kind];
    this.details = options?.details;
  }

  get ovhClass(): string {
    return `${this.status >= 500 ? 'Server' : 'Client'}::${this.kind}`;
  }
}

export const invalid = (message: string, cause?: unknown): AppError =>
  new AppError('BadRequest', message, { cause });
export const notFound = (message: string): AppError => new AppError('NotFound', message);
export const conflict = (message: string): AppError => new AppError('Conflict', message);
export const unavailable = (message: string, cause?: unknown): AppError =>
  new AppError('Unavailable', message, { cause });

/** OVH's answer for a project that does not exist *or* is not the caller's: no existence leak. */
export const serviceNotFound = (): AppError => notFound('This service does not exist');

/** Authentication-layer error codes, as OVH's API and its clients (python-ovh) name them. */
export type AuthErrorCode =
  | 'NOT_AUTHENTICATED'
  | 'INVALID_KEY'
  | 'INVALID_SIGNATURE'
  | 'INVALID_CREDENTIAL'
  | 'NOT_CREDENTIAL'
  | 'NOT_GRANTED_CALL'
  | 'QUERY_TIME_OUT';

const AUTH_STATUS: Readonly<Record<AuthErrorCode, number>> = Object.freeze({
  NOT_AUTHENTICATED: 401,
  INVALID_KEY: 403,
  INVALID_SIGNATURE: 400,
  INVALID_CREDENTIAL: 403,
  NOT_CREDENTIAL: 403,
  NOT_GRANTED_CALL: 403,
  QUERY_TIME_OUT: 400,
});

/** An authentication-layer error, rendered as `{"errorCode", "httpCode", "message"}`. */
export class AuthError extends Error {
  readonly code: AuthErrorCode;
  readonly status: number;

  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
    this.status = AUTH_STATUS[code];
  }
}
