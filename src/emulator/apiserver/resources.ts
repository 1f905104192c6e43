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
  /** Has a `/scale` subresource (`kubectl scale`): an autoscaling/v1 Scale of `spec.replicas`. */
  readonly hasScale: boolean;
  /** The verbs discovery lists; the others answer 405. */
  readonly verbs: readonly string[];
  /**
   * Create-only kinds that are answered, not stored (the access reviews, `bindings`):
   * `reviews.ts` answers them.
   */
  readonly virtual: boolean;
  /** The key its objects are kept and persisted under: unique across groups. */
  readonly storage: string;
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

type ResourceOptions = Partial<
  Pick<
    ResourceType,
    | 'namespaced'
    | 'shortNames'
    | 'categories'
    | 'hasStatus'
    | 'hasGeneration'
    | 'hasScale'
    | 'verbs'
    | 'version'
  >
>;

function resource(name: string, kind: string, group: string, options: ResourceOptions = {}): ResourceType {
  const verbs = options.verbs ?? VERBS;
  const version = options.version ?? 'v1';
  return Object.freeze({
    name,
    singular: kind.toLowerCase(),
    kind,
    group,
    version,
    namespaced: options.namespaced ?? true,
    shortNames: options.shortNames ?? [],
    categories: options.categories ?? [],
    hasStatus: options.hasStatus ?? false,
    hasGeneration: options.hasGeneration ?? false,
    hasScale: options.hasScale ?? false,
    verbs,
    virtual: !verbs.includes('get'),
    // The core and apps kinds keep their plural as the key (clusters persisted before other groups
    // were served); other groups' kinds are told apart by group (and version where two are served).
    storage:
      group === '' || group === 'apps' ? name : `${name}.${version === 'v1' ? '' : `${version}.`}${group}`,
  });
}

const cluster = { namespaced: false } as const;
const workload = { categories: ['all'], hasStatus: true, hasGeneration: true } as const;
const scalable = { ...workload, hasScale: true } as const;
const CREATE_ONLY = ['create'];
const API_EXTENSIONS = ['api-extensions'];

/**
 * Every kind a v1.32 kube-apiserver serves (the recorded `kubectl api-resources`), in discovery
 * order. Kinds no controller acts on are plain storage: CRUD, list, watch, patch and apply, a
 * NAME/AGE table.
 */
