/**
 * The Kubernetes API of every emulated cluster, mounted at `/k8s/:clusterId/…`: discovery, CRUD,
 * list with selectors, watch streams, the four PATCH content types, server-side apply, and
 * server-side printing for kubectl. Errors are `Status` objects, as a real API server sends.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { isDatabaseUnavailable } from '../db/database.ts';
import type { ChangeEvent, ClusterState, Watcher } from './cluster-state.ts';
import { assertStringFields, DEFAULT_KUBE_API_LIMITS, watchTimeoutMs } from './limits.ts';
import {
  badRequestError,
  clone,
  isObject,
  itemJsonOf,
  type Json,
  type JsonObject,
  jsonOf,
  type KubeObject,
  notFoundError,
  parseFieldSelector,
  parseLabelSelector,
  rfc3339,
  StatusError,
} from './objects.ts';
import {
  groupVersionOfOpenApiPath,
  openApiV2Document,
  openApiV3Document,
  openApiV3Index,
} from './openapi.ts';
import { jsonPatch, mergePatch, serverSideApply, strategicMergePatch } from './patch.ts';
import { decodeKubeProtobuf, PROTOBUF_TYPE, ProtobufError } from './protobuf.ts';
import {
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersionOf,
  apiVersions,
  findResource,
  R,
  RESOURCES,
  type ResourceType,
} from './resources.ts';
import { toTable, wantsTable } from './tables.ts';

export interface KubeApiDeps {
  authorize(clusterId: string, token: string): Promise<boolean>;
  cluster(clusterId: string): Promise<ClusterState | undefined>;
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

const JSON_TYPE = 'application/json';
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);
const BODY_LIMIT = 16 * 1024 * 1024;

type Query = Record<string, string | undefined>;

interface Target {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  watchPrefix: boolean;
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
  return reply.code(code).type(JSON_TYPE).send(JSON.stringify(body));
}

function sendText(reply: FastifyReply, code: number, text: string): FastifyReply {
  return reply.code(code).type(JSON_TYPE).send(text);
}

/** `JSON.stringify` of the list `listResponse` answers (not a table), from the items' kept text. */
function listJson(cluster: ClusterState, resource: ResourceType, items: readonly KubeObject[]): string {
  const head = JSON.stringify({
    kind: `${resource.kind}List`,
    apiVersion: apiVersionOf(resource),
    metadata: { resourceVersion: cluster.resourceVersion },
  });
  return `${head.slice(0, -1)},"items":[${items.map(itemJsonOf).join(',')}]}`;
}

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: KubeApiDeps,
): Promise<FastifyReply> {
  const params = request.params as { clusterId: string; '*'?: string };
  const authorization = request.headers.authorization ?? '';
  const token = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
  if (token === undefined || !(await deps.authorize(params.clusterId, token))) {
    throw new StatusError(401, 'Unauthorized', 'Unauthorized');
  }
  const forwarded = await deps.forward?.(params.clusterId, request, reply);
  if (forwarded !== undefined) return forwarded;
  const cluster = await deps.cluster(params.clusterId);
  if (cluster === undefined) {
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }
  const segments = (params['*'] ?? '').split('/').filter((s) => s !== '');
  const query = flattenQuery(request.query);
  const method = request.method;

  const discovery = discover(segments, cluster, request) ?? openApi(segments, params.clusterId, request);
  if (discovery !== undefined) {
    if (method !== 'GET' && method !== 'HEAD')
      throw new StatusError(
        405,
        'MethodNotAllowed',
        'the server does not allow this method on the requested resource',
      );
    return send(reply, 200, discovery);
  }

  const target = resolveTarget(segments);
  const watch = target.watchPrefix || query.watch === '1' || query.watch === 'true';
  const { resource, namespace, name, subresource } = target;
  if (subresource !== undefined && subresource !== 'status') throw notFoundPath();

  switch (method) {
    case 'GET':
      if (name === undefined || watch) {
        if (watch) return startWatch(request, reply, deps, cluster, target, query);
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
      const { object, created } = patch(request, deps, cluster, target, query);
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
      const deleted = remove(
        cluster,
        resource,
        namespace ?? '',
        name,
        dryRun(query),
        typeof uid === 'string' ? uid : undefined,
      );
      await deps.flush();
      return send(reply, 200, deleted);
    }
    default:
      throw methodNotAllowed();
  }
}

