/**
 * The one place that maps errors to OVH's wire bodies and HTTP statuses: business errors as
 * `{"class", "message"}`, authentication-layer errors as `{"errorCode", "httpCode", "message"}`,
 * schema-validation errors as 400s that name the offending field. Anything unknown is a 500 with a
 * generic message and the query id, logged at `error`.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db/database.ts';
import { AppError, AuthError } from '../errors.ts';
import { clip, excerpt } from '../excerpt.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: { properties?: Record<string, unknown> };
}

export function errorBody(
  error: unknown,
  queryId: string,
): { status: number; body: Record<string, unknown> } {
  if (error instanceof AuthError) {
    return {
      status: error.status,
      body: {
        errorCode: error.code,
        httpCode: `${error.status} ${STATUS_CODES[error.status]}`,
        message: error.message,
      },
    };
  }
  if (error instanceof AppError) {
    const body: Record<string, unknown> = { class: error.ovhClass, message: error.message };
    if (error.details !== undefined) body.details = error.details;
    return { status: error.status, body };
  }
  const fastifyError = error as Partial<FastifyError> & {
    validation?: AjvError[];
    validationContext?: string;
  };
  if (Array.isArray(fastifyError.validation)) {
    return {
      status: 400,
      body: {
        class: 'Client::BadRequest',
        message: describeValidation(fastifyError.validation, fastifyError.validationContext),
      },
    };
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        body: { class: 'Client::RequestEntityTooLarge', message: 'Request body is too large' },
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        body: { class: 'Client::UnsupportedMediaType', message: 'Send request bodies as application/json' },
      };
  }
  if (
    isDatabaseUnavailable(error) ||
    (error instanceof Error && error.message === 'Connection terminated unexpectedly')
  ) {
    return {
      status: 503,
      body: {
        class: 'Server::ServiceUnavailable',
        message: `The service is temporarily unavailable (its database cannot be reached); retry shortly (query id ${queryId})`,
      },
    };
  }
  const status = fastifyError.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, body: { class: 'Client::BadRequest', message: fastifyError.message ?? 'Bad request' } };
  }
  return {
    status: 500,
    body: { class: 'Server::InternalServerError', message: `Internal server error (query id ${queryId})` },
  };
}

export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = errorBody(error, request.id);
  if (status === 503) request.log.warn({ err: error }, 'Database unavailable');
  else if (status >= 500) request.log.error({ err: error }, 'Request failed');
  else
    request.log.info(
      { status, error: body.errorCode ?? body.class, reason: body.message },
      'Request refused',
    );
  void reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body));
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
