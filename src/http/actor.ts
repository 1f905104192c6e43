/** Who makes a request, as the history records it: from the signature's credential. */
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../clusters/clusters.store.ts';

/** The actor of a signed request (undefined on an unsigned one, which cannot change anything). */
export function actorOf(request: FastifyRequest): Actor | undefined {
  const auth = request.auth;
  if (auth === undefined) return undefined;
  return {
    applicationId: auth.application.id,
    credentialId: auth.credential.id,
    sourceIp: request.ip,
    queryId: request.id,
  };
}
