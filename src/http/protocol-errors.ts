/**
 * `/1.0`'s answers to requests no route sees: bytes the HTTP parser rejects, a URL whose
 * percent-encoding does not decode, a path parameter longer than any id (OVH answers those 404).
 * They go out in OVH's error body with a query id, like every other answer of the API.
 */
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { AppError, invalid } from '../errors.ts';
import { clientErrorHandler } from './limits.ts';
import { handleError } from './ovh-errors.ts';
import { QUERY_ID_HEADER } from './responses.ts';

/** Fastify options for the `/1.0` listener; `queryId` gives the id of an answer with no request. */
export function ovhProtocolOptions(
  logger: Logger,
  queryId: () => string,
): Pick<FastifyServerOptions, 'clientErrorHandler' | 'frameworkErrors' | 'routerOptions'> {
  return {
    clientErrorHandler: clientErrorHandler(
      (status, message) => {
        const id = queryId();
        return {
          body: JSON.stringify({ class: ovhClientClass(status), message }),
          headers: { 'X-Ovh-QueryID': id },
        };
      },
      (error, status) => logger.info({ err: error, status }, 'Request refused by the HTTP parser'),
    ),
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      void reply.header(QUERY_ID_HEADER, request.id);
      switch (error.code) {
        case 'FST_ERR_BAD_URL':
          return handleError(
            invalid('The URL is not valid: its percent-encoding does not decode'),
            request,
            reply,
          );
        case 'FST_ERR_MAX_PARAM_LENGTH':
          // No id is that long: OVH answers such paths as it answers unknown ones.
          return handleError(new AppError('NotFound', 'Got an invalid (or empty) URL'), request, reply);
        default:
          return handleError(error, request, reply);
      }
    },
    // Longer than any project or cluster id with room to spare; longer parameters answer 404.
    routerOptions: { maxParamLength: 128 },
  };
}

/** OVH's class for a status the parser layer answers with. */
function ovhClientClass(status: number): string {
  switch (status) {
    case 408:
      return 'Client::RequestTimeout';
    case 431:
      return 'Client::RequestHeaderFieldsTooLarge';
    default:
      return 'Client::BadRequest';
  }
}