export const RESOURCES: readonly ResourceType[] = [
  resource('namespaces', 'Namespace', '', { ...cluster, shortNames: ['ns'], hasStatus: true }),
  resource('nodes', 'Node', '', { ...cluster, shortNames: ['no'], hasStatus: true }),
  resource('configmaps', 'ConfigMap', '', { shortNames: ['cm'] }),
  resource('secrets', 'Secret', ''),
  resource('serviceaccounts', 'ServiceAccount', '', { shortNames: ['sa'] }),
  resource('services', 'Service', '', { shortNames: ['svc'], categories: ['all'], hasStatus: true }),
  resource('endpoints', 'Endpoints', '', { shortNames: ['ep'] }),
  resource('pods', 'Pod', '', { shortNames: ['po'], categories: ['all'], hasStatus: true }),
  resource('events', 'Event', '', { shortNames: ['ev'] }),
  resource('bindings', 'Binding', '', { verbs: CREATE_ONLY }),
  resource('componentstatuses', 'ComponentStatus', '', {
    ...cluster,
    shortNames: ['cs'],
    verbs: ['get', 'list'],
  }),
  resource('limitranges', 'LimitRange', '', { shortNames: ['limits'] }),
  resource('persistentvolumeclaims', 'PersistentVolumeClaim', '', { shortNames: ['pvc'], hasStatus: true }),
  resource('persistentvolumes', 'PersistentVolume', '', { ...cluster, shortNames: ['pv'], hasStatus: true }),
  resource('podtemplates', 'PodTemplate', ''),
  resource('replicationcontrollers', 'ReplicationController', '', { ...scalable, shortNames: ['rc'] }),
  resource('resourcequotas', 'ResourceQuota', '', { shortNames: ['quota'], hasStatus: true }),
  resource('daemonsets', 'DaemonSet', 'apps', { ...workload, shortNames: ['ds'] }),
  resource('deployments', 'Deployment', 'apps', { ...scalable, shortNames: ['deploy'] }),
  resource('replicasets', 'ReplicaSet', 'apps', { ...scalable, shortNames: ['rs'] }),
  resource('controllerrevisions', 'ControllerRevision', 'apps'),
  resource('statefulsets', 'StatefulSet', 'apps', { ...scalable, shortNames: ['sts'] }),
  ...[
    'MutatingWebhookConfiguration',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
    'ValidatingWebhookConfiguration',
  ].map((kind) =>
    resource(`${kind.toLowerCase().replace(/y$/, 'ie')}s`, kind, 'admissionregistration.k8s.io', {
      ...cluster,
      categories: API_EXTENSIONS,
      hasStatus: kind === 'ValidatingAdmissionPolicy',
      hasGeneration: kind.startsWith('ValidatingAdmissionPolicy'),
    }),
  ),
  resource('customresourcedefinitions', 'CustomResourceDefinition', 'apiextensions.k8s.io', {
    ...cluster,
    shortNames: ['crd', 'crds'],
    categories: API_EXTENSIONS,
    hasStatus: true,
    hasGeneration: true,
  }),
  resource('apiservices', 'APIService', 'apiregistration.k8s.io', {
    ...cluster,
    categories: API_EXTENSIONS,
    hasStatus: true,
  }),
  resource('selfsubjectreviews', 'SelfSubjectReview', 'authentication.k8s.io', {
    ...cluster,
    verbs: CREATE_ONLY,
  }),
  resource('tokenreviews', 'TokenReview', 'authentication.k8s.io', { ...cluster, verbs: CREATE_ONLY }),
  resource('localsubjectaccessreviews', 'LocalSubjectAccessReview', 'authorization.k8s.io', {
    verbs: CREATE_ONLY,
  }),
  ...['SelfSubjectAccessReview', 'SelfSubjectRulesReview', 'SubjectAccessReview'].map((kind) =>
    resource(`${kind.toLowerCase()}s`, kind, 'authorization.k8s.io', { ...cluster, verbs: CREATE_ONLY }),
  ),
  resource('horizontalpodautoscalers', 'HorizontalPodAutoscaler', 'autoscaling', {
    ...workload,
    version: 'v2',
    shortNames: ['hpa'],
  }),
  resource('horizontalpodautoscalers', 'HorizontalPodAutoscaler', 'autoscaling', {
    ...workload,
    shortNames: ['hpa'],
  }),
  resource('cronjobs', 'CronJob', 'batch', { ...workload, shortNames: ['cj'] }),
  resource('jobs', 'Job', 'batch', workload),
  resource('certificatesigningrequests', 'CertificateSigningRequest', 'certificates.k8s.io', {
    ...cluster,
    shortNames: ['csr'],
    hasStatus: true,
  }),
  resource('leases', 'Lease', 'coordination.k8s.io'),
  resource('endpointslices', 'EndpointSlice', 'discovery.k8s.io'),
  resource('events', 'Event', 'events.k8s.io', { shortNames: ['ev'] }),
  resource('flowschemas', 'FlowSchema', 'flowcontrol.apiserver.k8s.io', { ...cluster, hasStatus: true }),
  resource('prioritylevelconfigurations', 'PriorityLevelConfiguration', 'flowcontrol.apiserver.k8s.io', {
    ...cluster,
    hasStatus: true,
  }),
  resource('ingressclasses', 'IngressClass', 'networking.k8s.io', cluster),
  resource('ingresses', 'Ingress', 'networking.k8s.io', { shortNames: ['ing'], hasStatus: true }),
  resource('networkpolicies', 'NetworkPolicy', 'networking.k8s.io', {
    shortNames: ['netpol'],
    hasGeneration: true,
  }),
  resource('runtimeclasses', 'RuntimeClass', 'node.k8s.io', cluster),
  resource('poddisruptionbudgets', 'PodDisruptionBudget', 'policy', {
    shortNames: ['pdb'],
    hasStatus: true,
    hasGeneration: true,
  }),
  resource('clusterrolebindings', 'ClusterRoleBinding', 'rbac.authorization.k8s.io', cluster),
  resource('clusterroles', 'ClusterRole', 'rbac.authorization.k8s.io', cluster),
  resource('rolebindings', 'RoleBinding', 'rbac.authorization.k8s.io'),
  resource('roles', 'Role', 'rbac.authorization.k8s.io'),
  resource('priorityclasses', 'PriorityClass', 'scheduling.k8s.io', { ...cluster, shortNames: ['pc'] }),
  resource('csidrivers', 'CSIDriver', 'storage.k8s.io', cluster),
  resource('csinodes', 'CSINode', 'storage.k8s.io', cluster),
  resource('csistoragecapacities', 'CSIStorageCapacity', 'storage.k8s.io'),
  resource('storageclasses', 'StorageClass', 'storage.k8s.io', { ...cluster, shortNames: ['sc'] }),
  resource('volumeattachments', 'VolumeAttachment', 'storage.k8s.io', { ...cluster, hasStatus: true }),
];

