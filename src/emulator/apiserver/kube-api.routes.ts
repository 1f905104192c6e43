/**
 * The Kubernetes API of every emulated cluster, mounted at `/k8s/:clusterId/…`: authenticates,
 * forwards to the owning process (scale-out), then dispatches discovery (discovery.ts), watch
 * (watch.ts), PATCH (patch-request.ts) and the other verbs on the cluster's object store.
 * Errors are `Status` objects, as a real API server sends.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { discover, openApi } from './discovery.ts';
import { listJson, listResponse, select } from './lists.ts';
import type { ObjectStore, Watcher } from './object-store.ts';
import { badRequestError, isObject, jsonOf, type KubeObject, StatusError } from './objects.ts';
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
  resolveTarget,
} from './request.ts';
import { apiVersionOf, RESOURCE, RESOURCES, type ResourceType } from './resources.ts';
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

export async function registerKubeApi(app: FastifyInstance, deps: KubeApiDeps): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
      done(null, body);
    });
    scope.setErrorHandler((error, _request, reply) => {
      const status =
        error instanceof StatusError
          ? error
          : new StatusError(
              (error as { statusCode?: number }).statusCode ?? 500,
              (error as { statusCode?: number }).statusCode === 413
                ? 'RequestEntityTooLarge'
                : 'InternalError',
              (error as Error).message,
            );
      if (status.code >= 500) scope.log.error({ err: error }, 'Emulated Kubernetes API failed');
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

async function handle(
  request: FastifyRequest,
  reply: FastifyReply,
  deps: KubeApiDeps,
): Promise<FastifyReply> {
  const params = request.params as { clusterId: string; '*'?: string };
  const authorization = request.headers.authorization ?? '';
  const token = /^Bearer\s+(.+)$/i.exec(authorization)?.[1]?.trim();
  const clientIp = deps.clientIp?.(request) ?? request.ip;
  const verdict =
    token === undefined ? 'unauthorized' : await deps.authorize(params.clusterId, token, clientIp);
  if (verdict === 'unauthorized') throw new StatusError(401, 'Unauthorized', 'Unauthorized');
  if (verdict === 'forbidden') {
    throw new StatusError(
      403,
      'Forbidden',
      `forbidden: ${clientIp} is not allowed by the cluster's IP restrictions (GET /cloud/project/{serviceName}/kube/${params.clusterId}/ipRestrictions)`,
    );
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

function remove(
  cluster: ObjectStore,
  resource: ResourceType,
  namespace: string,
  name: string,
  isDryRun: boolean,
  uid?: string,
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
    ...(uid === undefined ? {} : { uid }),
  });
}
