/**
 * The `/scale` subresource of the replicated workloads (`kubectl scale`, autoscalers): an
 * autoscaling/v1 Scale whose `spec.replicas` is the workload's. GET reads it; PUT and the patch
 * types change the workload's `spec.replicas` and nothing else.
 */
import type { FastifyRequest } from 'fastify';
import type { ObjectStore } from './object-store.ts';
import {
  badRequestError,
  invalidError,
  isObject,
  type Json,
  type JsonObject,
  type KubeObject,
  StatusError,
} from './objects.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { dryRun, manager, methodNotAllowed, parseBody, type Query, readBody } from './request.ts';
import type { ResourceType } from './resources.ts';

export function scaleOf(object: KubeObject): JsonObject {
  const spec = (object.spec ?? {}) as JsonObject;
  const status = (object.status ?? {}) as JsonObject;
  const selector =
    isObject(spec.selector) && isObject(spec.selector.matchLabels) ? spec.selector.matchLabels : {};
  const { name, namespace, uid, resourceVersion, creationTimestamp } = object.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      ...(name === undefined ? {} : { name }),
      ...(namespace === undefined ? {} : { namespace }),
      ...(uid === undefined ? {} : { uid }),
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
      ...(creationTimestamp === undefined ? {} : { creationTimestamp }),
    },
    spec: { replicas: Number(spec.replicas ?? 1) },
    status: {
      replicas: Number(status.replicas ?? 0),
      selector: Object.entries(selector)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    },
  };
}

/** Serves `<workload>/scale`; returns the Scale after the request. */
export function scaleRequest(
  request: FastifyRequest,
  cluster: ObjectStore,
  resource: ResourceType,
  namespace: string,
  name: string,
  query: Query,
): JsonObject {
  const current = cluster.mustGet(resource, namespace, name);
  const scale = scaleOf(current);
  let wanted: Json | undefined;
  switch (request.method) {
    case 'GET':
      return scale;
    case 'PUT':
      wanted = parseBody(request);
      break;
    case 'PATCH': {
      const body = parseBody(request);
      const { type } = readBody(request);
      if (type === 'application/merge-patch+json') wanted = mergePatch(scale, body);
      else if (type === 'application/strategic-merge-patch+json') wanted = strategicMergePatch(scale, body);
      else if (type === 'application/json-patch+json') wanted = jsonPatch(scale, body);
      else
        throw new StatusError(
          415,
          'UnsupportedMediaType',
          'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json',
        );
      break;
    }
    default:
      throw methodNotAllowed();
  }
  if (!isObject(wanted)) throw badRequestError('the body of the request must be an object');
  const replicas = isObject(wanted.spec) ? wanted.spec.replicas : undefined;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw invalidError('Scale', 'autoscaling', name, [
      `spec.replicas: Invalid value: ${JSON.stringify(replicas ?? null)}: must be greater than or equal to 0`,
    ]);
  }
  const expected = isObject(wanted.metadata) ? wanted.metadata.resourceVersion : undefined;
  const updated = cluster.update(
    resource,
    {
      ...current,
      metadata: {
        ...current.metadata,
        ...(typeof expected === 'string' && expected !== '' ? { resourceVersion: expected } : {}),
      },
      spec: { ...(current.spec as JsonObject), replicas },
    },
    { manager: manager(request, query), dryRun: dryRun(query), owned: true },
  );
  return scaleOf(updated);
}
