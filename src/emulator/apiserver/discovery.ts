/**
 * Discovery: the root paths, `/version`, the legacy discovery documents and the OpenAPI v2 and
 * v3 documents kubectl reads before anything else.
 */
import type { FastifyRequest } from 'fastify';
import type { ObjectStore } from './object-store.ts';
import { StatusError } from './objects.ts';
import {
  groupVersionOfOpenApiPath,
  openApiV2Document,
  openApiV3Document,
  openApiV3Index,
} from './openapi.ts';
import { JSON_TYPE, notFoundPath } from './request.ts';
import {
  apiGroup,
  apiGroupDiscoveryList,
  apiGroupList,
  apiResourceList,
  apiVersions,
  GROUP_VERSIONS,
} from './resources.ts';

export function discover(segments: string[], cluster: ObjectStore, request: FastifyRequest): unknown {
  const path = segments.join('/');
  switch (path) {
    case '':
      return {
        paths: [
          '/api',
          '/api/v1',
          '/apis',
          ...[...new Set(GROUP_VERSIONS.slice(1).map((gv) => gv.split('/')[0]!))].flatMap((group) => [
            `/apis/${group}`,
            ...GROUP_VERSIONS.filter((gv) => gv.startsWith(`${group}/`)).map((gv) => `/apis/${gv}`),
          ]),
          '/healthz',
          '/livez',
          '/openapi/v2',
          '/openapi/v3',
          '/readyz',
          '/version',
        ].sort(),
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
    default:
      if (segments[0] !== 'apis') return undefined;
      if (segments.length === 2) return apiGroup(segments[1]!);
      if (segments.length === 3) return apiResourceList(`${segments[1]}/${segments[2]}`);
      return undefined;
  }
}

/** The media type of aggregated discovery, which a client asks for first in its Accept header. */
export const AGGREGATED_DISCOVERY_TYPE =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** `/api` or `/apis` as aggregated discovery, when the client accepts it; else undefined. */
export function aggregatedDiscovery(segments: string[], request: FastifyRequest): object | undefined {
  if (segments.length !== 1 || (segments[0] !== 'api' && segments[0] !== 'apis')) return undefined;
  const accept = (request.headers.accept ?? '').replace(/\s+/g, '');
  const wanted = accept
    .split(',')
    .some(
      (type) =>
        type.startsWith('application/json;') &&
        type.includes(';g=apidiscovery.k8s.io') &&
        type.includes(';v=v2;') &&
        type.endsWith(';as=APIGroupDiscoveryList'),
    );
  return wanted ? apiGroupDiscoveryList(segments[0] === 'api') : undefined;
}

/**
 * `/openapi/v3` (index and group versions, JSON; the index's URLs under `basePath`, where the
 * client reached the cluster) and `/openapi/v2` (JSON only: a client asking only
 * for the protobuf encoding gets 406; kubectl ≥ 1.27 uses v3 and only falls back to v2 without it).
 */
export function openApi(segments: string[], basePath: string, request: FastifyRequest): unknown {
  if (segments[0] !== 'openapi') return undefined;
  const path = segments.slice(2).join('/');
  if (segments[1] === 'v3') {
    if (path === '') return openApiV3Index(basePath);
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
