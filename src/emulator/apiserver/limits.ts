/**
 * The limits a real control plane puts on its Kubernetes API, held the same way by the emulated
 * clusters, and their answers to what no route sees (parser errors, undecodable URLs), as
 * Kubernetes `Status` objects:
 * - request bodies over 3 MiB: 413, kube-apiserver's text ("Request entity too large: limit is
 *   3145728": the apiserver allows twice etcd's limit, for JSON's overhead over protobuf);
 * - stored objects over 1.5 MiB (etcd's `--max-request-bytes`): 413 with etcd's text, as
 *   kube-apiserver relays it;
 * - a watch without `timeoutSeconds` ends after a server-chosen time in
 *   [min-request-timeout, 2 × min-request-timeout), as kube-apiserver's `--min-request-timeout`
 *   (1800 s by default) makes it, so clients reconnect and no stream is held forever;
 * - concurrent long-running requests (watches) per cluster are bounded: 429 with Retry-After,
 *   kube-apiserver's answer when its in-flight limit is reached.
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
} from 'fastify';
import { clientErrorHandler, jsonDepthExceeds } from '../../http/limits.ts';
import { mountedClusterId } from './kube-api.routes.ts';
import { jsonOf, type KubeObject, StatusError } from './objects.ts';

export interface KubeApiLimits {
  /** kube-apiserver's `--min-request-timeout`, in seconds. */
  readonly minRequestTimeoutSeconds: number;
  /** Watches one cluster may hold open at once (across all its clients). */
  readonly maxLongRunningPerCluster: number;
}

export const DEFAULT_KUBE_API_LIMITS: KubeApiLimits = Object.freeze({
  minRequestTimeoutSeconds: 1800,
  maxLongRunningPerCluster: 200,
});

/** kube-apiserver's request body limit (`MaxRequestBodyBytes`: 3 MiB). */
export const REQUEST_BODY_LIMIT = 3 * 1024 * 1024;
/** etcd's default request size limit: no stored object may be larger. */
export const OBJECT_SIZE_LIMIT = 1.5 * 1024 * 1024;
/**
 * Deepest JSON nesting a body may have. Real objects nest a few dozen levels at most (a CRD's
 * schema); deeper input is refused before any recursive walk (clone, patch) can exhaust the stack.
 */
export const MAX_BODY_DEPTH = 100;

/** Refuses an object etcd would refuse (kube-apiserver relays etcd's text with a 413). */
export function assertStorable(object: KubeObject): void {
  assertStorableText(jsonOf(object));
}

/** `assertStorable` of an object given as its stored text. */
export function assertStorableText(text: string): void {
  // A UTF-8 byte is at least one UTF-16 unit and at most three: skip the count when it is clear.
  if (text.length * 3 <= OBJECT_SIZE_LIMIT) return;
  if (Buffer.byteLength(text) > OBJECT_SIZE_LIMIT)
    throw new StatusError(
      413,
      'RequestEntityTooLarge',
      'Request entity too large: etcdserver: request is too large',
    );
}

/** How long a watch stays open: `timeoutSeconds` when given, else kube-apiserver's jittered choice. */
export function watchTimeoutMs(timeoutSeconds: string | undefined, limits: KubeApiLimits): number {
  const seconds = Number(timeoutSeconds);
  if (timeoutSeconds !== undefined && Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  return limits.minRequestTimeoutSeconds * (1 + Math.random()) * 1000;
}

const notFound = () => new StatusError(404, 'NotFound', 'the server could not find the requested resource');

function sendStatus(reply: FastifyReply, error: StatusError): FastifyReply {
  return reply.code(error.code).type('application/json').send(JSON.stringify(error.toStatus()));
}

/**
 * Fastify options for the clusters' Kubernetes API listener: requests the parser rejects and URLs
 * the router cannot take answer a `Status`, never fastify's own body.
 */
export function kubeProtocolOptions(
  log: (error: Error, status: number) => void,
): Pick<FastifyServerOptions, 'clientErrorHandler' | 'frameworkErrors' | 'routerOptions'> {
  return {
    clientErrorHandler: clientErrorHandler((status, message) => {
      const reason =
        status === 431 ? 'RequestHeaderFieldsTooLarge' : status === 408 ? 'Timeout' : 'BadRequest';
      return { body: JSON.stringify(new StatusError(status, reason, message).toStatus()) };
    }, log),
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendStatus(reply, notFound());
      return sendStatus(
        reply,
        new StatusError(
          400,
          'BadRequest',
          'the request URL is not valid: its percent-encoding does not decode',
        ),
      );
    },
    // Object names reach 253 characters; a cluster id is a UUID.
    routerOptions: { maxParamLength: 256 },
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Set by registerKubeApiLimits; absent on a bare emulator (the defaults hold). */
    kubeApiLimits?: KubeApiLimits;
  }
}

