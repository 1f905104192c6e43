/**
 * Request bodies in the Kubernetes protobuf encoding (`application/vnd.kubernetes.protobuf`).
 *
 * client-go ≥ 1.32 sends typed-client writes (`kubectl create namespace|configmap|secret|…`, and the
 * DeleteOptions of typed deletes) as protobuf and has no fallback to JSON (its HTTP 415 fallback only
 * covers CBOR), so the emulator decodes them. The body is the `k8s\0` magic then a `runtime.Unknown`
 * {typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} whose `raw` is the object's own
 * protobuf message. Decoding is driven by small schemas of the messages the emulator accepts; it turns
 * the message into the JSON a Go client would have sent (gogo-protobuf always writes non-pointer
 * fields, so their zero values are dropped as `omitempty` would). A field the schema does not know
 * fails the request rather than being dropped silently.
 */
import type { Json, JsonObject } from './objects.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
export const PROTOBUF_TYPE = 'application/vnd.kubernetes.protobuf';

/** A body the emulator cannot decode: the route answers 415 or 400. */
export class ProtobufError extends Error {
  readonly unsupportedKind: boolean;
  constructor(message: string, unsupportedKind = false) {
    super(message);
    this.name = 'ProtobufError';
    this.unsupportedKind = unsupportedKind;
  }
}

type Scalar = 'string' | 'bytes' | 'bool' | 'int32' | 'int64';
interface Message {
  readonly name: string;
  readonly fields: Readonly<Record<number, Field>>;
  /** Replaces the decoded object (Time → RFC 3339 string, Quantity → string, …). */
  readonly convert?: (decoded: JsonObject) => Json | undefined;
}
interface Field {
  readonly json: string;
  readonly type: Scalar | Message | { readonly map: Scalar | Message };
  readonly repeated?: boolean;
  /** A Go pointer: only sent when set, so zero values are kept. */
  readonly pointer?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Wire format

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 63n) throw new ProtobufError('varint too long');
    }
  }
  bytes(): Buffer {
    const length = Number(this.varint());
    if (this.pos + length > this.buf.length) throw new ProtobufError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        return;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wireType}`);
    }
  }
}

/** Every field of a message, in order, as raw values. */
function* fieldsOf(buf: Buffer): Generator<{ number: number; wireType: number; value: bigint | Buffer }> {
  const reader = new Reader(buf);
  while (!reader.done) {
    const tag = Number(reader.varint());
    const number = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 0) yield { number, wireType, value: reader.varint() };
    else if (wireType === 2) yield { number, wireType, value: reader.bytes() };
    else {
      reader.skip(wireType);
      throw new ProtobufError(`unexpected wire type ${wireType} for field ${number}`);
    }
  }
}

function scalar(type: Scalar, wireType: number, value: bigint | Buffer, where: string): Json {
  if (type === 'string' || type === 'bytes') {
    if (!Buffer.isBuffer(value)) throw new ProtobufError(`${where}: expected a length-delimited field`);
    return type === 'string' ? value.toString('utf8') : value.toString('base64');
  }
  if (wireType !== 0 || Buffer.isBuffer(value)) throw new ProtobufError(`${where}: expected a varint`);
  if (type === 'bool') return value !== 0n;
  const signed = type === 'int32' ? BigInt.asIntN(32, value) : BigInt.asIntN(64, value);
  return Number(signed);
}

const isZero = (value: Json | undefined): boolean =>
  value === undefined ||
  value === '' ||
  value === 0 ||
  value === false ||
  value === null ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0);

function decodeValue(
  type: Scalar | Message,
  wireType: number,
  value: bigint | Buffer,
  where: string,
): Json | undefined {
  if (typeof type === 'string') return scalar(type, wireType, value, where);
  if (!Buffer.isBuffer(value)) throw new ProtobufError(`${where}: expected a message`);
  return decodeMessage(type, value, where);
}

function decodeMessage(message: Message, buf: Buffer, where: string): Json | undefined {
  const out: JsonObject = {};
  const lists = new Map<string, Json[]>();
  const maps = new Map<string, JsonObject>();
  for (const { number, wireType, value } of fieldsOf(buf)) {
    const field = message.fields[number];
    const path = `${where}.${field?.json ?? `#${number}`}`;
    if (field === undefined) {
      throw new ProtobufError(
        `field ${number} of ${message.name} (at ${where}) is not supported by the emulator's protobuf decoder; send JSON`,
      );
    }
    const { type } = field;
    if (typeof type === 'object' && 'map' in type) {
      if (!Buffer.isBuffer(value)) throw new ProtobufError(`${path}: expected a map entry`);
      let key = '';
      let entry: Json | undefined;
      for (const part of fieldsOf(value)) {
        if (part.number === 1) key = String(scalar('string', part.wireType, part.value, path));
        else if (part.number === 2)
          entry = decodeValue(type.map, part.wireType, part.value, `${path}[${key}]`);
      }
      const map = maps.get(field.json) ?? {};
      map[key] = entry ?? (type.map === 'string' || type.map === 'bytes' ? '' : {});
      maps.set(field.json, map);
      continue;
    }
    if (field.repeated) {
      const list = lists.get(field.json) ?? [];
      if (typeof type === 'string' && type !== 'string' && type !== 'bytes' && Buffer.isBuffer(value)) {
        // A packed repeated scalar.
        const reader = new Reader(value);
        while (!reader.done) list.push(scalar(type, 0, reader.varint(), path));
      } else {
        list.push(decodeValue(type, wireType, value, path) ?? {});
      }
      lists.set(field.json, list);
      continue;
    }
    const decoded = decodeValue(type, wireType, value, path);
    if (decoded === undefined || (!field.pointer && isZero(decoded))) delete out[field.json];
    else out[field.json] = decoded;
  }
  for (const [key, list] of lists) out[key] = list;
  for (const [key, map] of maps) out[key] = map;
  return message.convert === undefined ? out : message.convert(out);
}

