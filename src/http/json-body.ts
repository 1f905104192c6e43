/**
 * Request bodies are parsed here, keeping the exact text: the OVH signature covers the body bytes.
 * A malformed body is not refused at parse time but remembered and refused after authentication,
 * so an unauthenticated caller learns nothing beyond "log in first".
 */
import type { FastifyBodyParser, FastifyInstance, FastifyRequest } from 'fastify';
import { invalid } from '../errors.ts';
import { containsNul, jsonDepthExceeds, MAX_JSON_DEPTH, nulRefused } from './limits.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody: string;
    bodyError: Error | undefined;
  }
}

export function registerJsonBody(app: FastifyInstance, bodyLimit: number): void {
  app.decorateRequest('rawBody', '');
  app.decorateRequest('bodyError', undefined);
  app.removeAllContentTypeParsers();
  // go-ovh sends `application/json;charset=utf-8`, the npm clients `application/json`; anything
  // else is read as JSON too, as OVH does. The same parser is also registered under the media type
  // clients send: fastify remembers the parser of a Content-Type it found by name, while it parses
  // the header again on every request that falls through to the catch-all (docs/performance.md).
  const parseJson: FastifyBodyParser<string> = (request: FastifyRequest, body, done) => {
    const text = body;
    request.rawBody = text;
    if (text.trim() === '') return done(null, undefined);
    if (jsonDepthExceeds(text)) {
      request.bodyError = invalid(`Malformed JSON body: nested deeper than ${MAX_JSON_DEPTH} levels`);
      return done(null, undefined);
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (containsNul(parsed)) request.bodyError = nulRefused('the request body');
      done(null, parsed);
    } catch (error) {
      request.bodyError = malformed(text, error);
      done(null, undefined);
    }
  };
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, parseJson);
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, parseJson);
}

function malformed(text: string, error: unknown) {
  const reason = error instanceof Error ? error.message : String(error);
  const position = /position (\d+)/.exec(reason);
  let where = '';
  if (position !== null) {
    const offset = Number(position[1]);
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    where = ` at line ${line}, column ${column}`;
  }
  const detail = reason.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
  return invalid(`Malformed JSON body${where}: ${detail}`);
}
