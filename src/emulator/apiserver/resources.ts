/**
 * The resources the emulated API serves, and the legacy discovery documents describing them.
 * Storage is generic (one JSON body per object), so a resource is just a row of this table.
 */

export interface ResourceType {
  /** Plural, as in URLs (`daemonsets`). */
  readonly name: string;
  readonly singular: string;
  readonly kind: string;
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  /** Has a `/status` subresource: writes to the main resource keep the stored status. */
  readonly hasStatus: boolean;
  /** `metadata.generation` counts spec changes. */
  readonly hasGeneration: boolean;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resource(
  name: string,
  kind: string,
  group: string,
  options: Partial<
    Pick<ResourceType, 'namespaced' | 'shortNames' | 'categories' | 'hasStatus' | 'hasGeneration'>
  > = {},
): ResourceType {
  return Object.freeze({
    name,
    singular: kind.toLowerCase(),
    kind,
    group,
    version: 'v1',
    namespaced: options.namespaced ?? true,
    shortNames: options.shortNames ?? [],
    categories: options.categories ?? [],
    hasStatus: options.hasStatus ?? false,
    hasGeneration: options.hasGeneration ?? false,
  });
}

export const RESOURCES: readonly ResourceType[] = [
  resource('namespaces', 'Namespace', '', { namespaced: false, shortNames: ['ns'], hasStatus: true }),
  resource('nodes', 'Node', '', { namespaced: false, shortNames: ['no'], hasStatus: true }),
  resource('configmaps', 'ConfigMap', '', { shortNames: ['cm'] }),
  resource('secrets', 'Secret', ''),
  resource('serviceaccounts', 'ServiceAccount', '', { shortNames: ['sa'] }),
  resource('services', 'Service', '', { shortNames: ['svc'], categories: ['all'], hasStatus: true }),
  resource('endpoints', 'Endpoints', '', { shortNames: ['ep'] }),
  resource('pods', 'Pod', '', { shortNames: ['po'], categories: ['all'], hasStatus: true }),
  resource('events', 'Event', '', { shortNames: ['ev'] }),
  resource('daemonsets', 'DaemonSet', 'apps', {
    shortNames: ['ds'],
    categories: ['all'],
    hasStatus: true,
    hasGeneration: true,
  }),
  resource('deployments', 'Deployment', 'apps', {
    shortNames: ['deploy'],
    categories: ['all'],
    hasStatus: true,
    hasGeneration: true,
  }),
  resource('replicasets', 'ReplicaSet', 'apps', {
    shortNames: ['rs'],
    categories: ['all'],
    hasStatus: true,
    hasGeneration: true,
  }),
  resource('controllerrevisions', 'ControllerRevision', 'apps'),
];

const BY_PATH = new Map(RESOURCES.map((r) => [`${r.group}/${r.version}/${r.name}`, r]));

export function findResource(group: string, version: string, name: string): ResourceType | undefined {
  return BY_PATH.get(`${group}/${version}/${name}`);
}

export const apiVersionOf = (r: ResourceType): string =>
  r.group === '' ? r.version : `${r.group}/${r.version}`;

export const GROUP_VERSIONS = ['v1', 'apps/v1'] as const;

/** `APIResourceList` for one group version (`v1`, `apps/v1`). */
export function apiResourceList(groupVersion: string): object | undefined {
  const group = groupVersion === 'v1' ? '' : groupVersion.split('/')[0];
  const version = groupVersion === 'v1' ? 'v1' : groupVersion.split('/')[1];
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: resources.flatMap((r) => [
      {
        name: r.name,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs:
          r.name === 'namespaces' || r.name === 'nodes'
            ? VERBS.filter((v) => v !== 'deletecollection')
            : VERBS,
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
        ...(r.categories.length > 0 ? { categories: r.categories } : {}),
        storageVersionHash: Buffer.from(`${groupVersion}/${r.kind}`).toString('base64').slice(0, 11),
      },
      ...(r.hasStatus
        ? [
            {
              name: `${r.name}/status`,
              singularName: '',
              namespaced: r.namespaced,
              kind: r.kind,
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  };
}

export function apiGroupList(): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [apiGroup('apps')],
  };
}

export function apiGroup(name: string): object | undefined {
  if (name !== 'apps') return undefined;
  const gv = { groupVersion: 'apps/v1', version: 'v1' };
  return { kind: 'APIGroup', apiVersion: 'v1', name: 'apps', versions: [gv], preferredVersion: gv };
}

export function apiVersions(serverAddress: string): object {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

const must = (group: string, name: string): ResourceType => findResource(group, 'v1', name)!;

/** The resource types the emulator's own code reads and writes, by plural name (`RESOURCE.pods`). */
export const RESOURCE = Object.freeze({
  namespaces: must('', 'namespaces'),
  nodes: must('', 'nodes'),
  configmaps: must('', 'configmaps'),
  serviceaccounts: must('', 'serviceaccounts'),
  pods: must('', 'pods'),
  events: must('', 'events'),
  daemonsets: must('apps', 'daemonsets'),
  deployments: must('apps', 'deployments'),
  replicasets: must('apps', 'replicasets'),
  controllerrevisions: must('apps', 'controllerrevisions'),
});