// ---------------------------------------------------------------------------------------------
// Schemas (field numbers from k8s.io/api and k8s.io/apimachinery generated.proto)

const msg = (name: string, fields: Record<number, Field>, convert?: Message['convert']): Message => ({
  name,
  fields,
  ...(convert === undefined ? {} : { convert }),
});
const f = (json: string, type: Field['type'], options: { repeated?: boolean; pointer?: boolean } = {}) => ({
  json,
  type,
  ...options,
});

const Time = msg('Time', { 1: f('seconds', 'int64'), 2: f('nanos', 'int32') }, (t) => {
  const seconds = typeof t.seconds === 'number' ? t.seconds : 0;
  if (seconds === 0 && !t.nanos) return undefined;
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}Z`;
});
const IntOrString = msg(
  'IntOrString',
  {
    1: f('type', 'int64', { pointer: true }),
    2: f('intVal', 'int32', { pointer: true }),
    3: f('strVal', 'string'),
  },
  (v) => (v.type === 1 ? (v.strVal ?? '') : (v.intVal ?? 0)),
);
const FieldsV1 = msg('FieldsV1', { 1: f('raw', 'bytes') }, (v) =>
  typeof v.raw === 'string' ? (JSON.parse(Buffer.from(v.raw, 'base64').toString('utf8')) as Json) : {},
);

const OwnerReference = msg('OwnerReference', {
  1: f('kind', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('controller', 'bool', { pointer: true }),
  7: f('blockOwnerDeletion', 'bool', { pointer: true }),
});
const ManagedFieldsEntry = msg('ManagedFieldsEntry', {
  1: f('manager', 'string'),
  2: f('operation', 'string'),
  3: f('apiVersion', 'string'),
  4: f('time', Time, { pointer: true }),
  6: f('fieldsType', 'string'),
  7: f('fieldsV1', FieldsV1, { pointer: true }),
  8: f('subresource', 'string'),
});
const ObjectMeta = msg('ObjectMeta', {
  1: f('name', 'string'),
  2: f('generateName', 'string'),
  3: f('namespace', 'string'),
  4: f('selfLink', 'string'),
  5: f('uid', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('generation', 'int64'),
  8: f('creationTimestamp', Time),
  9: f('deletionTimestamp', Time, { pointer: true }),
  10: f('deletionGracePeriodSeconds', 'int64', { pointer: true }),
  11: f('labels', { map: 'string' }),
  12: f('annotations', { map: 'string' }),
  13: f('ownerReferences', OwnerReference, { repeated: true }),
  14: f('finalizers', 'string', { repeated: true }),
  17: f('managedFields', ManagedFieldsEntry, { repeated: true }),
});
const LocalObjectReference = msg('LocalObjectReference', { 1: f('name', 'string') });
const ObjectReference = msg('ObjectReference', {
  1: f('kind', 'string'),
  2: f('namespace', 'string'),
  3: f('name', 'string'),
  4: f('uid', 'string'),
  5: f('apiVersion', 'string'),
  6: f('resourceVersion', 'string'),
  7: f('fieldPath', 'string'),
});
const NamespaceCondition = msg('NamespaceCondition', {
  1: f('type', 'string'),
  2: f('status', 'string'),
  4: f('lastTransitionTime', Time),
  5: f('reason', 'string'),
  6: f('message', 'string'),
});

const Namespace = msg('Namespace', {
  1: f('metadata', ObjectMeta),
  2: f('spec', msg('NamespaceSpec', { 1: f('finalizers', 'string', { repeated: true }) })),
  3: f(
    'status',
    msg('NamespaceStatus', {
      1: f('phase', 'string'),
      2: f('conditions', NamespaceCondition, { repeated: true }),
    }),
  ),
});
const ConfigMap = msg('ConfigMap', {
  1: f('metadata', ObjectMeta),
  2: f('data', { map: 'string' }),
  3: f('binaryData', { map: 'bytes' }),
  4: f('immutable', 'bool', { pointer: true }),
});
const Secret = msg('Secret', {
  1: f('metadata', ObjectMeta),
  2: f('data', { map: 'bytes' }),
  3: f('type', 'string'),
  4: f('stringData', { map: 'string' }),
  5: f('immutable', 'bool', { pointer: true }),
});
const ServiceAccount = msg('ServiceAccount', {
  1: f('metadata', ObjectMeta),
  2: f('secrets', ObjectReference, { repeated: true }),
  3: f('imagePullSecrets', LocalObjectReference, { repeated: true }),
  4: f('automountServiceAccountToken', 'bool', { pointer: true }),
});
const ServicePort = msg('ServicePort', {
  1: f('name', 'string'),
  2: f('protocol', 'string'),
  3: f('port', 'int32'),
  4: f('targetPort', IntOrString),
  5: f('nodePort', 'int32'),
  6: f('appProtocol', 'string', { pointer: true }),
});
const Service = msg('Service', {
  1: f('metadata', ObjectMeta),
  2: f(
    'spec',
    msg('ServiceSpec', {
      1: f('ports', ServicePort, { repeated: true }),
      2: f('selector', { map: 'string' }),
      3: f('clusterIP', 'string'),
      4: f('type', 'string'),
      5: f('externalIPs', 'string', { repeated: true }),
      7: f('sessionAffinity', 'string'),
      8: f('loadBalancerIP', 'string'),
      9: f('loadBalancerSourceRanges', 'string', { repeated: true }),
      10: f('externalName', 'string'),
      11: f('externalTrafficPolicy', 'string'),
      12: f('healthCheckNodePort', 'int32'),
      13: f('publishNotReadyAddresses', 'bool'),
      17: f('ipFamilyPolicy', 'string', { pointer: true }),
      18: f('clusterIPs', 'string', { repeated: true }),
      19: f('ipFamilies', 'string', { repeated: true }),
      20: f('allocateLoadBalancerNodePorts', 'bool', { pointer: true }),
      21: f('loadBalancerClass', 'string', { pointer: true }),
      22: f('internalTrafficPolicy', 'string', { pointer: true }),
      23: f('trafficDistribution', 'string', { pointer: true }),
    }),
  ),
  // A client never sends a status worth keeping; an empty one is accepted.
  3: f('status', msg('ServiceStatus', { 1: f('loadBalancer', msg('LoadBalancerStatus', {})) })),
});

const LabelSelector = msg('LabelSelector', {
  1: f('matchLabels', { map: 'string' }),
  2: f(
    'matchExpressions',
    msg('LabelSelectorRequirement', {
      1: f('key', 'string'),
      2: f('operator', 'string'),
      3: f('values', 'string', { repeated: true }),
    }),
    { repeated: true },
  ),
});
const Quantity = msg('Quantity', { 1: f('string', 'string') }, (q) =>
  typeof q.string === 'string' ? q.string : '',
);
const Container = msg('Container', {
  1: f('name', 'string'),
  2: f('image', 'string'),
  3: f('command', 'string', { repeated: true }),
  4: f('args', 'string', { repeated: true }),
  5: f('workingDir', 'string'),
  6: f(
    'ports',
    msg('ContainerPort', {
      1: f('name', 'string'),
      2: f('hostPort', 'int32'),
      3: f('containerPort', 'int32'),
      4: f('protocol', 'string'),
      5: f('hostIP', 'string'),
    }),
    { repeated: true },
  ),
  7: f('env', msg('EnvVar', { 1: f('name', 'string'), 2: f('value', 'string') }), { repeated: true }),
  8: f(
    'resources',
    msg('ResourceRequirements', { 1: f('limits', { map: Quantity }), 2: f('requests', { map: Quantity }) }),
  ),
  13: f('terminationMessagePath', 'string'),
  14: f('imagePullPolicy', 'string'),
  16: f('stdin', 'bool'),
  17: f('stdinOnce', 'bool'),
  18: f('tty', 'bool'),
  20: f('terminationMessagePolicy', 'string'),
});
/** The parts of a pod spec `kubectl create` fills (containers); other fields are refused by number. */
const PodSpec = msg('PodSpec', {
  2: f('containers', Container, { repeated: true }),
  3: f('restartPolicy', 'string'),
  4: f('terminationGracePeriodSeconds', 'int64', { pointer: true }),
  6: f('dnsPolicy', 'string'),
  7: f('nodeSelector', { map: 'string' }),
  8: f('serviceAccountName', 'string'),
  9: f('serviceAccount', 'string'),
  10: f('nodeName', 'string'),
  11: f('hostNetwork', 'bool'),
  12: f('hostPID', 'bool'),
  13: f('hostIPC', 'bool'),
  16: f('hostname', 'string'),
  17: f('subdomain', 'string'),
  19: f('schedulerName', 'string'),
  20: f('initContainers', Container, { repeated: true }),
  24: f('priorityClassName', 'string'),
});
const PodTemplateSpec = msg('PodTemplateSpec', { 1: f('metadata', ObjectMeta), 2: f('spec', PodSpec) });
const Deployment = msg('Deployment', {
  1: f('metadata', ObjectMeta),
  2: f(
    'spec',
    msg('DeploymentSpec', {
      1: f('replicas', 'int32', { pointer: true }),
      2: f('selector', LabelSelector, { pointer: true }),
      3: f('template', PodTemplateSpec),
      4: f(
        'strategy',
        msg('DeploymentStrategy', {
          1: f('type', 'string'),
          2: f(
            'rollingUpdate',
            msg('RollingUpdateDeployment', {
              1: f('maxUnavailable', IntOrString),
              2: f('maxSurge', IntOrString),
            }),
            { pointer: true },
          ),
        }),
      ),
      5: f('minReadySeconds', 'int32'),
      6: f('revisionHistoryLimit', 'int32', { pointer: true }),
      7: f('paused', 'bool'),
      9: f('progressDeadlineSeconds', 'int32', { pointer: true }),
    }),
  ),
  // A client never sends a status worth keeping; an empty one is accepted.
  3: f(
    'status',
    msg('DeploymentStatus', {
      1: f('observedGeneration', 'int64'),
      2: f('replicas', 'int32'),
      3: f('updatedReplicas', 'int32'),
      4: f('availableReplicas', 'int32'),
      5: f('unavailableReplicas', 'int32'),
      7: f('readyReplicas', 'int32'),
    }),
  ),
});

const DeleteOptions = msg('DeleteOptions', {
  1: f('gracePeriodSeconds', 'int64', { pointer: true }),
  2: f(
    'preconditions',
    msg('Preconditions', {
      1: f('uid', 'string', { pointer: true }),
      2: f('resourceVersion', 'string', { pointer: true }),
    }),
    { pointer: true },
  ),
  3: f('orphanDependents', 'bool', { pointer: true }),
  4: f('propagationPolicy', 'string', { pointer: true }),
  5: f('dryRun', 'string', { repeated: true }),
  6: f('ignoreStoreReadErrorWithClusterBreakingPotential', 'bool', { pointer: true }),
});

// rbac.authorization.k8s.io/v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`)
const PolicyRule = msg('PolicyRule', {
  1: f('verbs', 'string', { repeated: true }),
  2: f('apiGroups', 'string', { repeated: true }),
  3: f('resources', 'string', { repeated: true }),
  4: f('resourceNames', 'string', { repeated: true }),
  5: f('nonResourceURLs', 'string', { repeated: true }),
});
const Role = msg('Role', { 1: f('metadata', ObjectMeta), 2: f('rules', PolicyRule, { repeated: true }) });
const ClusterRole = msg('ClusterRole', {
  1: f('metadata', ObjectMeta),
  2: f('rules', PolicyRule, { repeated: true }),
  3: f(
    'aggregationRule',
    msg('AggregationRule', { 1: f('clusterRoleSelectors', LabelSelector, { repeated: true }) }),
    { pointer: true },
  ),
});
const RoleBinding = msg('RoleBinding', {
  1: f('metadata', ObjectMeta),
  2: f(
    'subjects',
    msg('Subject', {
      1: f('kind', 'string'),
      2: f('apiGroup', 'string'),
      3: f('name', 'string'),
      4: f('namespace', 'string'),
    }),
    { repeated: true },
  ),
  3: f(
    'roleRef',
    msg('RoleRef', { 1: f('apiGroup', 'string'), 2: f('kind', 'string'), 3: f('name', 'string') }),
  ),
});

