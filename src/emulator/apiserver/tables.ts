/**
 * Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for (`Accept: …;as=Table`), with
 * the columns a real API server prints for each resource, so `kubectl get [-o wide]` looks real.
 */
import { isObject, type JsonObject, type KubeObject } from './objects.ts';
import type { ResourceType } from './resources.ts';

type Column = { name: string; type: string; format?: string; priority?: number; description: string };
type Printer = { columns: Column[]; cells(o: KubeObject, now: Date): (string | number)[] };

const col = (name: string, type = 'string', priority = 0, format = ''): Column => ({
  name,
  type,
  format,
  description: name,
  priority,
});

/** Kubernetes' duration.HumanDuration (what AGE shows). */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 192) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

const age = (o: KubeObject, now: Date) => {
  const created = Date.parse(o.metadata.creationTimestamp ?? '');
  return Number.isNaN(created) ? '<unknown>' : humanDuration(now.getTime() - created);
};
const obj = (v: unknown): JsonObject => (isObject(v) ? v : {});
const selectorText = (selector: unknown) =>
  Object.entries(obj(obj(selector).matchLabels ?? selector))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',') || '<none>';

function podStatus(pod: KubeObject): string {
  const status = obj(pod.status);
  let reason = String(status.reason ?? status.phase ?? 'Pending');
  for (const cs of (status.containerStatuses ?? []) as JsonObject[]) {
    const state = obj(cs.state);
    if (isObject(state.waiting) && state.waiting.reason !== undefined) reason = String(state.waiting.reason);
    else if (isObject(state.terminated)) reason = String(state.terminated.reason ?? 'Error');
  }
  if (pod.metadata.deletionTimestamp !== undefined) reason = 'Terminating';
  return reason;
}

function podRestarts(pod: KubeObject, now: Date): string {
  const statuses = (obj(pod.status).containerStatuses ?? []) as JsonObject[];
  const restarts = statuses.reduce((n, cs) => n + Number(cs.restartCount ?? 0), 0);
  const last = statuses
    .map((cs) => Date.parse(String(obj(obj(cs.lastState).terminated).finishedAt ?? '')))
    .filter((t) => !Number.isNaN(t))
    .sort()
    .at(-1);
  return restarts > 0 && last !== undefined
    ? `${restarts} (${humanDuration(now.getTime() - last)} ago)`
    : String(restarts);
}

/** RBAC roles: their name and creation time. */
const CREATED_AT: Printer = {
  columns: [col('Name', 'string', 0, 'name'), col('Created At', 'date')],
  cells: (o) => [o.metadata.name ?? '', o.metadata.creationTimestamp ?? ''],
};

/** RBAC bindings: the role, and (wide) who it is bound to. */
const BINDING: Printer = {
  columns: [
    col('Name', 'string', 0, 'name'),
    col('Role'),
    col('Age'),
    col('Users', 'string', 1),
    col('Groups', 'string', 1),
    col('ServiceAccounts', 'string', 1),
  ],
  cells(o, now) {
    const subjects = (o.subjects ?? []) as JsonObject[];
    const of = (kind: string) =>
      subjects
        .filter((s) => s.kind === kind)
        .map((s) => (kind === 'ServiceAccount' ? `${s.namespace ?? ''}/${s.name}` : String(s.name)))
        .join(', ');
    const role = obj(o.roleRef);
    return [
      o.metadata.name ?? '',
      `${String(role.kind ?? '')}/${String(role.name ?? '')}`,
      age(o, now),
      of('User'),
      of('Group'),
      of('ServiceAccount'),
    ];
  },
};

/** The wide columns of a workload: its template's containers and images, and its selector. */
const TEMPLATE_COLUMNS = [
  col('Containers', 'string', 1),
  col('Images', 'string', 1),
  col('Selector', 'string', 1),
];

function templateCells(o: KubeObject): string[] {
  const containers = (obj(obj(obj(obj(o.spec).template).spec)).containers ?? []) as JsonObject[];
  return [
    containers.map((c) => String(c.name)).join(','),
    containers.map((c) => String(c.image)).join(','),
    selectorText(obj(o.spec).selector),
  ];
}

