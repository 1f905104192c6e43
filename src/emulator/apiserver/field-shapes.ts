/**
 * The shapes structured-merge-diff gives the fields of the kinds the emulator serves, as far as
 * field ownership (`managedFields`) sees them: which lists are keyed by merge keys (their items
 * owned one by one, `k:{"name":"kube-proxy"}`), which structs and maps are atomic (owned whole),
 * and which members are always there in the Go types (no `.` of their own in fieldsV1: non-pointer
 * structs and required fields). Anything not described is a map with optional members, and a list
 * not described is atomic.
 */

export interface Shape {
  /** Owned as a whole besides its members (`.` in fieldsV1) when it has members. */
  readonly dot: boolean;
  /** Owned as one value. */
  readonly atomic?: boolean;
  readonly fields?: Readonly<Record<string, Shape>>;
  /** A list keyed by these members of its items. */
  readonly keys?: readonly string[];
  readonly item?: Shape;
}

const MAP: Shape = { dot: true };
const STRUCT: Shape = { dot: false };
const ATOMIC: Shape = { dot: true, atomic: true };
const map = (fields: Record<string, Shape>): Shape => ({ dot: true, fields });
const struct = (fields: Record<string, Shape>): Shape => ({ dot: false, fields });
const list = (keys: readonly string[], item: Shape, dot = true): Shape => ({ dot, keys, item });

const CONTAINER = map({
  command: ATOMIC,
  args: ATOMIC,
  env: list(
    ['name'],
    map({
      valueFrom: map({
        fieldRef: ATOMIC,
        resourceFieldRef: ATOMIC,
        configMapKeyRef: ATOMIC,
        secretKeyRef: ATOMIC,
      }),
    }),
  ),
  envFrom: ATOMIC,
  ports: list(['containerPort', 'protocol'], MAP),
  volumeMounts: list(['mountPath'], MAP),
  volumeDevices: list(['devicePath'], MAP),
  resources: STRUCT,
});

const POD_SPEC = struct({
  containers: list(['name'], CONTAINER, false),
  initContainers: list(['name'], CONTAINER),
  ephemeralContainers: list(['name'], CONTAINER),
  volumes: list(
    ['name'],
    map({
      configMap: map({ items: ATOMIC }),
      secret: map({ items: ATOMIC }),
      projected: map({ sources: ATOMIC }),
    }),
  ),
  imagePullSecrets: list(['name'], MAP),
  hostAliases: list(['ip'], MAP),
  nodeSelector: ATOMIC,
  tolerations: ATOMIC,
  topologySpreadConstraints: list(['topologyKey', 'whenUnsatisfiable'], MAP),
});

const TEMPLATE = struct({ metadata: struct({}), spec: POD_SPEC });

const SPECS: Readonly<Record<string, Shape>> = {
  Pod: POD_SPEC,
  DaemonSet: struct({
    selector: ATOMIC,
    template: TEMPLATE,
    updateStrategy: struct({}),
  }),
  Deployment: struct({ selector: ATOMIC, template: TEMPLATE, strategy: struct({}) }),
  ReplicaSet: struct({ selector: ATOMIC, template: TEMPLATE }),
};

const METADATA = struct({ ownerReferences: list(['uid'], MAP), finalizers: ATOMIC });

const ROOTS = new Map<string, Shape>();

/** The shape of an object of `kind`: the root is a struct whose own members are too. */
export function rootShape(kind: string): Shape {
  let shape = ROOTS.get(kind);
  if (shape === undefined) {
    shape = struct({
      metadata: METADATA,
      spec: SPECS[kind] ?? STRUCT,
      status: STRUCT,
      data: MAP,
      binaryData: MAP,
      stringData: MAP,
    });
    ROOTS.set(kind, shape);
  }
  return shape;
}

/** The shape of member `key` of a value of shape `parent` (at the root, an undescribed member is a struct). */
export function memberShape(parent: Shape, key: string, atRoot: boolean): Shape {
  return parent.fields?.[key] ?? (atRoot ? STRUCT : MAP);
}