// authorization.k8s.io/v1 and authentication.k8s.io/v1 (`kubectl auth can-i|whoami`)
const selectorAttributes = (name: string) =>
  msg(name, {
    1: f('rawSelector', 'string'),
    2: f(
      'requirements',
      msg('Requirement', {
        1: f('key', 'string'),
        2: f('operator', 'string'),
        3: f('values', 'string', { repeated: true }),
      }),
      { repeated: true },
    ),
  });
const ResourceAttributes = msg('ResourceAttributes', {
  1: f('namespace', 'string'),
  2: f('verb', 'string'),
  3: f('group', 'string'),
  4: f('version', 'string'),
  5: f('resource', 'string'),
  6: f('subresource', 'string'),
  7: f('name', 'string'),
  8: f('fieldSelector', selectorAttributes('FieldSelectorAttributes'), { pointer: true }),
  9: f('labelSelector', selectorAttributes('LabelSelectorAttributes'), { pointer: true }),
});
const NonResourceAttributes = msg('NonResourceAttributes', {
  1: f('path', 'string'),
  2: f('verb', 'string'),
});
const SubjectAccessReviewStatus = msg('SubjectAccessReviewStatus', {
  1: f('allowed', 'bool'),
  2: f('reason', 'string'),
  3: f('evaluationError', 'string'),
  4: f('denied', 'bool'),
});
const SelfSubjectAccessReview = msg('SelfSubjectAccessReview', {
  1: f('metadata', ObjectMeta),
  2: f(
    'spec',
    msg('SelfSubjectAccessReviewSpec', {
      1: f('resourceAttributes', ResourceAttributes, { pointer: true }),
      2: f('nonResourceAttributes', NonResourceAttributes, { pointer: true }),
    }),
  ),
  3: f('status', SubjectAccessReviewStatus),
});
const SelfSubjectRulesReview = msg('SelfSubjectRulesReview', {
  1: f('metadata', ObjectMeta),
  2: f('spec', msg('SelfSubjectRulesReviewSpec', { 1: f('namespace', 'string') })),
  3: f(
    'status',
    msg('SubjectRulesReviewStatus', {
      1: f('resourceRules', PolicyRule, { repeated: true }),
      2: f('nonResourceRules', PolicyRule, { repeated: true }),
      3: f('incomplete', 'bool'),
      4: f('evaluationError', 'string'),
    }),
  ),
});
const SelfSubjectReview = msg('SelfSubjectReview', {
  1: f('metadata', ObjectMeta),
  2: f(
    'status',
    msg('SelfSubjectReviewStatus', {
      1: f(
        'userInfo',
        msg('UserInfo', {
          1: f('username', 'string'),
          2: f('uid', 'string'),
          3: f('groups', 'string', { repeated: true }),
          4: f('extra', {
            map: msg('ExtraValue', { 1: f('items', 'string', { repeated: true }) }, (v) => v.items ?? []),
          }),
        }),
      ),
    }),
  ),
});