const BY_PATH = new Map(RESOURCES.map((r) => [`${r.group}/${r.version}/${r.name}`, r]));

export function findResource(group: string, version: string, name: string): ResourceType | undefined {
  return BY_PATH.get(`${group}/${version}/${name}`);
}

export const apiVersionOf = (r: ResourceType): string =>
  r.group === '' ? r.version : `${r.group}/${r.version}`;

/** Each group's versions, preferred first (autoscaling: v2, then v1). */
const GROUPS: ReadonlyMap<string, readonly string[]> = (() => {
  const groups = new Map<string, string[]>();
  for (const r of RESOURCES) {
    if (r.group === '') continue;
    const versions = groups.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    groups.set(r.group, versions);
  }
  return groups;
})();

/** Every group version served (`v1`, `apps/v1`, …). */
export const GROUP_VERSIONS: readonly string[] = [
  'v1',
  ...[...GROUPS].flatMap(([group, versions]) => versions.map((v) => `${group}/${v}`)),
];

const resourceVerbs = (r: ResourceType): readonly string[] =>
  r.name === 'namespaces' || r.name === 'nodes' ? r.verbs.filter((v) => v !== 'deletecollection') : r.verbs;

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
        verbs: resourceVerbs(r),
        ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
        ...(r.categories.length > 0 ? { categories: r.categories } : {}),
        ...(r.virtual
          ? {}
          : { storageVersionHash: Buffer.from(`${groupVersion}/${r.kind}`).toString('base64').slice(0, 11) }),
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
      ...(r.hasScale
        ? [
            {
              name: `${r.name}/scale`,
              singularName: '',
              namespaced: r.namespaced,
              group: 'autoscaling',
              version: 'v1',
              kind: 'Scale',
              verbs: ['get', 'patch', 'update'],
            },
          ]
        : []),
    ]),
  };
}

/**
 * Aggregated discovery (`apidiscovery.k8s.io/v2` APIGroupDiscoveryList): every version of the core
 * group (`/api`) or of the named groups (`/apis`) in one document, as kubectl ≥ 1.30 asks first.
 */
export function apiGroupDiscoveryList(core: boolean): object {
  const groups = core ? [''] : [...GROUPS.keys()];
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map((group) => ({
      metadata: { ...(group === '' ? {} : { name: group }), creationTimestamp: null },
      versions: (group === '' ? ['v1'] : (GROUPS.get(group) ?? [])).map((version) => ({
        version,
        resources: RESOURCES.filter((r) => r.group === group && r.version === version).map((r) => {
          const kind = { group, version, kind: r.kind };
          const subresources = [
            ...(r.hasStatus
              ? [{ subresource: 'status', responseKind: kind, verbs: ['get', 'patch', 'update'] }]
              : []),
            ...(r.hasScale
              ? [
                  {
                    subresource: 'scale',
                    responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' },
                    verbs: ['get', 'patch', 'update'],
                  },
                ]
              : []),
          ];
          return {
            resource: r.name,
            responseKind: kind,
            scope: r.namespaced ? 'Namespaced' : 'Cluster',
            singularResource: r.singular,
            verbs: resourceVerbs(r),
            ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
            ...(r.categories.length > 0 ? { categories: r.categories } : {}),
            ...(subresources.length > 0 ? { subresources } : {}),
          };
        }),
        freshness: 'Current',
      })),
    })),
  };
}

export function apiGroupList(): object {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...GROUPS.keys()].map((name) => groupOf(name)),
  };
}

function groupOf(name: string): object {
  const versions = (GROUPS.get(name) ?? []).map((version) => ({
    groupVersion: `${name}/${version}`,
    version,
  }));
  return { name, versions, preferredVersion: versions[0] };
}

export function apiGroup(name: string): object | undefined {
  if (!GROUPS.has(name)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupOf(name) };
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
  services: must('', 'services'),
  pods: must('', 'pods'),
  events: must('', 'events'),
  daemonsets: must('apps', 'daemonsets'),
  deployments: must('apps', 'deployments'),
  replicasets: must('apps', 'replicasets'),
  controllerrevisions: must('apps', 'controllerrevisions'),
});
