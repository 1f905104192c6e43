/**
 * The one place that maps errors to OVH's wire bodies and HTTP statuses. Every error is first
 * turned into a catalogue error (src/errors.ts): business errors and authentication-layer errors
 * as thrown, schema-validation errors as 400s that name the offending field, fastify's own
 * errors by status, an unreachable database as a 503. Then it is rendered once: business errors
 * as `{"class", "message"}`, authentication-layer errors as `{"errorCode", "httpCode",
 * "message"}`. Anything unknown is a 500 with a generic message and the query id, logged at
 * `error`.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.ts';
import { AppError, AuthError, type CatalogueError, ERROR_KINDS, type ErrorKind, invalid } from '../errors.ts';
import { clip, excerpt } from '../excerpt.ts';
import { QUERY_ID_HEADER } from './responses.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: { properties?: Record<string, unknown> };
}

/** Turns any error into a catalogue error; unknown ones become an InternalServerError. */
export function toCatalogueError(error: unknown, queryId: string): CatalogueError {
  if (error instanceof AuthError || error instanceof AppError) return error;
  const fastifyError = error as Partial<FastifyError> & {
    validation?: AjvError[];
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation)) {
    return invalid(describeValidation(fastifyError.validation, fastifyError.validationContext), error);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('RequestEntityTooLarge', 'Request body is too large', { cause: error });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UnsupportedMediaType', 'Send request bodies as application/json', {
        cause: error,
      });
  }
  if (isDatabaseUnavailable(error)) {
    return new AppError(
      'ServiceUnavailable',
      `The service is temporarily unavailable (its database cannot be reached); retry shortly (query id ${queryId})`,
      { cause: error },
    );
  }
  // fastify's other client errors (a bad URL, a bad Content-Length, …): its message says what.
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new AppError(clientKind(status), fastifyError.message ?? 'Bad request', { cause: error });
  }
  return new AppError('InternalServerError', `Internal server error (query id ${queryId})`, { cause: error });
}

/** The catalogue's client-error kind of an HTTP status; BadRequest when it has none. */
function clientKind(status: number): ErrorKind {
  const kind = (Object.keys(ERROR_KINDS) as ErrorKind[]).find((name) => ERROR_KINDS[name].status === status);
  return kind ?? 'BadRequest';
}

/** OVH's wire body of a catalogue error. */
export function errorBody(error: CatalogueError): Record<string, unknown> {
  if (error instanceof AuthError) {
    return {
      errorCode: error.code,
      httpCode: `${error.status} ${STATUS_CODES[error.status]}`,
      message: error.message,
    };
  }
  return { class: error.ovhClass, message: error.message };
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const refusal = toCatalogueError(error, request.id);
  const body = errorBody(refusal);
  const status = refusal.status;
  if (status === 503) request.log.warn({ err: error }, 'Database unavailable');
  else if (status >= 500) request.log.error({ err: error }, 'Request failed');
  else
    request.log.info(
      { status, error: body.errorCode ?? body.class, reason: body.message },
      'Request refused',
    );
  // Set here too: errors raised before a route's admission hook (app.ts) sets it (fastify's
  // frameworkErrors, a route's onRequest hook, the body parser) do not have it yet.
  void reply
    .code(status)
    .header(QUERY_ID_HEADER, request.id)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(body));
}

/** Names the field (dotted path), the value and what is allowed. */
export function describeValidation(errors: readonly AjvError[], context = 'body'): string {
  return errors
    .map((error) => {
      const path = fieldPath(context, error.instancePath);
      const value = error.data === undefined ? '' : ` ${excerpt(error.data)}`;
      switch (error.keyword) {
        case 'additionalProperties': {
          const field = `${path === context ? '' : `${path}.`}${clip(String(error.params.additionalProperty))}`;
          const allowed = Object.keys(error.parentSchema?.properties ?? {});
          return `${field}: unknown field${allowed.length > 0 ? `; allowed fields here: ${allowed.join(', ')}` : ''}`;
        }
        case 'required':
          return `${path === context ? '' : `${path}.`}${String(error.params.missingProperty)}: this field is required`;
        case 'enum':
          return `${path}:${value} is not allowed; expected one of ${(error.params.allowedValues as unknown[])
            .filter((allowed) => allowed !== null)
            .join(', ')}`;
        case 'type':
          return `${path}:${value} has the wrong type; expected ${String(error.params.type).replace(',', ' or ')}`;
        default:
          return `${path}:${value} ${error.message ?? 'is invalid'}`;
      }
    })
    .join('; ');
}

function fieldPath(context: string, instancePath: string): string {
  if (instancePath === '') return context;
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts
    .reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : `${path}.${part}`), context)
    .replace(/^body\./, '');
}