/** The kinds whose protobuf encoding the emulator reads, by `apiVersion/kind`. */
const KINDS: Readonly<Record<string, Message>> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': RoleBinding,
  'authorization.k8s.io/v1/SelfSubjectAccessReview': SelfSubjectAccessReview,
  'authorization.k8s.io/v1/SelfSubjectRulesReview': SelfSubjectRulesReview,
  'authentication.k8s.io/v1/SelfSubjectReview': SelfSubjectReview,
  'meta.k8s.io/v1/DeleteOptions': DeleteOptions,
  // Typed clients of the core group send DeleteOptions with the group version of the resource.
  'v1/DeleteOptions': DeleteOptions,
  'apps/v1/DeleteOptions': DeleteOptions,
};

const Unknown = msg('Unknown', {
  1: f('typeMeta', msg('TypeMeta', { 1: f('apiVersion', 'string'), 2: f('kind', 'string') })),
  2: f('raw', 'bytes'),
  3: f('contentEncoding', 'string'),
  4: f('contentType', 'string'),
});

/** Whether the body starts with the Kubernetes protobuf magic `k8s\0`. */
export const isKubeProtobuf = (body: Buffer): boolean =>
  body.length >= MAGIC.length && body.subarray(0, MAGIC.length).equals(MAGIC);

