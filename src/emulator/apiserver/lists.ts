/** Reading collections: label and field selectors, and the List documents (JSON or table). */
import type { FastifyRequest } from 'fastify';
import type { KubeApiDeps } from './kube-api.routes.ts';
import type { ObjectStore } from './object-store.ts';
import { itemJsonOf, type KubeObject, parseFieldSelector, parseLabelSelector } from './objects.ts';
import type { Query } from './request.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { toTable, wantsTable } from './tables.ts';

/** `JSON.stringify` of the list `listResponse` answers (not a table), from the items' kept text. */
export function listJson(cluster: ObjectStore, resource: ResourceType, items: readonly KubeObject[]): string {
  const head = JSON.stringify({
    kind: `${resource.kind}List`,
    apiVersion: apiVersionOf(resource),
    metadata: { resourceVersion: cluster.resourceVersion },
  });
  return `${head.slice(0, -1)},"items":[${items.map(itemJsonOf).join(',')}]}`;
}

export function select(
  cluster: ObjectStore,
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

export function listResponse(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ObjectStore,
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
