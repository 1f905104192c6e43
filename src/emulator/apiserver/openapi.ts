/**
 * OpenAPI v3 documents of the emulated API (`/openapi/v3` and `/openapi/v3/<group-version>`),
 * generated from the resource table. kubectl 1.27+ reads them for two things:
 * - field validation: the PATCH/POST/PUT operations declare the `fieldValidation` query parameter,
 *   so kubectl's QueryParamVerifierV3 lets the server validate (instead of downloading the
 *   protobuf-only `/openapi/v2` for client-side validation, which the emulator does not serve);
 * - `kubectl apply`: the PATCH operations accept `application/strategic-merge-patch+json` and the
 *   schemas carry `x-kubernetes-group-version-kind`, `x-kubernetes-patch-merge-key` and
 *   `x-kubernetes-patch-strategy` for the lists that merge, as on a real server.
 * Schemas are deliberately partial: fields not described are free-form (not rejected), and lists
 * not described are replaced as a whole by strategic merge patch, like atomic lists.
 */
import { createHash } from 'node:crypto';
import { apiVersionOf, GROUP_VERSIONS, RESOURCES, type ResourceType } from './resources.ts';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ allOf: [{ $ref: `#/components/schemas/${name}` }] });
const str: Schema = { type: 'string' };
const int: Schema = { type: 'integer', format: 'int32' };
const bool: Schema = { type: 'boolean' };
const stringMap: Schema = { type: 'object', additionalProperties: { type: 'string', default: '' } };
const obj = (properties: Record<string, Schema>, extra: Schema = {}): Schema => ({
  type: 'object',
  properties,
  ...extra,
});
/** A list merged by key (`patchStrategy:"merge" patchMergeKey:"<key>"`). */
const mergeList = (items: Schema, key: string, listKeys: string[] = [key], retainKeys = false): Schema => ({
  type: 'array',
  items,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': listKeys,
  'x-kubernetes-patch-merge-key': key,
  'x-kubernetes-patch-strategy': retainKeys ? 'merge,retainKeys' : 'merge',
});
const atomicList = (items: Schema): Schema => ({ type: 'array', items, 'x-kubernetes-list-type': 'atomic' });
const setList: Schema = {
  type: 'array',
  items: str,
  'x-kubernetes-list-type': 'set',
  'x-kubernetes-patch-strategy': 'merge',
};
const free: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
const condition = obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: str });

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const CORE = 'io.k8s.api.core.v1';
const APPS = 'io.k8s.api.apps.v1';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';

/** A schema with its description (`kubectl explain` prints it; the words are mks's own). */
const described = (description: string, schema: Schema): Schema => ({ ...schema, description });

/** Shared definitions, by their name on a real server. */
function definitions(): Record<string, Schema> {
  const container = obj(
    {
      name: str,
      image: str,
      command: atomicList(str),
      args: atomicList(str),
      workingDir: str,
      imagePullPolicy: str,
      ports: mergeList(
        obj({ name: str, containerPort: int, hostPort: int, protocol: str, hostIP: str }),
        'containerPort',
        ['containerPort', 'protocol'],
      ),
      env: mergeList(obj({ name: str, value: str, valueFrom: free }), 'name'),
      envFrom: atomicList(free),
      resources: free,
      volumeMounts: mergeList(obj({ name: str, mountPath: str, subPath: str, readOnly: bool }), 'mountPath'),
      volumeDevices: mergeList(obj({ name: str, devicePath: str }), 'devicePath'),
      securityContext: free,
      livenessProbe: free,
      readinessProbe: free,
      startupProbe: free,
      lifecycle: free,
    },
    { required: ['name'] },
  );
  return {
    [`${META}.ObjectMeta`]: obj({
      name: str,
      generateName: str,
      namespace: str,
      uid: str,
      resourceVersion: str,
      generation: { type: 'integer', format: 'int64' },
      creationTimestamp: { type: 'string', format: 'date-time' },
      deletionTimestamp: { type: 'string', format: 'date-time' },
      labels: stringMap,
      annotations: stringMap,
      finalizers: setList,
      ownerReferences: mergeList(
        obj({
          apiVersion: str,
          kind: str,
          name: str,
          uid: str,
          controller: bool,
          blockOwnerDeletion: bool,
        }),
        'uid',
      ),
      managedFields: atomicList(free),
    }),
    [`${META}.LabelSelector`]: obj(
      { matchLabels: stringMap, matchExpressions: atomicList(free) },
      { 'x-kubernetes-map-type': 'atomic' },
    ),
    [`${CORE}.Container`]: container,
    [`${CORE}.PodSpec`]: obj({
      containers: mergeList(ref(`${CORE}.Container`), 'name'),
      initContainers: mergeList(ref(`${CORE}.Container`), 'name'),
      ephemeralContainers: mergeList(free, 'name'),
      volumes: mergeList(
        obj({ name: str }, { 'x-kubernetes-preserve-unknown-fields': true }),
        'name',
        ['name'],
        true,
      ),
      imagePullSecrets: mergeList(obj({ name: str }), 'name'),
      hostAliases: mergeList(obj({ ip: str, hostnames: atomicList(str) }), 'ip'),
      topologySpreadConstraints: mergeList(free, 'topologyKey', ['topologyKey', 'whenUnsatisfiable']),
      schedulingGates: mergeList(obj({ name: str }), 'name'),
      tolerations: atomicList(free),
      nodeSelector: stringMap,
      affinity: free,
      securityContext: free,
      dnsConfig: free,
      restartPolicy: str,
      serviceAccountName: str,
      nodeName: str,
      hostNetwork: bool,
      priorityClassName: str,
      terminationGracePeriodSeconds: { type: 'integer', format: 'int64' },
    }),
    [`${CORE}.PodTemplateSpec`]: obj({ metadata: ref(`${META}.ObjectMeta`), spec: ref(`${CORE}.PodSpec`) }),
    [INT_OR_STRING]: described('A whole number, or a string such as a percentage ("25%").', {
      type: 'string',
      format: 'int-or-string',
    }),
    ...daemonSetDefinitions(),
  };
}