/**
 * Holds the limits on a Kubernetes API listener, before its routes are registered: body size and
 * depth, long-running requests per cluster, and `Status` answers for unknown routes.
 */
export function registerKubeApiLimits(app: FastifyInstance, limits: KubeApiLimits): void {
  app.decorate('kubeApiLimits', limits);
  const longRunning = new Map<string, number>();

  // Both hooks take fastify's `done` rather than returning a promise: they run on every call of
  // every cluster's API (the reconciler's among them), and a promise per hook is measurable there
  // (docs/performance.md, "Sixth round: the reconciler's calls, both ends").
  app.addHook('onRequest', (request, reply, done) => {
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > REQUEST_BODY_LIMIT) return done(tooLarge());
    const clusterId = mountedClusterId(request.url);
    if (clusterId === undefined || !isWatch(request)) return done();
    const open = longRunning.get(clusterId) ?? 0;
    if (open >= limits.maxLongRunningPerCluster) {
      void reply.header('Retry-After', '1');
      return done(new StatusError(429, 'TooManyRequests', 'Too many requests, please try again later.'));
    }
    longRunning.set(clusterId, open + 1);
    reply.raw.once('close', () => {
      const left = (longRunning.get(clusterId) ?? 1) - 1;
      if (left <= 0) longRunning.delete(clusterId);
      else longRunning.set(clusterId, left);
    });
    done();
  });

  app.addHook('preValidation', (request, _reply, done) => {
    const body = request.body;
    if (!Buffer.isBuffer(body)) return done();
    if (body.length > REQUEST_BODY_LIMIT) return done(tooLarge());
    if (jsonDepthExceeds(body, MAX_BODY_DEPTH))
      return done(
        new StatusError(
          400,
          'BadRequest',
          `the body of the request was in an unknown format: exceeded max depth of ${MAX_BODY_DEPTH}`,
        ),
      );
    done();
  });

  app.setNotFoundHandler((_request, reply) => sendStatus(reply, notFound()));
}

const tooLarge = () =>
  new StatusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${REQUEST_BODY_LIMIT}`);

function isWatch(request: FastifyRequest): boolean {
  const query = request.query as Record<string, unknown> | undefined;
  const watch = query?.watch;
  return watch === '1' || watch === 'true' || /^\/k8s\/[^/]+\/apis?\/(?:[^/?]+\/)*watch\//.test(request.url);
}

/** The fields read as strings before any validation: a client may send anything in them. */
const STRING_FIELDS: readonly (readonly [string, (object: Record<string, unknown>) => unknown])[] = [
  ['apiVersion', (o) => o.apiVersion],
  ['kind', (o) => o.kind],
  ['metadata.name', (o) => (o.metadata as Record<string, unknown> | undefined)?.name],
  ['metadata.generateName', (o) => (o.metadata as Record<string, unknown> | undefined)?.generateName],
  ['metadata.namespace', (o) => (o.metadata as Record<string, unknown> | undefined)?.namespace],
  ['metadata.resourceVersion', (o) => (o.metadata as Record<string, unknown> | undefined)?.resourceVersion],
];

/**
 * Refuses a body whose type or object fields are not strings, as kube-apiserver's decoder does
 * (400, Go's unmarshal text), before any code uses them as strings (`{"toString": null}` throws
 * when made a string: that was a 500).
 */
export function assertStringFields(object: Record<string, unknown>): void {
  for (const [field, read] of STRING_FIELDS) {
    const value = read(object);
    if (value !== undefined && value !== null && typeof value !== 'string') {
      const type = Array.isArray(value) ? 'array' : typeof value === 'object' ? 'object' : typeof value;
      throw new StatusError(
        400,
        'BadRequest',
        `json: cannot unmarshal ${type === 'boolean' ? 'bool' : type} into Go struct field of type string (${field})`,
      );
    }
  }
}
