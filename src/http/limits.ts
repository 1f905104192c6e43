/**
 * What a careless or hostile client can send before a route runs, and the answers it gets: bytes
 * the HTTP parser rejects, URLs the router cannot decode, path parameters past their length,
 * JSON nested deep enough to exhaust the stack. Each surface answers in its own format (OVH's error
 * body on `/1.0`, a Kubernetes `Status` on the clusters' API), never in fastify's default one.
 */

import { type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type AppError, invalid } from '../errors.ts';

/**
 * Deepest JSON nesting a request body may have. OVH's bodies nest five levels at most
 * (customization.kubeProxy.ipvs.…); Kubernetes objects a few more. Deeper input is refused before
 * it is parsed, so no recursive walk (validation, merge, clone) can overflow the stack.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `text` (a string or its UTF-8 bytes), read as JSON, nests arrays and objects deeper
 * than `limit`. A linear scan (brackets outside strings), not a parse: it must not itself recurse
 * on hostile input. It also bounds YAML's flow style; block YAML nests by indentation.
 */
export function jsonDepthExceeds(text: string | Uint8Array, limit = MAX_JSON_DEPTH): boolean {
  // Nesting deeper than `limit` takes more than `limit` opening brackets: a shorter text cannot.
  if (text.length <= limit) return false;
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (inString) {
      // A backslash escapes the next character (an escaped quote does not end the string).
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Renders one error answer in a surface's format: the body and its extra headers. */
export type ErrorRenderer = (
  status: number,
  message: string,
) => { readonly body: string; readonly headers?: Readonly<Record<string, string>> };

/** Why the HTTP parser refused a request, in words a client can act on, with a fitting status. */
export function describeParseError(error: NodeJS.ErrnoException): { status: number; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'The request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, message: 'The request was not received in time' };
    case 'HPE_INVALID_METHOD':
      return { status: 400, message: 'The request method is not a valid HTTP method' };
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
    case 'HPE_INVALID_CONTENT_LENGTH':
      return { status: 400, message: 'The request has an invalid or repeated Content-Length' };
    case 'HPE_INVALID_TRANSFER_ENCODING':
    case 'HPE_INVALID_CHUNK_SIZE':
      return { status: 400, message: 'The request body is not valid chunked encoding' };
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_CONSTANT':
      return { status: 400, message: 'The request has a malformed header' };
    default:
      return { status: 400, message: 'The request is not valid HTTP/1.1' };
  }
}

/**
 * The listeners' `clientErrorHandler`: a request the HTTP parser rejected never reaches a route,
 * so it is answered here, on the raw socket, in the surface's format, and the connection closed
 * (the parser cannot find where the next request would start).
 */
export function clientErrorHandler(
  render: ErrorRenderer,
  log: (error: Error, status: number) => void,
): (error: NodeJS.ErrnoException, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has no one left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, message } = describeParseError(error);
    log(error, status);
    if (socket.writable) {
      const { body, headers = {} } = render(status, message);
      const head = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        'Content-Type: application/json; charset=utf-8',
        `Content-Length: ${Buffer.byteLength(body)}`,
        'Connection: close',
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
    } else socket.destroy();
  };
}

/**
 * True when a JSON value holds U+0000 in a string or a key. PostgreSQL cannot store it in text
 * (SQLite can): refusing it at the door keeps both engines answering alike, with a 400 rather
 * than a database error. Recursion is bounded: bodies deeper than MAX_JSON_DEPTH never get here.
 */
export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (value === null || typeof value !== 'object') return false;
  // Loops rather than Object.entries + closures: it runs on every request's path parameters.
  if (Array.isArray(value)) {
    for (const item of value) if (containsNul(item)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (key.includes('\u0000') || containsNul((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** The refusal of a U+0000 in `where` (the body, the path). */
export const nulRefused = (where: string): AppError =>
  invalid(`${where} contains the NUL character (U+0000), which no field accepts`);

/** Timeouts and connection limit of a listener (Config['listeners']). */
export interface ListenerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

/**
 * Bounds what slow or idle clients can hold on a listener: time to send the headers, time to send
 * the whole request, time an idle keep-alive connection stays, and how many connections are open.
 * Set before `listen` (node starts its timeout checks then). A watch's answer is not bounded by
 * these: they cover receiving the request only.
 */
export function applyListenerLimits(server: Server, limits: ListenerLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  // Node requires the request timeout to be at least the headers timeout.
  server.requestTimeout = Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Node looks for expired requests on this interval (30 s by default, more than the timeouts
  // themselves): a quarter of the headers timeout keeps the limits close to their values.
  Object.assign(server, {
    connectionsCheckingInterval: Math.max(100, Math.floor(limits.headersTimeoutMs / 4)),
  });
}