/**
 * The DaemonSet's models, as a real server names and shapes them (model names, enums, the order of
 * fields); the descriptions are written for mks, not copied from Kubernetes.
 */
function daemonSetDefinitions(): Record<string, Schema> {
  const count = (description: string): Schema => described(description, int);
  return {
    [`${APPS}.DaemonSetSpec`]: described(
      'What a DaemonSet runs and how it replaces its pods.',
      obj(
        {
          minReadySeconds: count(
            'Seconds a new pod must stay ready, with no container crashing, before it counts as available. 0 (the default): as soon as it is ready.',
          ),
          revisionHistoryLimit: count(
            'How many old ControllerRevisions are kept for rollbacks. Default: 10.',
          ),
          selector: described(
            "Which pods belong to the DaemonSet; it must match the template's labels and cannot change.",
            ref(`${META}.LabelSelector`),
          ),
          template: described(
            'The pod each eligible node runs. Its restart policy must be Always (the default).',
            ref(`${CORE}.PodTemplateSpec`),
          ),
          updateStrategy: described(
            'How the pods are replaced when the template changes.',
            ref(`${APPS}.DaemonSetUpdateStrategy`),
          ),
        },
        { required: ['selector', 'template'] },
      ),
    ),
    [`${APPS}.DaemonSetUpdateStrategy`]: described(
      'The way a DaemonSet moves its nodes to a new pod template.',
      obj({
        rollingUpdate: described(
          'Settings of a rolling update; only read when type is "RollingUpdate".',
          ref(`${APPS}.RollingUpdateDaemonSet`),
        ),
        type: described(
          'The strategy: "RollingUpdate" (the default) or "OnDelete".\n\nPossible enum values:\n - `"OnDelete"` a node gets the new template only when its pod is deleted by hand\n - `"RollingUpdate"` the controller replaces the pods node by node, within maxUnavailable and maxSurge',
          { ...str, enum: ['OnDelete', 'RollingUpdate'] },
        ),
      }),
    ),
    [`${APPS}.RollingUpdateDaemonSet`]: described(
      'The limits a rolling update of a DaemonSet keeps to.',
      obj({
        maxSurge: described(
          "How many nodes may run an old and a new pod at once during the update: a number or a percentage of the nodes (rounded up). Default: 0, so a node's old pod goes before the new one starts.",
          ref(INT_OR_STRING),
        ),
        maxUnavailable: described(
          'How many nodes may be without an available pod during the update: a number or a percentage of the nodes (rounded up). Default: 1; cannot be 0 when maxSurge is 0.',
          ref(INT_OR_STRING),
        ),
      }),
    ),
  };
}

