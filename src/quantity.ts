/**
 * Kubernetes resource quantities (`100m`, `2`, `1.5`, `128Mi`, `1G`, `1e3`) as numbers: CPU in
 * cores, memory in bytes. Pure; shared by the emulator's scheduler and the reconciler's autoscaler,
 * which read the same Pod and Node fields from either side of the Kubernetes API.
 */
const SUFFIXES: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value, or undefined when it is not one. */
export function parseQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  if (typeof text !== 'string') return undefined;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$/.exec(
    text.trim(),
  );
  if (match === null) return undefined;
  const value = Number(`${match[1]}${match[2] ?? ''}`);
  return value * SUFFIXES[match[3] ?? '']!;
}

/** What a Pod's containers request (their `resources.requests`), CPU in cores and memory in bytes. */
export function podRequests(spec: unknown): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  const containers = (spec as { containers?: unknown } | undefined)?.containers;
  for (const container of Array.isArray(containers) ? containers : []) {
    const requests = (container as { resources?: { requests?: Record<string, unknown> } }).resources
      ?.requests;
    cpu += parseQuantity(requests?.cpu) ?? 0;
    memory += parseQuantity(requests?.memory) ?? 0;
  }
  return { cpu, memory };
}
