/**
 * What a Kubernetes API request asks for: the target its path names (resource, namespace, name,
 * subresource), its query, and its body in any of the encodings clients send (JSON, YAML,
 * protobuf), read into the objects the verbs work on.
 */
import type { FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { assertStringFields } from './limits.ts';
import {
  badRequestError,
  isObject,
  type Json,
  type JsonObject,
  type KubeObject,
  StatusError,
} from './objects.ts';
import { decodeKubeProtobuf, PROTOBUF_TYPE, ProtobufError } from './protobuf.ts';
import { apiVersionOf, findResource, type ResourceType } from './resources.ts';

export const JSON_TYPE = 'application/json';

export type Query = Record<string, string | undefined>;

export interface Target {
  resource: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
  watchPrefix: boolean;
}

export const notFoundPath = () =>
  new StatusError(404, 'NotFound', 'the server could not find the requested resource');

export const methodNotAllowed = () =>
  new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

export function flattenQuery(raw: unknown): Query {
  const out: Query = {};
  for (const [key, value] of Object.entries((raw ?? {}) as Record<string, unknown>)) {
    out[key] = Array.isArray(value) ? String(value[0]) : value === undefined ? undefined : String(value);
  }
  return out;
}

export function resolveTarget(segments: string[]): Target {
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

export function readBody(request: FastifyRequest): { text: string; type: string } {
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

export function parseBody(request: FastifyRequest): Json {
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

export function objectBody(request: FastifyRequest, resource: ResourceType): KubeObject {
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

export function deleteOptions(request: FastifyRequest): JsonObject {
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

export function manager(request: FastifyRequest, query: Query): string {
  if (query.fieldManager !== undefined && query.fieldManager !== '') return query.fieldManager;
  const agent = request.headers['user-agent'] ?? 'unknown';
  return agent.split('/')[0]!.slice(0, 128) || 'unknown';
}

export const dryRun = (query: Query): boolean => query.dryRun === 'All';
