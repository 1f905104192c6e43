/**
 * The objects a fresh cluster starts with, in the layout kubeadm creates them
 * (spec/kube-proxy.md §4.1), and the pods the DaemonSet controller stamps from a template.
 */
import { createHash } from 'node:crypto';
import { BoundedMap } from '../../bounded-map.ts';
import { TEMPLATE_GENERATION } from '../apiserver/object-store.ts';
import { type JsonObject, type KubeObject, rfc3339 } from '../apiserver/objects.ts';
import type { EmulatedNode } from '../scale-out/control.ts';
import { randomHex } from './random-hex.ts';

export const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'] as const;
export const KUBE_PROXY = 'kube-proxy';
export const KUBE_SYSTEM = 'kube-system';
/**
 * The pod annotation recording which `config.conf` a kube-proxy container read at its last start:
 * the emulator's window on what a real node keeps to itself, for tests and the benchmark to tell
 * whether every pod runs a given config (the reconciler never reads it). Its value is
 * `loadedConfigHash` of the text.
 */
export const LOADED_CONFIG_ANNOTATION = 'mks.ovh/loaded-config-hash';

/**
 * The first 16 hex digits of the SHA-256 of `config.conf`: the same fingerprint as mks's
 * `mks.ovh/config-hash` template annotation, so the two compare, but computed here: the emulator
 * depends on nothing of the product.
 */
export const loadedConfigHash = (text: string): string =>
  createHash('sha256').update(text).digest('hex').slice(0, 16);

export const DEFAULT_ADMISSION_FLAGS = [
  '--enable-admission-plugins=AlwaysPullImages,NodeRestriction',
] as const;
/** Field manager of the objects a cluster is installed with (as kubeadm's own). */
export const INSTALLER = 'kubeadm';
/** The kube-apiserver pod's record of the last control-plane restart (`restartApiServer`). */
export const RESTART_ANNOTATION = 'mks.ovh/restart-generation';

/** Short, stable id of a cluster used in node and pod names (`node-1a2b3c4d-0`). */
export const clusterShort = (clusterId: string): string =>
  clusterId
    .replace(/[^a-z0-9]/gi, '')
    .toLowerCase()
    .slice(0, 8) || 'cluster';

export const nodeName = (clusterId: string, index: number): string =>
  `node-${clusterShort(clusterId)}-${index}`;

/** `count` nodes of one pool named as mks named them before node pools (for tests and tools). */
export function indexedNodes(clusterId: string, count: number): EmulatedNode[] {
  return Array.from({ length: count }, (_, index) => ({
    name: nodeName(clusterId, index),
    pool: 'default',
    flavor: 'b3-8',
    labels: {},
    annotations: {},
    taints: [],
    unschedulable: false,
  }));
}

const BASE_NODE_ANNOTATIONS = {
  'node.alpha.kubernetes.io/ttl': '0',
  'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
} as const;

/** What a Node carries from its pool: labels (with the kubelet's own), annotations, taints, unschedulable. */
export function nodePoolFields(node: EmulatedNode): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: JsonObject;
} {
  return {
    labels: {
      'beta.kubernetes.io/arch': 'amd64',
      'beta.kubernetes.io/instance-type': node.flavor,
      'beta.kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      'kubernetes.io/hostname': node.name,
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/instance-type': node.flavor,
      'topology.kubernetes.io/region': 'GRA',
      'topology.kubernetes.io/zone': 'nova',
      nodepool: node.pool,
      ...node.labels,
    },
    annotations: { ...BASE_NODE_ANNOTATIONS, ...node.annotations },
    spec: {
      ...(node.taints.length === 0
        ? {}
        : { taints: node.taints.map((t) => (t.value === '' ? { key: t.key, effect: t.effect } : { ...t })) }),
      ...(node.unschedulable ? { unschedulable: true } : {}),
    },
  };
}

export const nodeIp = (index: number): string => `10.0.${Math.floor(index / 250)}.${(index % 250) + 2}`;

