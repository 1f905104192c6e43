/**
 * The reconciler's Kubernetes calls to clusters this very process serves, without TLS, HTTP
 * framing or sockets: the same request (method, path with query, headers with the bearer token,
 * body) is carried to the clusters' own fastify instance and answered by the same code the HTTPS
 * listener runs (its router, hooks and handlers: `dispatchInto`), so authentication, routing,
 * validation, limits, errors and answers are those of the HTTPS path. From the reconciler thread
 * the request crosses a `MessagePort` (`LocalKubePort` on the thread's side, `serveLocalKube` on
 * the main thread's); a pass on the main thread calls the serving function directly.
 *
 * A call the serving side declines (under scale-out, a cluster another process owns) answers
 * `undefined`, and the client sends it over HTTPS as before (kube-client.ts). A call that is never
 * answered fails after `LOCAL_CALL_TIMEOUT_MS`, as an HTTPS call does after undici's headers
 * timeout; a channel that closes (the main side stopped) fails the calls in flight. Both are
 * network-level failures: 'transient' once translated (`translateKubeError`).
 * docs/reconciler-thread.md, docs/performance.md "Eighth round".
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MessagePort } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';
import { TEXT_ANSWER } from '../../http/local-answer.ts';
import { outbox } from '../outbox.ts';

/** One request, as an HTTP client would send it to the cluster's origin. */
export interface LocalKubeRequest {
  readonly method: string;
  /** The path on the origin, with its query. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

export interface LocalKubeAnswer {
  readonly status: number;
  /** Lower-case names; a repeated header's values joined with ', ' (as the HTTPS client gives them). */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body: as the handler wrote it when that was UTF-8 text (every JSON answer; a string
   * crosses a `MessagePort` as one copy of its characters, where bytes cost an `ArrayBuffer`'s
   * clone, a Node `Buffer`'s being its whole 8 KiB pool slab when small: docs/performance.md,
   * "Fifteenth round"), else bytes.
   */
  readonly body: Uint8Array | string;
}

/** Answers a request, or undefined when this process does not serve its cluster (HTTPS then). */
export type LocalKubeServe = (request: LocalKubeRequest) => Promise<LocalKubeAnswer | undefined>;

/** What `KubeClients` sends the calls of clusters whose server is at `origin` through. */
export interface LocalKube {
  /** The origin (`https://host:port`) of the clusters' API this process serves. */
  readonly origin: string;
  send: LocalKubeServe;
}

/**
 * How long a local call may stay unanswered: undici's headers timeout (300 s), what bounds the same
 * call over HTTPS.
 */
export const LOCAL_CALL_TIMEOUT_MS = 300_000;

/** Thrown for a call whose channel closed or that was never answered (a network-level failure). */
export class LocalKubeError extends Error {
  override readonly name = 'LocalKubeError';
}

/**
 * `serve` called directly (a pass on the main thread, the rollout view), its calls bounded as the
 * port's are: one with no answer after `timeoutMs` fails.
 */
