/**
 * The Kubernetes API of every emulated cluster, mounted at `/k8s/:clusterId/…` and reached at the
 * root of the listener through the cluster's TLS server name or token (`routeToCluster`): authenticates,
 * forwards to the owning process (scale-out), then dispatches discovery (discovery.ts), watch
 * (watch.ts), PATCH (patch-request.ts) and the other verbs on the cluster's object store.
 * Errors are `Status` objects, as a real API server sends.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../../db/database.ts';
import { keepsText } from '../../http/local-answer.ts';
import { AGGREGATED_DISCOVERY_TYPE, aggregatedDiscovery, discover, openApi } from './discovery.ts';
import { listJson, listResponse, select } from './lists.ts';
import type { ObjectStore, Watcher } from './object-store.ts';
import {
  badRequestError,
  isObject,
  type JsonObject,
  jsonOf,
  type KubeObject,
  StatusError,
} from './objects.ts';
import { patchObject } from './patch-request.ts';
import {
  deleteOptions,
  dryRun,
  flattenQuery,
  JSON_TYPE,
  manager,
  methodNotAllowed,
  notFoundPath,
  objectBody,
  type Query,
  resolveTarget,
} from './request.ts';
import { apiVersionOf, RESOURCE, RESOURCES, type ResourceType } from './resources.ts';
import { answerVirtual } from './reviews.ts';
import { scaleRequest } from './scale.ts';
import { toTable, wantsTable } from './tables.ts';
import { startWatch } from './watch.ts';

export interface KubeApiDeps {
  /**
   * What the caller may do: `allowed`, `unauthorized` (a bad token: 401) or `forbidden` (a good
   * token from an address the cluster's IP restrictions do not allow: 403).
   */
  authorize(
    clusterId: string,
    token: string,
    clientIp: string,
  ): Promise<'allowed' | 'unauthorized' | 'forbidden'>;
  /** The caller's address (scale-out: the one the forwarding process vouches for); `request.ip` otherwise. */
  clientIp?(request: FastifyRequest): string;
  cluster(clusterId: string): Promise<ObjectStore | undefined>;
  /** Brings in the objects the cluster's load left in the store (its Events: `Emulator.loadDeferred`). */
  loadDeferred(cluster: ObjectStore): Promise<void>;
  /**
   * Scale-out: sends the call to the process that owns the cluster and returns its reply;
   * undefined when this process serves the cluster.
   */
  forward?(
    clusterId: string,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined>;
  /** Resolves when every change made so far is durable. */
  flush(): Promise<void>;
  now(): Date;
  /** Open watch streams, closed on shutdown. */
  readonly watches: Set<Watcher>;
}

const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

const BODY_LIMIT = 16 * 1024 * 1024;

/** Where every cluster's API is mounted; a request reached by server name is routed under it. */
const MOUNT = '/k8s/';
const MOUNTED = /^\/k8s\/([^/?]+)/;

/** The cluster a path under the mount names (`/k8s/<id>…`), as written (percent-encoded); else undefined. */
export function mountedClusterId(path: string): string | undefined {
  return MOUNTED.exec(path)?.[1];
}

/**
 * The listener's `rewriteUrl`: a request on a TLS connection whose server name designates a
 * cluster (`clusters.byServerName`) is routed to that cluster's mount, so the cluster is served at
 * the root of its own server URL (what kubeconfigs name, with `tls-server-name`). Without such a
 * name, a request outside every mount goes to the cluster its bearer token names
 * (`clusters.byToken`; the token is still checked against that cluster), for clients given only
 * the host and the token. A request already under the cluster's mount (an OpenAPI index from
 * another process, see `basePath`) and any other request keep their URL: `https://host:port/k8s/<id>`
 * keeps working.
 */
export function routeToCluster(clusters: {
  byServerName(serverName: string): string | undefined;
  byToken(token: string): string | undefined;
}): (request: IncomingMessage) => string {
  return (request) => {
    const url = request.url ?? '/';
    const serverName = (request.socket as Partial<TLSSocket>).servername;
    let clusterId = typeof serverName === 'string' ? clusters.byServerName(serverName) : undefined;
    if (clusterId === undefined && !url.startsWith(MOUNT)) {
      const token = bearerToken(request.headers.authorization);
      clusterId = token === undefined ? undefined : clusters.byToken(token);
    }
    if (clusterId === undefined) return url;
    const mount = `${MOUNT}${encodeURIComponent(clusterId)}`;
    if (url === mount || url.startsWith(`${mount}/`) || url.startsWith(`${mount}?`)) return url;
    return `${mount}${url.startsWith('/') ? '' : '/'}${url}`;
  };
}

/** The discovery paths client-go reads raw, whose error bodies it shows only when they are text. */
const RAW_PATHS = new Set(['api', 'apis', 'version']);

