/**
 * What kube-apiserver's Service registry adds to a new Service: a cluster IP from the service
 * range (OVH's clusters use 10.3.0.0/16), its IP family, and a node port for each port of a
 * NodePort or LoadBalancer Service; on a replace, what the client left out is kept.
 */
import { isObject, type JsonObject, type KubeObject } from './objects.ts';

const SERVICE_RANGE_BASE = (10 << 24) | (3 << 16);
const SERVICE_RANGE_SIZE = 1 << 16;
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

const ipText = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function pick(taken: Set<string | number>, candidate: () => string | number): string | number {
  for (;;) {
    const value = candidate();
    if (!taken.has(value)) return value;
  }
}

/** Allocates a new Service's cluster IP and node ports (random, unused), as the registry does. */
export function allocateServiceAddresses(service: KubeObject, existing: readonly KubeObject[]): void {
  if (!isObject(service.spec)) return;
  const spec = { ...service.spec };
  const type = String(spec.type ?? 'ClusterIP');
  if (type === 'ExternalName') return;
  const specs = existing.map((s) => (isObject(s.spec) ? s.spec : {}));
  if (spec.clusterIP === undefined || spec.clusterIP === '') {
    const used = new Set<string | number>(specs.map((s) => String(s.clusterIP ?? '')));
    if (used.size >= SERVICE_RANGE_SIZE - 2) return;
    spec.clusterIP = pick(used, () =>
      ipText(SERVICE_RANGE_BASE + 1 + Math.floor(Math.random() * (SERVICE_RANGE_SIZE - 2))),
    );
  }
  if (spec.clusterIP !== 'None') spec.clusterIPs ??= [spec.clusterIP];
  spec.ipFamilies ??= ['IPv4'];
  spec.ipFamilyPolicy ??= 'SingleStack';
  if (type === 'NodePort' || type === 'LoadBalancer') {
    const used = new Set<string | number>(
      specs.flatMap((s) => ((s.ports ?? []) as JsonObject[]).map((p) => Number(p.nodePort ?? 0))),
    );
    spec.ports = ((spec.ports ?? []) as JsonObject[]).map((port) => {
      if (port.nodePort !== undefined) return port;
      const nodePort = pick(
        used,
        () => NODE_PORT_MIN + Math.floor(Math.random() * (NODE_PORT_MAX - NODE_PORT_MIN + 1)),
      );
      used.add(nodePort);
      return { ...port, nodePort };
    });
  }
  service.spec = spec;
}

/** A replaced Service keeps the addresses it was given when the client leaves them out. */
export function keepServiceAddresses(service: KubeObject, current: KubeObject): void {
  if (!isObject(service.spec) || !isObject(current.spec)) return;
  const spec = { ...service.spec };
  for (const key of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy'])
    if (spec[key] === undefined && current.spec[key] !== undefined) spec[key] = current.spec[key];
  service.spec = spec;
}