/** The schema of each kind (apart from apiVersion, kind, metadata). */
function kindProperties(kind: string): Record<string, Schema> {
  const template = ref(`${CORE}.PodTemplateSpec`);
  const selector = ref(`${META}.LabelSelector`);
  const conditions = mergeList(condition, 'type');
  switch (kind) {
    case 'Namespace':
      return { spec: obj({ finalizers: atomicList(str) }), status: obj({ phase: str, conditions }) };
    case 'Node':
      return {
        spec: obj({
          podCIDR: str,
          podCIDRs: setList,
          providerID: str,
          unschedulable: bool,
          taints: atomicList(obj({ key: str, value: str, effect: str })),
        }),
        status: obj(
          { conditions, addresses: mergeList(obj({ type: str, address: str }), 'type') },
          { 'x-kubernetes-preserve-unknown-fields': true },
        ),
      };
    case 'ConfigMap':
      return {
        data: stringMap,
        binaryData: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } },
        immutable: bool,
      };
    case 'Secret':
      return {
        data: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } },
        stringData: stringMap,
        type: str,
        immutable: bool,
      };
    case 'ServiceAccount':
      return {
        secrets: mergeList(free, 'name'),
        imagePullSecrets: atomicList(obj({ name: str })),
        automountServiceAccountToken: bool,
      };
    case 'Service':
      return {
        spec: obj(
          {
            ports: mergeList(
              obj({ name: str, protocol: str, port: int, targetPort: free, nodePort: int }),
              'port',
              ['port', 'protocol'],
            ),
            selector: stringMap,
            type: str,
            clusterIP: str,
          },
          { 'x-kubernetes-preserve-unknown-fields': true },
        ),
        status: free,
      };
    case 'Endpoints':
      return { subsets: atomicList(free) };
    case 'Pod':
      return {
        spec: ref(`${CORE}.PodSpec`),
        status: obj({ conditions }, { 'x-kubernetes-preserve-unknown-fields': true }),
      };
    case 'Event':
      return {
        involvedObject: free,
        reason: str,
        message: str,
        type: str,
        count: int,
        source: free,
        firstTimestamp: str,
        lastTimestamp: str,
      };
    case 'DaemonSet':
      return {
        spec: described('What the DaemonSet runs, and how.', ref(`${APPS}.DaemonSetSpec`)),
        status: obj({ conditions }, { 'x-kubernetes-preserve-unknown-fields': true }),
      };
    case 'Deployment':
      return {
        spec: obj({
          replicas: int,
          selector,
          template,
          strategy: obj({ type: str, rollingUpdate: free }, { 'x-kubernetes-patch-strategy': 'retainKeys' }),
          minReadySeconds: int,
          revisionHistoryLimit: int,
          paused: bool,
          progressDeadlineSeconds: int,
        }),
        status: obj({ conditions }, { 'x-kubernetes-preserve-unknown-fields': true }),
      };
    case 'ReplicaSet':
      return {
        spec: obj({ replicas: int, selector, template, minReadySeconds: int }),
        status: obj({ conditions }, { 'x-kubernetes-preserve-unknown-fields': true }),
      };
    case 'ControllerRevision':
      return { data: free, revision: { type: 'integer', format: 'int64' } };
    default:
      // Kinds no controller reads: stored as sent, their fields not described.
      return { spec: free, status: free };
  }
}

const prefixOf = (groupVersion: string): string =>
  groupVersion === 'v1' ? 'api/v1' : `apis/${groupVersion}`;
/** A kind's model name on a real server (`io.k8s.api.apps.v1.DaemonSet`). */
function schemaName(r: ResourceType): string {
  if (r.group === '') return `${CORE}.${r.kind}`;
  if (r.group === 'apiextensions.k8s.io')
    return `io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.${r.version}.${r.kind}`;
  if (r.group === 'apiregistration.k8s.io')
    return `io.k8s.kube-aggregator.pkg.apis.apiregistration.${r.version}.${r.kind}`;
  return `io.k8s.api.${r.group.split('.')[0]}.${r.version}.${r.kind}`;
}
const gvkOf = (r: ResourceType) => ({ group: r.group, version: r.version, kind: r.kind });

const JSON_CONTENT = {
  'application/json': {},
  'application/yaml': {},
  'application/vnd.kubernetes.protobuf': {},
};
const param = (name: string, schema: Schema = str): Schema => ({
  name,
  in: 'query',
  schema: { ...schema, uniqueItems: true },
});
const WRITE_PARAMS = [param('dryRun'), param('fieldManager'), param('fieldValidation')];
const pathParam = (name: string): Schema => ({
  name,
  in: 'path',
  required: true,
  schema: { ...str, uniqueItems: true },
});