/** A path segment that is there (module-level: docs/performance.md, "Fourteenth round"). */
const nonEmpty = (segment: string): boolean => segment !== '';

const readRaw = (path: string | undefined): boolean => RAW_PATHS.has((path ?? '').replace(/^\/+|\/+$/g, ''));

const bearerToken = (authorization: string | undefined): string | undefined =>
  /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();

/** The path the client sees the cluster under: `/k8s/<id>`, or '' when reached by server name. */
function basePath(request: FastifyRequest, clusterId: string): string {
  const mount = `${MOUNT}${encodeURIComponent(clusterId)}`;
  return request.originalUrl === mount || request.originalUrl.startsWith(`${mount}/`) ? mount : '';
}

export async function registerKubeApi(app: FastifyInstance, deps: KubeApiDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
      done(null, body);
    });
    scope.setErrorHandler((error, request, reply) => {
      // The store cannot be reached (an outage): clients retry, as with kube-apiserver's etcd down.
      if (isDatabaseUnavailable(error)) void reply.header('Retry-After', '1');
      const status =
        error instanceof StatusError
          ? error
          : isDatabaseUnavailable(error)
            ? new StatusError(
                503,
                'ServiceUnavailable',
                'the cluster state cannot be reached right now; retry shortly',
              )
            : new StatusError(
                (error as { statusCode?: number }).statusCode ?? 500,
                (error as { statusCode?: number }).statusCode === 413
                  ? 'RequestEntityTooLarge'
                  : 'InternalError',
                (error as Error).message,
              );
      // The request's logger: the line carries its id (reqId).
      if (status.code >= 500) request.log.error({ err: error }, 'Emulated Kubernetes API failed');
      void reply.code(status.code).type(JSON_TYPE).send(JSON.stringify(status.toStatus()));
    });
    scope.addHook('preClose', async () => {
      for (const watch of deps.watches) watch.close();
    });
    // The main app's hooks read `config.auth`: this API authenticates with bearer tokens itself.
    const config = { auth: 'none' as const };
    const handler = (request: FastifyRequest, reply: FastifyReply) => handle(request, reply, deps);
    scope.all('/k8s/:clusterId', { config }, handler);
    scope.all('/k8s/:clusterId/*', { config }, handler);
  });
}

function send(reply: FastifyReply, code: number, body: unknown): FastifyReply {
  return sendText(reply, code, JSON.stringify(body));
}

/** The media type of the JSON answers, as fastify completes `application/json` for a text body. */
const JSON_ANSWER_TYPE = `${JSON_TYPE}; charset=utf-8`;

/**
 * A JSON body as kube-apiserver's encoder writes it: the text, then a newline. Sent as the bytes,
 * encoded once into a buffer of their size: the text with its newline appended would be a new
 * string made flat twice more (for its length, then again behind the headers when written), each
 * a copy of the answer on the heap, on every call (docs/performance.md, "Sixth round"). Served in
 * memory (the reconciler's calls: `keepsText`), the text is sent as it is: it crosses to the
 * caller's thread as one copy of its characters, where bytes cross as a clone of their buffer and
 * are decoded again there ("Twenty-ninth round").
 */
