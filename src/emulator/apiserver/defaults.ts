/**
 * kube-apiserver's defaulting of the workload kinds the emulator serves (the subset of
 * pkg/apis/core/v1 and apps/v1 defaults an object read back shows): pod specs, wherever they are
 * (pods, and the templates of DaemonSets, Deployments and ReplicaSets), and the workloads' own
 * spec. Applied to every write before generations are counted, so a manifest that leaves a
 * default out and one that spells it out are the same object, as on a real cluster.
 */
import { clone, deepEqual, isObject, type JsonObject, type KubeObject } from './objects.ts';
import { RESOURCE, type ResourceType } from './resources.ts';

/** While `needsDefaults` probes a spec: a default that would be set is only noted, not set. */
let probing = false;
let missing = false;

const setDefault = (object: JsonObject, key: string, value: JsonObject[string]) => {
  if (object[key] !== undefined) return;
  if (probing) missing = true;
  else object[key] = value;
};

function defaultContainer(container: JsonObject): void {
  const image = String(container.image ?? '');
  const tag = /:([^/:@]+)$/.exec(image)?.[1];
  setDefault(
    container,
    'imagePullPolicy',
    image.includes('@') || (tag !== undefined && tag !== 'latest') ? 'IfNotPresent' : 'Always',
  );
  setDefault(container, 'terminationMessagePath', '/dev/termination-log');
  setDefault(container, 'terminationMessagePolicy', 'File');
  setDefault(container, 'resources', {});
  for (const env of (container.env ?? []) as JsonObject[]) {
    const fieldRef = isObject(env.valueFrom) ? env.valueFrom.fieldRef : undefined;
    if (isObject(fieldRef)) setDefault(fieldRef, 'apiVersion', 'v1');
  }
  for (const port of (container.ports ?? []) as JsonObject[]) setDefault(port, 'protocol', 'TCP');
}

function defaultPodSpec(spec: JsonObject): void {
  for (const list of ['initContainers', 'containers'] as const) {
    for (const container of (spec[list] ?? []) as JsonObject[])
      if (isObject(container)) defaultContainer(container);
  }
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'schedulerName', 'default-scheduler');
  if (spec.serviceAccountName !== undefined) setDefault(spec, 'serviceAccount', spec.serviceAccountName);
  for (const volume of (spec.volumes ?? []) as JsonObject[]) {
    if (isObject(volume.configMap)) setDefault(volume.configMap, 'defaultMode', 420);
    if (isObject(volume.secret)) setDefault(volume.secret, 'defaultMode', 420);
    if (isObject(volume.hostPath)) setDefault(volume.hostPath, 'type', '');
  }
}

function defaultTemplate(spec: JsonObject): void {
  const template = spec.template;
  if (!isObject(template)) return;
  if (isObject(template.spec)) defaultPodSpec(template.spec);
  // A template's ObjectMeta is written with its zero creationTimestamp, as `null`.
  setDefault(template, 'metadata', {});
  if (isObject(template.metadata)) setDefault(template.metadata, 'creationTimestamp', null);
}

/** A workload's update strategy: RollingUpdate, within these bounds. */
function defaultRollingUpdate(
  spec: JsonObject,
  key: 'updateStrategy' | 'strategy',
  maxUnavailable: number | string,
  maxSurge: number | string,
): void {
  setDefault(spec, key, { type: 'RollingUpdate' });
  const strategy = spec[key];
  if (!isObject(strategy) || strategy.type !== 'RollingUpdate') return;
  setDefault(strategy, 'rollingUpdate', {});
  if (!isObject(strategy.rollingUpdate)) return;
  setDefault(strategy.rollingUpdate, 'maxUnavailable', maxUnavailable);
  setDefault(strategy.rollingUpdate, 'maxSurge', maxSurge);
}

const DEFAULTS = new Map<ResourceType, (spec: JsonObject) => void>([
  [RESOURCE.pods, defaultPodSpec],
  [
    RESOURCE.daemonsets,
    (spec) => {
      defaultTemplate(spec);
      setDefault(spec, 'revisionHistoryLimit', 10);
      defaultRollingUpdate(spec, 'updateStrategy', 1, 0);
    },
  ],
  [
    RESOURCE.deployments,
    (spec) => {
      defaultTemplate(spec);
      setDefault(spec, 'replicas', 1);
      setDefault(spec, 'revisionHistoryLimit', 10);
      setDefault(spec, 'progressDeadlineSeconds', 600);
      defaultRollingUpdate(spec, 'strategy', '25%', '25%');
    },
  ],
  [
    RESOURCE.replicasets,
    (spec) => {
      defaultTemplate(spec);
      setDefault(spec, 'replicas', 1);
    },
  ],
  [
    RESOURCE.services,
    (spec) => {
      setDefault(spec, 'type', 'ClusterIP');
      setDefault(spec, 'sessionAffinity', 'None');
      if (spec.type === 'ExternalName') return;
      setDefault(spec, 'internalTrafficPolicy', 'Cluster');
      if (spec.type === 'NodePort' || spec.type === 'LoadBalancer')
        setDefault(spec, 'externalTrafficPolicy', 'Cluster');
      if (spec.type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
      for (const port of (spec.ports ?? []) as JsonObject[]) {
        if (!isObject(port)) continue;
        setDefault(port, 'protocol', 'TCP');
        setDefault(port, 'targetPort', port.port ?? null);
      }
    },
  ],
]);

/**
 * Fills in the defaults of `object.spec` (which the caller's object owns at its top level; the
 * spec itself may be shared with a stored object, so it is replaced, never changed in place).
 */
export function applyDefaults(resource: ResourceType, object: KubeObject): void {
  const defaults = DEFAULTS.get(resource);
  if (defaults === undefined || !isObject(object.spec) || DEFAULTED.has(object.spec)) return;
  if (needsDefaults(defaults, object.spec)) {
    const spec = clone(object.spec);
    defaults(spec);
    if (!deepEqual(spec, object.spec)) object.spec = spec;
  }
  DEFAULTED.add(object.spec);
}

/**
 * Whether `defaults` would set anything in `spec`: they run over it with every default only
 * noted (they set defaults only where a member is undefined, so when none is, they read what a
 * real run reads and write nothing). Most writes carry a spec that has them all (a DaemonSet's
 * pods, from its defaulted template; a patched spec): no copy, no comparison (docs/performance.md,
 * "Sixth round"). A probe that throws answers yes: the copy then runs them as before.
 */
function needsDefaults(defaults: (spec: JsonObject) => void, spec: JsonObject): boolean {
  probing = true;
  missing = false;
  try {
    defaults(spec);
  } catch {
    missing = true;
  } finally {
    probing = false;
  }
  return missing;
}

/**
 * Specs that came out of `applyDefaults` (defaults are idempotent, so such a spec gets nothing
 * more): a write that keeps its object's stored spec (a kubelet's pod status, an annotation)
 * skips the copy and the comparison. Sound as long as stored objects are never changed in place.
 */
const DEFAULTED = new WeakSet<object>();

/**
 * The status a new DaemonSet starts with: kube-apiserver clears the status given on create, and
 * the counters that are not `omitempty` in the Go type read back as 0.
 */
export function initialStatus(resource: ResourceType, object: KubeObject): void {
  if (resource !== RESOURCE.daemonsets) return;
  object.status = {
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
    numberReady: 0,
  };
}
