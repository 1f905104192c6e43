/**
 * The reconciler's Kubernetes calls to clusters this very process serves, without TLS, HTTP
 * framing or sockets: the same request (method, path with query, headers with the bearer token,
 * body) is carried to the clusters' own fastify instance and answered by the same code the HTTPS
 * listener runs (`fastify.inject`), so authentication, routing, validation, limits, errors and
 * answers are those of the HTTPS path. From the reconciler thread the request crosses a
 * `MessagePort` (`LocalKubePort` on the thread's side, `serveLocalKube` on the main thread's); a
 * pass on the main thread calls the serving function directly.
 *
 * A call the serving side declines (under scale-out, a cluster another process owns) answers
 * `undefined`, and the client sends it over HTTPS as before (kube-client.ts). A call that is never
 * answered fails after `LOCAL_CALL_TIMEOUT_MS`, as an HTTPS call does after undici's headers
 * timeout; a channel that closes (the main side stopped) fails the calls in flight. Both are
 * network-level failures: 'transient' once translated (`translateKubeError`).
 * docs/reconciler-thread.md, docs/performance.md "Eighth round".
 */
import type { MessagePort } from 'node:worker_threads';
import type { FastifyInstance } from 'fastify';

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
  readonly body: Uint8Array;
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
 * A serving function over `app` (the clusters' fastify instance): `serves(path)` says whether this
 * process serves the cluster the path names (scale-out); every request when absent.
 */
export function injectInto(
  app: Pick<FastifyInstance, 'inject'>,
  serves?: (path: string) => Promise<boolean>,
): LocalKubeServe {
  return async (request) => {
    if (serves !== undefined && !(await serves(request.path))) return undefined;
    const response = await app.inject({
      method: request.method as 'GET',
      url: request.path,
      headers: request.headers,
      ...(request.body === undefined ? {} : { payload: Buffer.from(request.body) }),
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
    return { status: response.statusCode, headers, body: response.rawPayload };
  };
}

type FromClient = { readonly id: number } & LocalKubeRequest;
type ToClient =
  | { readonly id: number; readonly answer: LocalKubeAnswer | undefined }
  | { readonly id: number; readonly error: string };

/**
 * Messages posted in one go: those queued within the same turn of the event loop's microtasks
 * leave as one message (a message costs its sender ≈ 5 µs and wakes the receiver; answers of a
 * group commit come together).
 */
function outbox<T>(port: MessagePort): (message: T) => void {
  let queued: T[] = [];
  const flush = () => {
    const messages = queued;
    queued = [];
    port.postMessage(messages);
  };
  return (message) => {
    if (queued.push(message) === 1) queueMicrotask(flush);
  };
}

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