const notFoundPath = () =>
  new StatusError(404, 'NotFound', 'the server could not find the requested resource');
const methodNotAllowed = () =>
  new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

function flattenQuery(raw: unknown): Query {
  const out: Query = {};
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    out[key] = Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
  }
  return out;
}

function discover(segments: string[], cluster: ClusterState, request: FastifyRequest): unknown {
  const path = segments.join('/');
  switch (path) {
    case '':
      return {
        paths: [
          '/api',
          '/api/v1',
          '/apis',
          '/apis/apps',
          '/apis/apps/v1',
          '/healthz',
          '/livez',
          '/openapi/v2',
          '/openapi/v3',
          '/readyz',
          '/version',
        ],
      };
    case 'version': {
      const version = /^\d+\.\d+$/.test(cluster.meta.version)
        ? `${cluster.meta.version}.0`
        : cluster.meta.version;
      const [major, minor] = version.split('.');
      return {
        major,
        minor,
        gitVersion: `v${version}`,
        gitCommit: '0000000000000000000000000000000000000000',
        gitTreeState: 'clean',
        buildDate: '2025-01-01T00:00:00Z',
        goVersion: 'go1.23.4',
        compiler: 'gc',
        platform: 'linux/amd64',
      };
    }
    case 'api':
      return apiVersions(request.headers.host ?? '127.0.0.1');
    case 'api/v1':
      return apiResourceList('v1');
    case 'apis':
      return apiGroupList();
    case 'apis/apps':
      return apiGroup('apps');
    case 'apis/apps/v1':
      return apiResourceList('apps/v1');
    default:
      return undefined;
  }
}

/**
 * `/openapi/v3` (index and group versions, JSON) and `/openapi/v2` (JSON only: a client asking only
 * for the protobuf encoding gets 406; kubectl ≥ 1.27 uses v3 and only falls back to v2 without it).
 */
function openApi(segments: string[], clusterId: string, request: FastifyRequest): unknown {
  if (segments[0] !== 'openapi') return undefined;
  const path = segments.slice(2).join('/');
  if (segments[1] === 'v3') {
    if (path === '') return openApiV3Index(`/k8s/${encodeURIComponent(clusterId)}`);
    const groupVersion = groupVersionOfOpenApiPath(path);
    const document = groupVersion === undefined ? undefined : openApiV3Document(groupVersion);
    if (document === undefined) throw notFoundPath();
    return document;
  }
  if (segments[1] === 'v2' && path === '') {
    const accept = request.headers.accept ?? '*/*';
    if (!/application\/json|\*\/\*/.test(accept)) {
      throw new StatusError(
        406,
        'NotAcceptable',
        `only the following media types are accepted: ${JSON_TYPE}`,
      );
    }
    return openApiV2Document();
  }
  return undefined;
}

function resolveTarget(segments: string[]): Target {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    group = '';
    version = 'v1';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else {
    throw notFoundPath();
  }
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  let resourceName: string | undefined;
  let name: string | undefined;
  let subresource: string | undefined;
  if (
    rest[0] === 'namespaces' &&
    rest.length >= 3 &&
    !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))
  ) {
    [, namespace, resourceName, name, subresource] = rest;
    if (rest.length > 5) throw notFoundPath();
  } else {
    [resourceName, name, subresource] = rest;
    if (rest.length > 3) throw notFoundPath();
  }
  const resource = resourceName === undefined ? undefined : findResource(group, version, resourceName);
  if (resource === undefined) throw notFoundPath();
  if (!resource.namespaced && namespace !== undefined) throw notFoundPath();
  if (resource.namespaced && namespace === undefined && name !== undefined) throw notFoundPath();
  return { resource, namespace, name, subresource, watchPrefix };
}