/**
 * Decodes a `k8s\0`-prefixed protobuf body into the JSON object a client would have sent, with
 * `apiVersion` and `kind` set from the envelope.
 */
export function decodeKubeProtobuf(body: Buffer): JsonObject {
  if (!isKubeProtobuf(body)) throw new ProtobufError('the protobuf body does not start with the k8s magic');
  const envelope = decodeMessage(Unknown, body.subarray(MAGIC.length), 'Unknown') as JsonObject;
  const typeMeta = (envelope.typeMeta ?? {}) as JsonObject;
  const apiVersion = typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : '';
  const kind = typeof typeMeta.kind === 'string' ? typeMeta.kind : '';
  if (envelope.contentEncoding !== undefined && envelope.contentEncoding !== '') {
    throw new ProtobufError(`unsupported protobuf content encoding ${String(envelope.contentEncoding)}`);
  }
  const schema = KINDS[`${apiVersion}/${kind}`];
  if (schema === undefined) {
    throw new ProtobufError(
      `the emulator does not decode ${kind || 'objects'} (${apiVersion || 'unknown version'}) sent as ${PROTOBUF_TYPE}; send application/json`,
      true,
    );
  }
  const raw = typeof envelope.raw === 'string' ? Buffer.from(envelope.raw, 'base64') : Buffer.alloc(0);
  const object = (decodeMessage(schema, raw, kind) ?? {}) as JsonObject;
  return { apiVersion, kind, ...object };
}