export function directLocalKube(
  origin: string,
  serve: LocalKubeServe,
  timeoutMs = LOCAL_CALL_TIMEOUT_MS,
): LocalKube {
  return {
    origin,
    send: (request) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new LocalKubeError(`no answer within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
        timer.unref();
        serve(request)
          .then(resolve, reject)
          .finally(() => clearTimeout(timer));
      }),
  };
}

/**
 * A serving function over `app` that hands each request to its router (`app.routing`, what its
 * HTTPS server calls for a parsed request) with a request and an answer of this module's own,
 * made for one exchange in memory: `inject`'s (light-my-request) are node's `ServerResponse`, which
 * writes the status line and headers as text and parses them back, and a `Readable`: 2–3 times
 * the main thread's CPU and garbage per call (docs/performance.md, "Eighth round"). `serves(path)`
 * says whether this process serves the cluster the path names (scale-out); every request when
 * absent.
 */
export function dispatchInto(
  app: Pick<FastifyInstance, 'routing' | 'ready'>,
  serves?: (path: string) => Promise<boolean>,
): LocalKubeServe {
  /** Until the instance is ready (its routes registered); then not awaited on every call. */
  let ready: PromiseLike<unknown> | undefined;
  let isReady = false;
  return async (request) => {
    if (serves !== undefined && !(await serves(request.path))) return undefined;
    if (!isReady) {
      ready ??= app.ready();
      await ready;
      isReady = true;
    }
    return new Promise<LocalKubeAnswer>((resolve, reject) => {
      const incoming = new LocalIncoming(request);
      const outgoing = new LocalOutgoing(resolve, reject);
      app.routing(incoming as unknown as IncomingMessage, outgoing as unknown as ServerResponse);
    });
  };
}

/**
 * The connection a local request arrived on, as fastify and the handlers read it: loopback, as the
 * HTTPS client's (the address IP restrictions see), encrypted (the token came over no plain
 * socket), and no TLS server name (the path names the cluster). Listeners on it are not kept: it
 * never closes or times out. One per request (`Object.create`): what fastify sets on a socket
 * stays with its request.
 */
const LOCAL_SOCKET = Object.freeze({
  remoteAddress: '127.0.0.1',
  remoteFamily: 'IPv4',
  remotePort: 0,
  encrypted: true,
  on() {
    return this;
  },
  once() {
    return this;
  },
  removeListener() {
    return this;
  },
});

/** What fastify reads of node's `IncomingMessage`; the body is given whole on `resume`. */
class LocalIncoming extends EventEmitter {
  readonly method: string;
  url: string;
  originalUrl: string | undefined;
  readonly headers: Record<string, string>;
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly socket: typeof LOCAL_SOCKET = Object.create(LOCAL_SOCKET);
  readonly aborted = false;
  readonly complete = true;
  destroyed = false;
  readonly #body: Buffer | undefined;
  #resumed = false;

  constructor(request: LocalKubeRequest) {
    super();
    this.method = request.method;
    this.url = request.path;
    this.headers = { ...request.headers };
    if (request.body !== undefined) {
      const body = request.body;
      this.#body =
        typeof body === 'string'
          ? Buffer.from(body, 'utf8')
          : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      this.headers['content-length'] = String(this.#body.length);
    } else if (this.method !== 'GET' && this.method !== 'HEAD') {
      this.headers['content-length'] = '0';
    }
  }

  resume(): this {
    if (this.#resumed) return this;
    this.#resumed = true;
    process.nextTick(() => {
      if (this.#body !== undefined && this.#body.length > 0) this.emit('data', this.#body);
      this.emit('end');
    });
    return this;
  }

  pause(): this {
    return this;
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (error !== undefined) process.nextTick(() => this.emit('error', error));
    process.nextTick(() => this.emit('close'));
    return this;
  }
}

/**
 * What fastify uses of node's `ServerResponse`; `end` answers the status, headers and body. Marked
 * as keeping text (`TEXT_ANSWER`): handlers send it their JSON as text, not encoded for a socket.
 */
class LocalOutgoing extends EventEmitter {
  readonly [TEXT_ANSWER] = true;
  statusCode = 200;
  statusMessage = '';
  headersSent = false;
  writableEnded = false;
  finished = false;
  destroyed = false;
  readonly #headers: Record<string, string> = {};
  /** UTF-8 text as written, or bytes (a chunk in another encoding made bytes). */
  readonly #chunks: (string | Buffer)[] = [];
  #bytes = false;
  readonly #resolve: (answer: LocalKubeAnswer) => void;
  readonly #reject: (error: Error) => void;

  constructor(resolve: (answer: LocalKubeAnswer) => void, reject: (error: Error) => void) {
    super();
    this.#resolve = resolve;
    this.#reject = reject;
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    this.#headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    return this;
  }
  getHeader(name: string): string | undefined {
    return this.#headers[name.toLowerCase()];
  }
  getHeaders(): Record<string, string> {
    return { ...this.#headers };
  }
  getHeaderNames(): string[] {
    return Object.keys(this.#headers);
  }
  hasHeader(name: string): boolean {
    return name.toLowerCase() in this.#headers;
  }
  removeHeader(name: string): void {
    delete this.#headers[name.toLowerCase()];
  }

  writeHead(
    statusCode: number,
    message?: string | Record<string, number | string | readonly string[] | undefined>,
    headers?: Record<string, number | string | readonly string[] | undefined>,
  ): this {
    if (this.headersSent) {
      throw Object.assign(new Error('Cannot write headers after they are sent to the client'), {
        code: 'ERR_HTTP_HEADERS_SENT',
      });
    }
    this.statusCode = statusCode;
    if (typeof message === 'string') this.statusMessage = message;
    else headers = message;
    for (const [name, value] of Object.entries(headers ?? {}))
      if (value !== undefined) this.setHeader(name, value);
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array, encoding?: BufferEncoding | (() => void)): boolean {
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (typeof chunk === 'string') {
      const text = typeof encoding !== 'string' || encoding === 'utf8' || encoding === 'utf-8';
      if (!text) this.#bytes = true;
      this.#chunks.push(text ? chunk : Buffer.from(chunk, encoding));
    } else {
      this.#bytes = true;
      this.#chunks.push(
        Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
      );
    }
    return true;
  }

  end(chunk?: string | Uint8Array | null | (() => void), encoding?: BufferEncoding | null): this {
    if (this.writableEnded) return this;
    if (chunk !== undefined && chunk !== null && typeof chunk !== 'function') {
      this.write(chunk, encoding ?? undefined);
    }
    if (!this.headersSent) this.writeHead(this.statusCode);
    this.writableEnded = true;
    this.finished = true;
    this.#resolve({ status: this.statusCode, headers: this.#headers, body: this.#body() });
    this.emit('finish');
    process.nextTick(() => this.emit('close'));
    return this;
  }

  #body(): string | Buffer {
    const chunks = this.#chunks;
    if (!this.#bytes) return chunks.length === 1 ? (chunks[0] as string) : chunks.join('');
    return Buffer.concat(
      chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)),
    );
  }

  destroy(error?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    // An answer abandoned before its end is a connection reset to an HTTPS client.
    if (!this.writableEnded) this.#reject(error ?? new LocalKubeError('the answer was abandoned'));
    process.nextTick(() => this.emit('close'));
    return this;
  }
}

type FromClient = { readonly id: number } & LocalKubeRequest;
type ToClient =
  | { readonly id: number; readonly answer: LocalKubeAnswer | undefined }
  | { readonly id: number; readonly error: string };

/** The main thread's side of a channel: serves each request that comes through `port` with `serve`. */
export function serveLocalKube(port: MessagePort, serve: LocalKubeServe): void {
  const post = outbox<ToClient>(port);
  port.on('message', (requests: FromClient[]) => {
    for (const { id, ...request } of requests) {
      serve(request).then(
        (answer) => post({ id, answer }),
        (error: unknown) => post({ id, error: error instanceof Error ? error.message : String(error) }),
      );
    }
  });
  // The thread's end keeps the thread alive; this end must not keep the process alive.
  port.unref();
}

interface Pending {
  resolve(answer: LocalKubeAnswer | undefined): void;
  reject(error: Error): void;
  readonly deadline: number;
}

/** The reconciler thread's side of a channel: sends requests through `port`, one answer each. */
export class LocalKubePort implements LocalKube {
  readonly origin: string;
  readonly #port: MessagePort;
  readonly #post: (request: FromClient) => void;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: string | undefined;
  /** One timer for every call's deadline, running while calls are pending. */
  #sweeper: NodeJS.Timeout | undefined;

  constructor(port: MessagePort, origin: string, timeoutMs = LOCAL_CALL_TIMEOUT_MS) {
    this.origin = origin;
    this.#port = port;
    this.#timeoutMs = timeoutMs;
    this.#post = outbox<FromClient>(port);
    port.on('message', (answers: ToClient[]) => {
      for (const message of answers) {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) continue;
        this.#settled(message.id);
        if ('error' in message) pending.reject(new LocalKubeError(message.error));
        else pending.resolve(message.answer);
      }
    });
    port.once('close', () => this.close('the channel to the main thread closed'));
    port.unref();
  }

  send(request: LocalKubeRequest): Promise<LocalKubeAnswer | undefined> {
    if (this.#closed !== undefined) return Promise.reject(new LocalKubeError(this.#closed));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: Date.now() + this.#timeoutMs });
      if (this.#pending.size === 1) this.#port.ref();
      this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(1_000, this.#timeoutMs));
      this.#post({ id, ...request });
    });
  }

  /** Calls waiting for their answer (for the tests). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Fails every call in flight and every later one with `reason`. */
  close(reason = 'the channel to the main thread was closed'): void {
    this.#closed ??= reason;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#idle();
    this.#port.close();
    for (const call of pending) call.reject(new LocalKubeError(reason));
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#idle();
  }

  /** Nothing in flight: neither the port nor the timer keeps the thread alive. */
  #idle(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#port.unref();
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, call] of this.#pending) {
      if (call.deadline > now) continue;
      this.#settled(id);
      call.reject(new LocalKubeError(`no answer within ${this.#timeoutMs / 1000} s`));
    }
  }
}
