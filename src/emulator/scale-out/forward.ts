/**
 * Scale-out: hands a call for an emulated cluster to the process that owns it (ownership.ts) and
 * streams the answer back unchanged, watch streams included. Calls between mks processes go over
 * the owners' HTTPS Kubernetes API listeners (one keep-alive pool per owner), verified with the
 * installation's CA, and carry a header so that the owner serves them itself instead of
 * forwarding again.
 */
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const FORWARDED_HEADER = 'x-mks-forwarded';

/** Request headers that belong to one hop only. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'te',
  'trailer',
]);

/** The owner could not be reached (gone, or moving): the caller re-resolves the route. */
export class OwnerUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`mks process ${url} did not answer: ${(cause as Error).message}`, { cause });
  }
}

export class Forwarder {
  readonly #agent: https.Agent;

  /** `caPem`: the installation's CA; the system's trust store when undefined. */
  constructor(caPem: string | undefined) {
    this.#agent = new https.Agent({
      keepAlive: true,
      maxSockets: 256,
      ...(caPem === undefined ? {} : { ca: caPem }),
    });
  }

  /**
   * Sends `request` (its method, path, headers and already-read body, plus `extraHeaders`) to `ownerUrl` and pipes the
   * owner's answer into `reply`. Throws OwnerUnreachableError when no answer starts.
   */
  forward(
    request: FastifyRequest,
    reply: FastifyReply,
    ownerUrl: string,
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<FastifyReply> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    Object.assign(headers, extraHeaders);
    headers[FORWARDED_HEADER] = '1';
    // The Kubernetes API keeps bodies as bytes; the internal routes get parsed JSON.
    const body = Buffer.isBuffer(request.body)
      ? request.body
      : request.body === undefined || request.body === null
        ? undefined
        : Buffer.from(JSON.stringify(request.body));
    if (body !== undefined) headers['content-length'] = String(body.length);
    return new Promise((resolve, reject) => {
      const upstream = https.request(new URL(request.url, ownerUrl), {
        method: request.method,
        headers,
        agent: this.#agent,
      });
      upstream.on('error', (error) => reject(new OwnerUnreachableError(ownerUrl, error)));
      upstream.on('response', (response) => {
        // From here on the answer is the owner's: a broken stream just ends the client's.
        upstream.removeAllListeners('error');
        upstream.on('error', () => {});
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
        }
        // Written here, not through reply.send(stream): fastify sends a stream's headers with its
        // first byte, and a watch that has no event yet must still answer at once (its client
        // waits for the headers before it does anything else).
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(response.statusCode ?? 502, headers);
        raw.flushHeaders();
        response.pipe(raw);
        response.on('error', () => raw.destroy());
        // A client that goes away (watch cancelled) closes the owner's stream too.
        raw.on('close', () => upstream.destroy());
        resolve(reply);
      });
      upstream.end(body);
    });
  }

  /** A POST of JSON to another process (internal calls); resolves with the parsed answer. */
  post(ownerUrl: string, path: string, token: string, payload: unknown): Promise<unknown> {
    const body = Buffer.from(JSON.stringify(payload ?? {}));
    return new Promise((resolve, reject) => {
      const upstream = https.request(new URL(path, ownerUrl), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': String(body.length),
        },
        agent: this.#agent,
      });
      upstream.on('error', (error) => reject(new OwnerUnreachableError(ownerUrl, error)));
      upstream.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const code = response.statusCode ?? 502;
          if (code >= 200 && code < 300) {
            resolve(text === '' ? undefined : JSON.parse(text));
          } else {
            reject(new InternalCallError(code, text));
          }
        });
      });
      upstream.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** An internal call answered with an error status. */
export class InternalCallError extends Error {
  constructor(
    readonly statusCode: number,
    body: string,
  ) {
    super(`internal call failed with HTTP ${statusCode}: ${body.slice(0, 500)}`);
  }
}
