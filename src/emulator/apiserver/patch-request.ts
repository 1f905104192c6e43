/**
 * The PATCH verb: server-side apply (`application/apply-patch+yaml`, which may create) and the
 * three other patch content types, each applied to the stored object and written back.
 */
import type { FastifyRequest } from 'fastify';
import type { KubeApiDeps } from './kube-api.routes.ts';
import { assertStringFields } from './limits.ts';
import { serverSideApply } from './managed-fields.ts';
import type { ObjectStore } from './object-store.ts';
import {
  badRequestError,
  clone,
  isObject,
  type Json,
  type KubeObject,
  notFoundError,
  rfc3339,
  StatusError,
} from './objects.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { dryRun, manager, parseBody, type Query, readBody, type Target } from './request.ts';
import { apiVersionOf } from './resources.ts';

export function patchObject(
  request: FastifyRequest,
  deps: KubeApiDeps,
  cluster: ObjectStore,
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
  // The patch shares the members it left alone with the stored version: a new metadata, not a change of that one.
  if (resource.namespaced && object.metadata.namespace !== namespace)
    object.metadata = { ...object.metadata, namespace };
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