const PRINTERS: Readonly<Record<string, Printer>> = {
  pods: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Status'),
      col('Restarts'),
      col('Age'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells(o, now) {
      const statuses = (obj(o.status).containerStatuses ?? []) as JsonObject[];
      const containers = (obj(o.spec).containers ?? []) as JsonObject[];
      const ready = statuses.filter((cs) => cs.ready === true).length;
      return [
        o.metadata.name ?? '',
        `${ready}/${containers.length}`,
        podStatus(o),
        podRestarts(o, now),
        age(o, now),
        String(obj(o.status).podIP ?? '<none>'),
        String(obj(o.spec).nodeName ?? '<none>'),
        '<none>',
        '<none>',
      ];
    },
  },
  nodes: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Status'),
      col('Roles'),
      col('Age'),
      col('Version'),
      col('Internal-IP', 'string', 1),
      col('External-IP', 'string', 1),
      col('OS-Image', 'string', 1),
      col('Kernel-Version', 'string', 1),
      col('Container-Runtime', 'string', 1),
    ],
    cells(o, now) {
      const status = obj(o.status);
      const ready = ((status.conditions ?? []) as JsonObject[]).find((c) => c.type === 'Ready');
      const addresses = (status.addresses ?? []) as JsonObject[];
      const info = obj(status.nodeInfo);
      const roles = Object.keys(o.metadata.labels ?? {})
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length));
      return [
        o.metadata.name ?? '',
        // As the API server's printer: a cordoned node adds SchedulingDisabled to its status.
        `${ready?.status === 'True' ? 'Ready' : 'NotReady'}${obj(o.spec).unschedulable === true ? ',SchedulingDisabled' : ''}`,
        roles.length > 0 ? roles.join(',') : '<none>',
        age(o, now),
        String(info.kubeletVersion ?? ''),
        String(addresses.find((a) => a.type === 'InternalIP')?.address ?? '<none>'),
        String(addresses.find((a) => a.type === 'ExternalIP')?.address ?? '<none>'),
        String(info.osImage ?? ''),
        String(info.kernelVersion ?? ''),
        String(info.containerRuntimeVersion ?? ''),
      ];
    },
  },
  daemonsets: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Node Selector'),
      col('Age'),
      ...TEMPLATE_COLUMNS,
    ],
    cells(o, now) {
      const s = obj(o.status);
      const podSpec = obj(obj(obj(o.spec).template).spec);
      const nodeSelector = Object.entries(obj(podSpec.nodeSelector)).map(([k, v]) => `${k}=${String(v)}`);
      return [
        o.metadata.name ?? '',
        Number(s.desiredNumberScheduled ?? 0),
        Number(s.currentNumberScheduled ?? 0),
        Number(s.numberReady ?? 0),
        Number(s.updatedNumberScheduled ?? 0),
        Number(s.numberAvailable ?? 0),
        nodeSelector.length > 0 ? nodeSelector.join(',') : '<none>',
        age(o, now),
        ...templateCells(o),
      ];
    },
  },
  deployments: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Age'),
      ...TEMPLATE_COLUMNS,
    ],
    cells(o, now) {
      const s = obj(o.status);
      return [
        o.metadata.name ?? '',
        `${Number(s.readyReplicas ?? 0)}/${Number(obj(o.spec).replicas ?? 1)}`,
        Number(s.updatedReplicas ?? 0),
        Number(s.availableReplicas ?? 0),
        age(o, now),
        ...templateCells(o),
      ];
    },
  },
  replicasets: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Age'),
      ...TEMPLATE_COLUMNS,
    ],
    cells(o, now) {
      const s = obj(o.status);
      return [
        o.metadata.name ?? '',
        Number(obj(o.spec).replicas ?? 1),
        Number(s.replicas ?? 0),
        Number(s.readyReplicas ?? 0),
        age(o, now),
        ...templateCells(o),
      ];
    },
  },
  configmaps: {
    columns: [col('Name', 'string', 0, 'name'), col('Data', 'integer'), col('Age')],
    cells: (o, now) => [
      o.metadata.name ?? '',
      Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length,
      age(o, now),
    ],
  },
  serviceaccounts: {
    columns: [col('Name', 'string', 0, 'name'), col('Secrets', 'integer'), col('Age')],
    cells: (o, now) => [o.metadata.name ?? '', ((o.secrets ?? []) as unknown[]).length, age(o, now)],
  },
  secrets: {
    columns: [col('Name', 'string', 0, 'name'), col('Type'), col('Data', 'integer'), col('Age')],
    cells: (o, now) => [
      o.metadata.name ?? '',
      String(o.type ?? 'Opaque'),
      Object.keys(obj(o.data)).length,
      age(o, now),
    ],
  },
  services: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Type'),
      col('Cluster-IP'),
      col('External-IP'),
      col('Port(s)'),
      col('Age'),
      col('Selector', 'string', 1),
    ],
    cells(o, now) {
      const spec = obj(o.spec);
      const type = String(spec.type ?? 'ClusterIP');
      const ingress = (obj(obj(o.status).loadBalancer).ingress ?? []) as JsonObject[];
      const external =
        type === 'ExternalName'
          ? String(spec.externalName ?? '<none>')
          : type === 'LoadBalancer'
            ? ingress.map((i) => String(i.ip ?? i.hostname)).join(',') || '<pending>'
            : ((spec.externalIPs ?? []) as string[]).join(',') || '<none>';
      const ports = ((spec.ports ?? []) as JsonObject[])
        .map((p) => `${p.port}${p.nodePort === undefined ? '' : `:${p.nodePort}`}/${p.protocol ?? 'TCP'}`)
        .join(',');
      return [
        o.metadata.name ?? '',
        type,
        String(spec.clusterIP ?? '<none>'),
        external,
        ports || '<none>',
        age(o, now),
        selectorText(spec.selector),
      ];
    },
  },
  'roles.rbac.authorization.k8s.io': CREATED_AT,
  'clusterroles.rbac.authorization.k8s.io': CREATED_AT,
  'rolebindings.rbac.authorization.k8s.io': BINDING,
  'clusterrolebindings.rbac.authorization.k8s.io': BINDING,
  'storageclasses.storage.k8s.io': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Provisioner'),
      col('ReclaimPolicy'),
      col('VolumeBindingMode'),
      col('AllowVolumeExpansion'),
      col('Age'),
    ],
    cells: (o, now) => [
      o.metadata.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true'
        ? `${o.metadata.name} (default)`
        : (o.metadata.name ?? ''),
      String(o.provisioner ?? ''),
      String(o.reclaimPolicy ?? 'Delete'),
      String(o.volumeBindingMode ?? 'Immediate'),
      String(o.allowVolumeExpansion ?? false),
      age(o, now),
    ],
  },
  namespaces: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Age')],
    cells: (o, now) => [o.metadata.name ?? '', String(obj(o.status).phase ?? 'Active'), age(o, now)],
  },
  controllerrevisions: {
    columns: [col('Name', 'string', 0, 'name'), col('Controller'), col('Revision', 'integer'), col('Age')],
    cells: (o, now) => {
      const owner = (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
      return [
        o.metadata.name ?? '',
        owner === undefined ? '<none>' : `${String(owner.kind).toLowerCase()}.apps/${String(owner.name)}`,
        Number(o.revision ?? 0),
        age(o, now),
      ];
    },
  },
  events: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Message')],
    cells: (o, now) => {
      const involved = obj(o.involvedObject);
      return [
        humanDuration(now.getTime() - Date.parse(String(o.lastTimestamp ?? o.metadata.creationTimestamp))),
        String(o.type ?? ''),
        String(o.reason ?? ''),
        `${String(involved.kind ?? '').toLowerCase()}/${String(involved.name ?? '')}`,
        String(o.message ?? ''),
      ];
    },
  },
};

const DEFAULT_PRINTER: Printer = {
  columns: [col('Name', 'string', 0, 'name'), col('Age')],
  cells: (o, now) => [o.metadata.name ?? '', age(o, now)],
};

/** Whether the Accept header asks for a Table. */
export const wantsTable = (accept: string | undefined): boolean => accept?.includes('as=Table') === true;

export function toTable(
  resource: ResourceType,
  items: readonly KubeObject[],
  resourceVersion: string,
  now: Date,
  includeObject: string | undefined,
): JsonObject {
  const printer = PRINTERS[resource.storage] ?? DEFAULT_PRINTER;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: printer.columns as unknown as JsonObject[],
    rows: items.map((item) => ({
      cells: printer.cells(item, now),
      object:
        includeObject === 'Object'
          ? (item as unknown as JsonObject)
          : includeObject === 'None'
            ? null
            : ({
                kind: 'PartialObjectMetadata',
                apiVersion: 'meta.k8s.io/v1',
                metadata: item.metadata,
              } as unknown as JsonObject),
    })),
  };
}