export function namespaceObject(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function nodeObject(
  clusterId: string,
  node: EmulatedNode,
  index: number,
  version: string,
  now: Date,
): KubeObject {
  const name = node.name;
  const fields = nodePoolFields(node);
  const time = rfc3339(now);
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: time,
    lastTransitionTime: time,
    reason,
    message,
  });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: fields.labels, annotations: fields.annotations },
    spec: {
      podCIDR: `10.2.${index}.0/24`,
      podCIDRs: [`10.2.${index}.0/24`],
      providerID: `openstack:///${randomUUIDish(clusterId, name)}`,
      ...fields.spec,
    },
    status: {
      addresses: [
        { type: 'InternalIP', address: nodeIp(index) },
        { type: 'Hostname', address: name },
      ],
      allocatable: { cpu: '7910m', 'ephemeral-storage': '46779129369', memory: '28842548Ki', pods: '110' },
      capacity: { cpu: '8', 'ephemeral-storage': '50758604Ki', memory: '30716468Ki', pods: '110' },
      conditions: [
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'kubelet has sufficient memory available',
        ),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64',
        bootID: randomUUIDish(`${clusterId}-boot`, name),
        containerRuntimeVersion: 'containerd://1.7.24',
        kernelVersion: '6.1.0-28-amd64',
        kubeProxyVersion: `v${version}`,
        kubeletVersion: `v${version}`,
        machineID: createHash('md5').update(`${clusterId}/${name}`).digest('hex'),
        operatingSystem: 'linux',
        osImage: 'Ubuntu 22.04.5 LTS',
        systemUUID: randomUUIDish(`${clusterId}-sys`, name),
      },
    },
  };
}