function sendText(reply: FastifyReply, code: number, text: string): FastifyReply {
  reply.code(code).header('content-type', JSON_ANSWER_TYPE);
  if (keepsText(reply.raw)) return reply.send(`${text}\n`);
  const length = Buffer.byteLength(text);
  const body = Buffer.allocUnsafe(length + 1);
  body.write(text, 0, length, 'utf8');
  body[length] = 0x0a;
  return reply.send(body);
}

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: KubeApiDeps,
): Promise<FastifyReply> {
  const params = request.params as { clusterId: string; '*'?: string };
  const token = bearerToken(request.headers.authorization);
  const clientIp = deps.clientIp?.(request) ?? request.ip;
  if (token === undefined) throw new StatusError(401, 'Unauthorized', 'Unauthorized');
  const verdict = await deps.authorize(params.clusterId, token, clientIp);
  if (verdict === 'unauthorized') throw new StatusError(401, 'Unauthorized', 'Unauthorized');
  if (verdict === 'forbidden') {
    const refusal = new StatusError(
      403,
      'Forbidden',
      `forbidden: ${clientIp} is not allowed by the cluster's IP restrictions (GET /cloud/project/{serviceName}/kube/${params.clusterId}/ipRestrictions)`,
    );
    if (!readRaw(params['*'])) throw refusal;
    // client-go reads /api, /apis and /version raw (`Result.Raw()`): it shows an error body only when
    // it is text, and a JSON Status as "unknown". kubectl starts with these, so they say it in text.
    return reply.code(403).type('text/plain; charset=utf-8').send(`${refusal.message}\n`);
  }
  const forwarded = await deps.forward?.(params.clusterId, request, reply);
  if (forwarded !== undefined) return forwarded;
  const cluster = await deps.cluster(params.clusterId);
  if (cluster === undefined) {
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
  const segments = (params['*'] ?? '').split('/').filter(nonEmpty);
  const query = flattenQuery(request.query);
  const method = request.method;

  const aggregated = method === 'GET' ? aggregatedDiscovery(segments, request) : undefined;
  if (aggregated !== undefined) {
    // As kube-apiserver writes it (a Buffer: fastify adds nothing to the media type).
    return reply
      .code(200)
      .header('content-type', AGGREGATED_DISCOVERY_TYPE)
      .send(Buffer.from(`${JSON.stringify(aggregated)}\n`));
  }
  const discovery =
    discover(segments, cluster, request) ?? openApi(segments, basePath(request, params.clusterId), request);
  if (discovery !== undefined) {
    if (method !== 'GET' && method !== 'HEAD')
      throw new StatusError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    // kube-apiserver indents /version (and only it).
    if (segments.length === 1 && segments[0] === 'version')
      return reply
        .code(200)
        .type(JSON_TYPE)
        .send(JSON.stringify(discovery, null, 2));
    return send(reply, 200, discovery);
  }

  const target = resolveTarget(segments);
  const watch = target.watchPrefix || query.watch === '1' || query.watch === 'true';
  const { resource, namespace, name, subresource } = target;
  if (cluster.hasDeferred && readsDeferred(cluster, method, resource)) await deps.loadDeferred(cluster);
  if (subresource === 'log' && resource === RESOURCE.pods && name !== undefined && !watch) {
    if (method !== 'GET') throw methodNotAllowed();
    const pod = cluster.mustGet(resource, namespace ?? '', name);
    return reply
      .code(200)
      .type('text/plain')
      .send(containerLog(cluster, pod, query));
  }
  if (subresource === 'scale' && resource.hasScale && name !== undefined && !watch) {
    const scale = scaleRequest(request, cluster, resource, namespace ?? '', name, query);
    await deps.flush();
    return send(reply, 200, scale);
  }
  if (subresource !== undefined && subresource !== 'status') throw notFoundPath();
  if (!resource.verbs.includes(verbOf(method, name, watch))) throw methodNotAllowed();
  if (resource.virtual) {
    const body = objectBody(request, resource);
    const answer = await answerVirtual(resource, body, {
      cluster,
      namespace,
      tokenAccepted: async (other) => (await deps.authorize(params.clusterId, other, clientIp)) === 'allowed',
    });
    await deps.flush();
    return send(reply, 201, answer);
  }

  switch (method) {
    case 'GET':
      if (name === undefined || watch) {
        if (watch) {
          return startWatch(request, reply, deps, cluster, target, query, async () => {
            return (await deps.authorize(params.clusterId, token, clientIp)) === 'allowed';
          });
        }
        if (!wantsTable(request.headers.accept)) {
          return sendText(
            reply,
            200,
            listJson(cluster, resource, select(cluster, resource, namespace, query)),
          );
        }
        return send(reply, 200, listResponse(request, deps, cluster, resource, namespace, query));
      }
      if (!wantsTable(request.headers.accept)) {
        return sendText(reply, 200, jsonOf(cluster.mustGet(resource, namespace ?? '', name)));
      }
      return send(
        reply,
        200,
        render(request, deps, cluster, resource, cluster.mustGet(resource, namespace ?? '', name)),
      );
    case 'POST': {
      if (name !== undefined) throw methodNotAllowed();
      const body = objectBody(request, resource);
      if (resource.namespaced) {
        if (body.metadata.namespace !== undefined && body.metadata.namespace !== namespace) {
          throw badRequestError(
            'the namespace of the provided object does not match the namespace sent on the request',
          );
        }
        body.metadata.namespace = namespace;
      }
      const created = cluster.create(resource, body, {
        manager: manager(request, query),
        dryRun: dryRun(query),
      });
      await deps.flush();
      return sendText(reply, 201, jsonOf(created));
    }
    case 'PUT': {
      if (name === undefined) throw methodNotAllowed();
      const body = objectBody(request, resource);
      if (body.metadata.name !== name) {
        throw badRequestError(
          `the name of the object (${body.metadata.name ?? ''}) does not match the name on the URL (${name})`,
        );
      }
      if (resource.namespaced) body.metadata.namespace = namespace;
      const updated = cluster.update(resource, body, {
        manager: manager(request, query),
        dryRun: dryRun(query),
        ...(subresource === 'status' ? { subresource: 'status' as const } : {}),
      });
      await deps.flush();
      return sendText(reply, 200, jsonOf(updated));
    }
    case 'PATCH': {
      if (name === undefined) throw methodNotAllowed();
      const { object, created } = patchObject(request, deps, cluster, target, query);
      await deps.flush();
      return sendText(reply, created ? 201 : 200, jsonOf(object));
    }
    case 'DELETE': {
      const options = deleteOptions(request);
      if (name === undefined) {
        const items = select(cluster, resource, namespace, query);
        for (const item of items)
          remove(cluster, resource, item.metadata.namespace ?? '', item.metadata.name ?? '', dryRun(query));
        await deps.flush();
        return send(reply, 200, {
          kind: `${resource.kind}List`,
          apiVersion: apiVersionOf(resource),
          metadata: { resourceVersion: cluster.resourceVersion },
          items,
        });
      }
      const uid = isObject(options.preconditions) ? options.preconditions.uid : undefined;
      const grace = query.gracePeriodSeconds ?? options.gracePeriodSeconds;
      const deleted = remove(
        cluster,
        resource,
        namespace ?? '',
        name,
        dryRun(query),
        typeof uid === 'string' ? uid : undefined,
        grace === undefined || grace === null || Number.isNaN(Number(grace)) ? undefined : Number(grace),
      );
      await deps.flush();
      return send(reply, 200, deleted);
    }
    default:
      throw methodNotAllowed();
  }
}

/** The verb of a request, as discovery lists verbs (`list`, `watch`, `deletecollection`…). */
function verbOf(method: string, name: string | undefined, watch: boolean): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      return watch ? 'watch' : name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return name === undefined ? 'deletecollection' : 'delete';
    default:
      return method.toLowerCase();
  }
}

