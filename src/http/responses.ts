/** Reply helpers: bodies are serialized here, once, so route schemas only document them. */
import type { FastifyReply } from 'fastify';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * OVH's `X-Ovh-QueryID`, named as fastify sends it (it lowercases reply header names): set with
 * this text, fastify's lowercasing returns the same string, where `'X-Ovh-QueryID'` made a new key
 * on every answer, ≈ 0.1–0.2 µs of a signed GET (docs/performance.md). The bytes sent are the same.
 */
export const QUERY_ID_HEADER = 'x-ovh-queryid';

/** Sends a value as JSON. Bodies are serialized here, once, so schemas only document them. */
export function sendJson(reply: FastifyReply, value: unknown): FastifyReply {
  return reply.type(JSON_TYPE).send(JSON.stringify(value));
}

/** Sends an already serialized JSON text. */
export function sendJsonText(reply: FastifyReply, text: string): FastifyReply {
  return reply.type(JSON_TYPE).send(text);
}

/** OVH's void operations answer 200 with a JSON `null` (the `ovh` npm client fails on 204). */
export function sendVoid(reply: FastifyReply): FastifyReply {
  return reply.type(JSON_TYPE).send('null');
}