function readBody(request: FastifyRequest): { text: string; type: string } {
  const body = request.body;
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : typeof body === 'string' ? body : '';
  const type = (request.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  return { text, type };
}

/** A `application/vnd.kubernetes.protobuf` body (client-go ≥ 1.32 typed clients) as JSON. */
function protobufBody(request: FastifyRequest): JsonObject {
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (body.length === 0) throw badRequestError('the request body is empty');
  try {
    return decodeKubeProtobuf(body);
  } catch (error) {
    if (!(error instanceof ProtobufError)) throw error;
    if (error.unsupportedKind) throw new StatusError(415, 'UnsupportedMediaType', error.message);
    throw badRequestError(`the body of the request was in an unknown format: ${error.message}`);
  }
}

function parseBody(request: FastifyRequest): Json {
  const { text, type } = readBody(request);
  if (type === PROTOBUF_TYPE) return protobufBody(request);
  if (text.trim() === '') throw badRequestError('the request body is empty');
  try {
    if (!type.includes('yaml')) return JSON.parse(text) as Json;
    // Clients send apply patches (application/apply-patch+yaml) as JSON, which is YAML too: read
    // them as JSON, at a fraction of the YAML parser's cost.
    const json = /^\s*\{/.test(text) ? parseJsonOrUndefined(text) : undefined;
    // Through JSON text: a YAML alias can make a cycle (`a: &a [*a]`), which no object may hold.
    return (json ?? JSON.parse(JSON.stringify(parseYaml(text)) ?? 'null')) as Json;
  } catch (error) {
    throw badRequestError(`the body of the request was in an unknown format: ${(error as Error).message}`);
  }
}

function parseJsonOrUndefined(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function objectBody(request: FastifyRequest, resource: ResourceType): KubeObject {
  const body = parseBody(request);
  if (!isObject(body)) throw badRequestError('the body of the request must be an object');
  assertStringFields(body);
  const object = body as unknown as KubeObject;
  object.apiVersion ??= apiVersionOf(resource);
  object.kind ??= resource.kind;
  if (object.kind !== resource.kind || object.apiVersion !== apiVersionOf(resource)) {
    throw badRequestError(
      `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersionOf(resource)})`,
    );
  }
  if (!isObject(object.metadata)) object.metadata = {};
  return object;
}

function deleteOptions(request: FastifyRequest): JsonObject {
  const { text, type } = readBody(request);
  if (text.trim() === '') return {};
  if (type === PROTOBUF_TYPE) return protobufBody(request);
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function manager(request: FastifyRequest, query: Query): string {
  if (query.fieldManager !== undefined && query.fieldManager !== '') return query.fieldManager;
  const agent = request.headers['user-agent'] ?? 'unknown';
  return agent.split('/')[0]!.slice(0, 128) || 'unknown';
}

const dryRun = (query: Query): boolean => query.dryRun === 'All';

function select(
  cluster: ClusterState,
  resource: ResourceType,
  namespace: string | undefined,
  query: Query,
): KubeObject[] {
  const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
  const fields = query.fieldSelector ? parseFieldSelector(query.fieldSelector) : undefined;
  return cluster
    .list(resource, namespace)
    .filter(
      (o) => (labels === undefined || labels(o.metadata.labels)) && (fields === undefined || fields(o)),
    );
}

function render(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ClusterState,
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

function listResponse(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ClusterState,
  resource: ResourceType,
  namespace: string | undefined,
  query: Query,
): unknown {
  const items = select(cluster, resource, namespace, query);
  if (wantsTable(request.headers.accept))
    return toTable(resource, items, cluster.resourceVersion, deps.now(), query.includeObject);
  return {
    kind: `${resource.kind}List`,
    apiVersion: apiVersionOf(resource),
    metadata: { resourceVersion: cluster.resourceVersion },
    // Items of a list carry no apiVersion/kind on a real server.
    items: items.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
  };
}

function remove(
  cluster: ClusterState,
  resource: ResourceType,
  namespace: string,
  name: string,
  isDryRun: boolean,
  uid?: string,
): KubeObject {
  if (resource === R.namespaces) {
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
    ...(uid === undefined ? {} : { uid }),
  });
}

function patch(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ClusterState,
  target: Target,
  query: Query,
): { object: KubeObject; created: boolean } {
  const { resource, name } = target;
  const namespace = resource.namespaced ? (target.namespace ?? '') : '';
  const { type } = readBody(request);
  const body = parseBody(request);
  const current = cluster.get(resource, namespace, name ?? '');
  const subresource = target.subresource === 'status' ? ('status' as const) : undefined;
  const time = rfc3339(deps.now());

  if (type === 'application/apply-patch+yaml') {
    const fieldManager = query.fieldManager;
    if (fieldManager === undefined || fieldManager === '') {
      throw new StatusError(
        422,
        'Invalid',
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    if (!isObject(body)) throw badRequestError('apply patch must be an object');
    assertStringFields(body);
    const applied = clone(body);
    const metadata = isObject(applied.metadata) ? applied.metadata : {};
    applied.metadata = metadata;
    if (applied.kind !== resource.kind || applied.apiVersion !== apiVersionOf(resource)) {
      throw badRequestError(
        `the API version in the data (${String(applied.apiVersion)}) does not match the expected API version (${apiVersionOf(resource)})`,
      );
    }
    if (metadata.name !== undefined && metadata.name !== name) {
      throw badRequestError(
        `the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`,
      );
    }
    metadata.name = name ?? '';
    if (resource.namespaced) metadata.namespace = namespace;
    const expected = metadata.resourceVersion;
    delete metadata.resourceVersion;
    const force = query.force === 'true' || query.force === '1';
    if (current === undefined) {
      if (expected !== undefined)
        throw new StatusError(409, 'Conflict', `${resource.name} "${name}" not found`);
      // The patch functions build new objects: the store may keep them as they are.
      const object = serverSideApply(undefined, applied, fieldManager, force, time);
      return {
        object: cluster.create(resource, object, { dryRun: dryRun(query), owned: true }),
        created: true,
      };
    }
    const object = serverSideApply(current, applied, fieldManager, force, time);
    object.metadata.resourceVersion =
      expected === undefined ? current.metadata.resourceVersion : String(expected);
    return {
      object: cluster.update(resource, object, {
        dryRun: dryRun(query),
        owned: true,
        ...(subresource ? { subresource } : {}),
      }),
      created: false,
    };
  }

  if (current === undefined) throw notFoundError(resource.name, resource.group, name ?? '');
  const base = current as unknown as Json;
  let patched: Json | undefined;
  switch (type) {
    case 'application/merge-patch+json':
      patched = mergePatch(base, body);
      break;
    case 'application/strategic-merge-patch+json':
      patched = strategicMergePatch(base, body);
      break;
    case 'application/json-patch+json':
      patched = jsonPatch(base, body);
      break;
    default:
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
  if (!isObject(patched) || !isObject(patched.metadata))
    throw badRequestError('the patch produced an invalid object');
  const object = patched as unknown as KubeObject;
  if (object.metadata.name !== current.metadata.name)
    throw badRequestError('metadata.name cannot be changed by a patch');
  if (resource.namespaced) object.metadata.namespace = namespace;
  return {
    object: cluster.update(resource, object, {
      manager: manager(request, query),
      dryRun: dryRun(query),
      owned: true,
      ...(subresource ? { subresource } : {}),
    }),
    created: false,
  };
}

// ---------------------------------------------------------------------------------------------
// Watch

function startWatch(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: KubeApiDeps,
  cluster: ClusterState,
  target: Target,
  query: Query,
): FastifyReply {
  const { resource } = target;
  const namespace = target.namespace;
  const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
  const fieldSelector =
    query.fieldSelector ?? (target.name !== undefined ? `metadata.name=${target.name}` : undefined);
  const fields = fieldSelector ? parseFieldSelector(fieldSelector) : undefined;
  const matches = (o: KubeObject | undefined) =>
    o !== undefined &&
    (namespace === undefined || o.metadata.namespace === namespace) &&
    (labels === undefined || labels(o.metadata.labels)) &&
    (fields === undefined || fields(o));
  const asTable = wantsTable(request.headers.accept);
  const rv = query.resourceVersion;
  let backlog: ChangeEvent[] | undefined;
  if (rv !== undefined && rv !== '' && rv !== '0' && query.sendInitialEvents !== 'true') {
    const number = Number(rv);
    if (!Number.isInteger(number)) throw badRequestError(`invalid resource version: ${rv}`);
    backlog = cluster.eventsSince(resource, number);
    if (backlog === undefined) {
      reply.hijack();
      reply.raw.writeHead(200, { 'Content-Type': JSON_TYPE });
      const status = new StatusError(
        410,
        'Expired',
        `too old resource version: ${rv} (${cluster.resourceVersion})`,
      );
      reply.raw.end(`${JSON.stringify({ type: 'ERROR', object: status.toStatus() })}\n`);
      return reply;
    }
  }

  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-cache, private' });
  // Send the headers now, as kube-apiserver does: clients (kubectl's informers) wait for them before
  // they can use or cancel the watch, and an idle watch may have nothing to write for minutes.
  raw.flushHeaders();
  const write = (type: string, object: KubeObject) => {
    const payload = asTable
      ? toTable(resource, [object], object.metadata.resourceVersion ?? '', deps.now(), query.includeObject)
      : object;
    raw.write(`${JSON.stringify({ type, object: payload })}\n`);
  };
  const deliver = (event: ChangeEvent) => {
    const now = matches(event.object);
    const before = event.previous !== undefined && event.type !== 'DELETED' ? matches(event.previous) : now;
    if (event.type === 'ADDED' && now) write('ADDED', event.object);
    else if (event.type === 'DELETED' && now) write('DELETED', event.object);
    else if (event.type === 'MODIFIED') {
      if (now && before) write('MODIFIED', event.object);
      else if (now) write('ADDED', event.object);
      else if (before) write('DELETED', event.object);
    }
  };

  let timeout: NodeJS.Timeout | undefined;
  const watcher: Watcher = {
    resource,
    namespace,
    send: deliver,
    close: () => {
      if (timeout !== undefined) clearTimeout(timeout);
      cluster.watchers.delete(watcher);
      deps.watches.delete(watcher);
      if (!raw.writableEnded) raw.end();
    },
  };
  if (backlog === undefined) {
    for (const object of select(cluster, resource, namespace, { ...query, fieldSelector }))
      write('ADDED', object);
    if (query.sendInitialEvents === 'true') {
      raw.write(
        `${JSON.stringify({
          type: 'BOOKMARK',
          object: {
            kind: resource.kind,
            apiVersion: apiVersionOf(resource),
            metadata: {
              resourceVersion: cluster.resourceVersion,
              annotations: { 'k8s.io/initial-events-end': 'true' },
            },
          },
        })}\n`,
      );
    }
  } else {
    for (const event of backlog) deliver(event);
  }
  cluster.watchers.add(watcher);
  deps.watches.add(watcher);
  request.raw.on('close', watcher.close);
  raw.on('close', watcher.close);
  const limits = request.server.kubeApiLimits ?? DEFAULT_KUBE_API_LIMITS;
  timeout = setTimeout(watcher.close, watchTimeoutMs(query.timeoutSeconds, limits));
  return reply;
}