/**
 * `pods/<name>/log`: what the pod's container printed in its last run (the kubelet keeps it;
 * only kube-proxy containers print anything), `tailLines` honoured.
 */
function containerLog(cluster: ObjectStore, pod: KubeObject, query: Query): string {
  const containers = (((pod.spec ?? {}) as JsonObject).containers ?? []) as JsonObject[];
  const container = query.container ?? String(containers[0]?.name ?? '');
  if (!containers.some((c) => c.name === container)) {
    throw badRequestError(`container ${container} is not valid for pod ${pod.metadata.name ?? ''}`);
  }
  const log = cluster.containerLogs.get(pod.metadata.uid ?? '');
  if (log === undefined && ((pod.status ?? {}) as JsonObject).phase !== 'Running') {
    throw badRequestError(
      `container "${container}" in pod "${pod.metadata.name ?? ''}" is waiting to start: ContainerCreating`,
    );
  }
  const lines = (log ?? '').split('\n').slice(0, -1);
  const tail = Number(query.tailLines);
  const kept =
    query.tailLines !== undefined && Number.isInteger(tail) && tail >= 0
      ? lines.slice(lines.length - tail)
      : lines;
  return kept.map((line) => `${line}\n`).join('');
}

function render(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ObjectStore,
  resource: ResourceType,
  object: KubeObject,
): unknown {
  if (wantsTable(request.headers.accept)) {
    return toTable(
      resource,
      [object],
      cluster.resourceVersion,
      deps.now(),
      flattenQuery(request.query).includeObject,
    );
  }
  return object;
}

/**
 * Whether a call reads objects the cluster's load left in the store (`ObjectStore.defer`): any call
 * on their resource but a create (mks's own Events: `create` finds a name the store holds taken
 * without reading it), and a namespace's deletion, which deletes what the namespace holds.
 */
function readsDeferred(cluster: ObjectStore, method: string, resource: ResourceType): boolean {
  if (resource === RESOURCE.namespaces) return method === 'DELETE';
  return method !== 'POST' && cluster.isDeferred(resource);
}

function remove(
  cluster: ObjectStore,
  resource: ResourceType,
  namespace: string,
  name: string,
  isDryRun: boolean,
  uid?: string,
  gracePeriodSeconds?: number,
): KubeObject {
  if (resource === RESOURCE.namespaces) {
    if (PROTECTED_NAMESPACES.has(name)) {
      throw new StatusError(
        403,
        'Forbidden',
        `namespaces "${name}" is forbidden: this namespace may not be deleted`,
        { name, kind: 'namespaces' },
      );
    }
    cluster.mustGet(resource, '', name);
    if (!isDryRun) {
      for (const type of RESOURCES.filter((r) => r.namespaced)) {
        for (const item of cluster.list(type, name)) cluster.delete(type, name, item.metadata.name ?? '');
      }
    }
  }
  return cluster.delete(resource, namespace, name, {
    dryRun: isDryRun,
    graceful: true,
    ...(uid === undefined ? {} : { uid }),
    ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
  });
}