function operations(r: ResourceType): Record<string, Schema> {
  const name = schemaName(r);
  const body = {
    content: Object.fromEntries(Object.keys(JSON_CONTENT).map((t) => [t, { schema: ref(name) }])),
  };
  const ok = (code: string) => ({
    [code]: {
      description: 'OK',
      content: Object.fromEntries(Object.keys(JSON_CONTENT).map((t) => [t, { schema: ref(name) }])),
    },
  });
  const op = (action: string, extra: Schema = {}): Schema => ({
    operationId: `${action}${r.kind}`,
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvkOf(r),
    ...extra,
  });
  const base = `/${prefixOf(apiVersionOf(r))}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`;
  const scope = r.namespaced ? [pathParam('namespace')] : [];
  const item = {
    parameters: [pathParam('name'), ...scope, param('pretty')],
    get: op('get', { responses: ok('200') }),
    put: op('put', {
      parameters: WRITE_PARAMS,
      requestBody: body,
      responses: { ...ok('200'), ...ok('201') },
    }),
    patch: op('patch', {
      parameters: [...WRITE_PARAMS, param('force', bool)],
      requestBody: {
        content: Object.fromEntries(
          [
            'application/apply-patch+yaml',
            'application/json-patch+json',
            'application/merge-patch+json',
            'application/strategic-merge-patch+json',
          ].map((t) => [t, { schema: free }]),
        ),
        required: true,
      },
      responses: { ...ok('200'), ...ok('201') },
    }),
    delete: op('delete', {
      parameters: [param('dryRun'), param('gracePeriodSeconds', int)],
      responses: ok('200'),
    }),
  };
  const collection = {
    parameters: [...scope, param('pretty')],
    get: op('list', { responses: { '200': { description: 'OK' } } }),
    post: op('post', {
      parameters: WRITE_PARAMS,
      requestBody: body,
      responses: { ...ok('200'), ...ok('201') },
    }),
  };
  if (r.virtual) return { [base]: { parameters: collection.parameters, post: collection.post } };
  const paths: Record<string, Schema> = { [base]: collection, [`${base}/{name}`]: item };
  if (r.hasStatus) {
    paths[`${base}/{name}/status`] = {
      parameters: item.parameters,
      get: item.get,
      put: item.put,
      patch: item.patch,
    };
  }
  return paths;
}

/** The OpenAPI v3 document of one group version (`v1`, `apps/v1`), or undefined. */
export function openApiV3Document(groupVersion: string): object | undefined {
  const resources = RESOURCES.filter((r) => apiVersionOf(r) === groupVersion);
  if (resources.length === 0) return undefined;
  const schemas: Record<string, Schema> = { ...definitions() };
  let paths: Record<string, Schema> = {};
  for (const r of resources) {
    schemas[schemaName(r)] = obj(
      {
        apiVersion: str,
        kind: str,
        metadata: ref(`${META}.ObjectMeta`),
        ...kindProperties(r.kind),
      },
      { 'x-kubernetes-group-version-kind': [gvkOf(r)] },
    );
    paths = { ...paths, ...operations(r) };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'unversioned' },
    paths,
    components: { schemas },
  };
}

const HASHES = new Map<string, string>();
/** A stable hash of a group version's document, for the index's cache-busting URLs. */
export function openApiV3Hash(groupVersion: string): string {
  let hash = HASHES.get(groupVersion);
  if (hash === undefined) {
    hash = createHash('sha512')
      .update(JSON.stringify(openApiV3Document(groupVersion) ?? {}))
      .digest('hex')
      .slice(0, 128)
      .toUpperCase();
    HASHES.set(groupVersion, hash);
  }
  return hash;
}

/**
 * The `/openapi/v3` index. `serverRelativeURL` is used by client-go as a full request URI, so it
 * carries the path under which this cluster's API is mounted (`basePath`, e.g. `/k8s/<id>`).
 */
export function openApiV3Index(basePath: string): object {
  return {
    paths: Object.fromEntries(
      GROUP_VERSIONS.map((gv) => [
        prefixOf(gv),
        { serverRelativeURL: `${basePath}/openapi/v3/${prefixOf(gv)}?hash=${openApiV3Hash(gv)}` },
      ]),
    ),
  };
}

/** Maps `api/v1` / `apis/apps/v1` (the path after `/openapi/v3/`) to a group version. */
export function groupVersionOfOpenApiPath(path: string): string | undefined {
  if (path === 'api/v1') return 'v1';
  const match = /^apis\/([^/]+)\/([^/]+)$/.exec(path);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** A Swagger 2.0 document with the same definitions (no operations), for JSON clients of `/openapi/v2`. */
export function openApiV2Document(): object {
  const definitions: Record<string, unknown> = {};
  for (const gv of GROUP_VERSIONS) {
    const document = openApiV3Document(gv) as { components: { schemas: Record<string, unknown> } };
    Object.assign(definitions, document.components.schemas);
  }
  return JSON.parse(
    JSON.stringify({
      swagger: '2.0',
      info: { title: 'Kubernetes', version: 'unversioned' },
      paths: {},
      definitions,
    }).replaceAll('#/components/schemas/', '#/definitions/'),
  ) as object;
}