function randomUUIDish(seed: string, name: string): string {
  const hex = createHash('sha256').update(`${seed}/${name}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The `config.conf` a cluster is installed with: what kubeadm writes (spec/kube-proxy.md §4.1),
 * its own fields only (`bindAddress`, `clientConnection.kubeconfig`, the pod subnet) and the mode,
 * without the zero values kubeadm also marshals (kube-proxy defaults them), as in the recorded
 * real cluster (shared/fidelity/kubectl-real-v1.32/05-get-cm-yaml.txt). Written here, not by
 * mks's renderer: the installer is kubeadm, and mks only changes the file afterwards.
 */
export const KUBEADM_CONFIG_CONF = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
bindAddress: 0.0.0.0
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
clusterCIDR: 10.2.0.0/16
mode: iptables
`;

/** `kubeconfig.conf`: kubeadm's in-cluster kubeconfig, authenticating with the pod's service account. */
export function kubeadmKubeconfigConf(server: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
    server: ${server}
  name: default
contexts:
- context:
    cluster: default
    namespace: default
    user: default
  name: default
current-context: default
users:
- name: default
  user:
    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
`;
}

export function kubeProxyConfigMap(server: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: KUBE_PROXY, namespace: KUBE_SYSTEM, labels: { app: KUBE_PROXY } },
    data: { 'config.conf': KUBEADM_CONFIG_CONF, 'kubeconfig.conf': kubeadmKubeconfigConf(server) },
  };
}

/**
 * The ConfigMaps kube-apiserver keeps in kube-system: the client CA extension API servers read,
 * and when it began tracking legacy service account tokens.
 */
export function apiServerConfigMaps(caPem: string, now: Date): KubeObject[] {
  const configMap = (name: string, data: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: KUBE_SYSTEM },
    data,
  });
  return [
    configMap('extension-apiserver-authentication', { 'client-ca-file': caPem }),
    configMap('kube-apiserver-legacy-service-account-token-tracking', {
      since: rfc3339(now).replace('T', ' ').replace('Z', ''),
    }),
  ];
}

/** kube-proxy's image for a Kubernetes version: kubeadm tags it with the control plane's version. */
export function kubeProxyImage(version: string): string {
  return `registry.k8s.io/kube-proxy:v${version}`;
}

export function kubeProxyDaemonSet(version: string): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: KUBE_PROXY, namespace: KUBE_SYSTEM, labels: { 'k8s-app': KUBE_PROXY } },
    spec: {
      revisionHistoryLimit: 10,
      selector: { matchLabels: { 'k8s-app': KUBE_PROXY } },
      template: {
        metadata: { labels: { 'k8s-app': KUBE_PROXY } },
        spec: {
          containers: [
            {
              command: [
                '/usr/local/bin/kube-proxy',
                '--config=/var/lib/kube-proxy/config.conf',
                '--hostname-override=$(NODE_NAME)',
              ],
              env: [
                {
                  name: 'NODE_NAME',
                  valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'spec.nodeName' } },
                },
              ],
              image: kubeProxyImage(version),
              imagePullPolicy: 'IfNotPresent',
              name: KUBE_PROXY,
              resources: {},
              securityContext: { privileged: true },
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              volumeMounts: [
                { mountPath: '/var/lib/kube-proxy', name: KUBE_PROXY },
                { mountPath: '/run/xtables.lock', name: 'xtables-lock' },
                { mountPath: '/lib/modules', name: 'lib-modules', readOnly: true },
              ],
            },
          ],
          dnsPolicy: 'ClusterFirst',
          hostNetwork: true,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          priorityClassName: 'system-node-critical',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          securityContext: {},
          serviceAccount: KUBE_PROXY,
          serviceAccountName: KUBE_PROXY,
          terminationGracePeriodSeconds: 30,
          tolerations: [{ operator: 'Exists' }],
          volumes: [
            { configMap: { defaultMode: 420, name: KUBE_PROXY }, name: KUBE_PROXY },
            { hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' }, name: 'xtables-lock' },
            { hostPath: { path: '/lib/modules', type: '' }, name: 'lib-modules' },
          ],
        },
      },
      updateStrategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: 1 }, type: 'RollingUpdate' },
    },
    status: {
      currentNumberScheduled: 0,
      desiredNumberScheduled: 0,
      numberMisscheduled: 0,
      numberReady: 0,
    },
  };
}

export function apiServerPod(
  clusterId: string,
  version: string,
  flags: readonly string[],
  now: Date,
): KubeObject {
  const time = rfc3339(now);
  const name = `kube-apiserver-${clusterShort(clusterId)}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: KUBE_SYSTEM,
      labels: { component: 'kube-apiserver', tier: 'control-plane' },
      annotations: { 'kubernetes.io/config.source': 'file' },
    },
    spec: {
      containers: [
        {
          name: 'kube-apiserver',
          image: `registry.k8s.io/kube-apiserver:v${version}`,
          imagePullPolicy: 'IfNotPresent',
          command: apiServerCommand(flags),
          resources: { requests: { cpu: '250m' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
        },
      ],
      dnsPolicy: 'ClusterFirst',
      enableServiceLinks: true,
      nodeName: `control-plane-${clusterShort(clusterId)}`,
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      restartPolicy: 'Always',
      schedulerName: 'default-scheduler',
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      terminationGracePeriodSeconds: 30,
      tolerations: [{ effect: 'NoExecute', operator: 'Exists' }],
    },
    status: runningStatus(
      'kube-apiserver',
      `registry.k8s.io/kube-apiserver:v${version}`,
      '10.0.255.1',
      time,
      0,
    ),
  };
}

export function apiServerCommand(flags: readonly string[]): string[] {
  return [
    'kube-apiserver',
    '--advertise-address=10.0.255.1',
    '--allow-privileged=true',
    '--authorization-mode=Node,RBAC',
    '--client-ca-file=/etc/kubernetes/pki/ca.crt',
    ...flags,
    '--enable-bootstrap-token-auth=true',
    '--etcd-servers=https://127.0.0.1:2379',
    '--secure-port=6443',
    '--service-cluster-ip-range=10.3.0.0/16',
  ];
}

const containerId = (): string => `containerd://${randomHex(32)}`;

const NOT_READY: JsonObject = {
  reason: 'ContainersNotReady',
  message: 'containers with unready status: [kube-proxy]',
};

/** A pod condition (module-level, not a closure made per call: docs/performance.md, "Fourteenth round"). */
const cond = (time: string, type: string, status: boolean, extra?: JsonObject): JsonObject => ({
  type,
  status: status ? 'True' : 'False',
  lastProbeTime: null,
  lastTransitionTime: time,
  ...(status ? {} : extra),
});

const conditions = (time: string, ready: boolean, scheduledOnly = false): JsonObject[] => {
  if (scheduledOnly) return [cond(time, 'PodScheduled', true)];
  return [
    cond(time, 'PodReadyToStartContainers', true),
    cond(time, 'Initialized', true),
    cond(time, 'Ready', ready, NOT_READY),
    cond(time, 'ContainersReady', ready, NOT_READY),
    cond(time, 'PodScheduled', true),
  ];
};

/** Image IDs by image (a digest per container start was a hash each); bounded. */
const IMAGE_IDS = new BoundedMap<string, string>(256);

/** The image ID a container runtime reports for `image`: its repository and a digest of the reference. */
function imageId(image: string): string {
  let id = IMAGE_IDS.get(image);
  if (id === undefined) {
    id = `${image.split(':')[0]}@sha256:${createHash('sha256').update(image).digest('hex')}`;
    IMAGE_IDS.set(image, id);
  }
  return id;
}

export function runningStatus(
  container: string,
  image: string,
  ip: string,
  time: string,
  restartCount: number,
): JsonObject {
  return {
    phase: 'Running',
    conditions: conditions(time, true),
    hostIP: ip,
    hostIPs: [{ ip }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: time,
    qosClass: 'Burstable',
    containerStatuses: [
      {
        name: container,
        image,
        imageID: imageId(image),
        containerID: containerId(),
        ready: true,
        started: true,
        restartCount,
        lastState: {},
        state: { running: { startedAt: time } },
      },
    ],
  };
}

/** The pod the DaemonSet controller creates for `node`, still being set up by the kubelet. */
/** The controller reference a DaemonSet puts on its pods and revisions. */
export function daemonSetOwner(ds: KubeObject): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    name: ds.metadata.name ?? '',
    uid: ds.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The DaemonSet's template generation (the API server keeps it in an annotation). */
export const templateGeneration = (ds: KubeObject): string =>
  ds.metadata.annotations?.[TEMPLATE_GENERATION] ?? String(ds.metadata.generation ?? 1);

/** What the DaemonSet controller adds to its pods' tolerations (kube-controller-manager's daemon util). */
const DAEMON_TOLERATIONS: readonly JsonObject[] = [
  'node.kubernetes.io/not-ready',
  'node.kubernetes.io/unreachable',
  'node.kubernetes.io/disk-pressure',
  'node.kubernetes.io/memory-pressure',
  'node.kubernetes.io/pid-pressure',
  'node.kubernetes.io/unschedulable',
  'node.kubernetes.io/network-unavailable',
].map((key) => ({
  effect: key.endsWith('ready') || key.endsWith('unreachable') ? 'NoExecute' : 'NoSchedule',
  key,
  operator: 'Exists',
}));

/** A template's tolerations with the controller's, by template spec: its pods share one list. */
const TOLERATIONS = new WeakMap<JsonObject, JsonObject[]>();

/**
 * The tolerations of a daemon pod of template spec `spec`: one list for all its pods (stored
 * objects are never changed in place, so they may share it, as they share the template's parts).
 */
function daemonTolerations(spec: JsonObject): JsonObject[] {
  let list = TOLERATIONS.get(spec);
  if (list === undefined) {
    list = [...((spec.tolerations ?? []) as JsonObject[]), ...DAEMON_TOLERATIONS];
    TOLERATIONS.set(spec, list);
  }
  return list;
}

export function daemonPod(ds: KubeObject, hash: string, node: string, ip: string, now: Date): KubeObject {
  // Shared with the stored DaemonSet, not copied: stored objects are never changed in place, and
  // the pod's spec and labels are new objects around the template's parts.
  const template = (ds.spec as JsonObject).template as JsonObject;
  const templateMeta = (template.metadata ?? {}) as JsonObject;
  const spec = (template.spec ?? {}) as JsonObject;
  const containers = (spec.containers ?? []) as JsonObject[];
  const time = rfc3339(now);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${ds.metadata.name}-`,
      namespace: ds.metadata.namespace,
      labels: {
        ...((templateMeta.labels ?? {}) as Record<string, string>),
        'controller-revision-hash': hash,
        'pod-template-generation': templateGeneration(ds),
      },
      ...(templateMeta.annotations === undefined
        ? {}
        : { annotations: templateMeta.annotations as Record<string, string> }),
      ownerReferences: [daemonSetOwner(ds)],
    },
    spec: {
      ...spec,
      nodeName: node,
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
          },
        },
      },
      tolerations: daemonTolerations(spec),
    },
    status: {
      phase: 'Pending',
      conditions: conditions(time, false).map((c) =>
        c.type === 'PodReadyToStartContainers'
          ? { ...c, status: 'False', reason: undefined, message: undefined }
          : c,
      ) as JsonObject[],
      hostIP: ip,
      hostIPs: [{ ip }],
      podIP: ip,
      podIPs: [{ ip }],
      startTime: time,
      qosClass: 'BestEffort',
      containerStatuses: containers.map((c) => ({
        name: String(c.name),
        image: String(c.image),
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        lastState: {},
        state: { waiting: { reason: 'ContainerCreating' } },
      })),
    },
  };
}

export { containerId };
