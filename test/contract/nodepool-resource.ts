/**
 * What the `ovh/ovh` provider's `ovh_cloud_project_kube_nodepool` sends and does with a
 * `cloud.kube.NodePool` body (`ovh/types_cloud_project_kube_nodepool.go`): the create and update
 * bodies as Go marshals its option structs (field order, omitempty, nil when unset), the decode
 * into `CloudProjectKubeNodePoolResponse`, `ToMap` (which dereferences `template.spec` and
 * `template.metadata` without a nil check: a panic), and the plan diff of the attributes set.
 */
import { type GoType, goDecode, ProviderPanic } from './kube-resource.ts';

export interface Taint {
  effect: string;
  key: string;
  value?: string;
}

export interface NodePoolTemplate {
  metadata: { annotations: Record<string, string>; finalizers: string[]; labels: Record<string, string> };
  spec: { taints: Taint[]; unschedulable: boolean };
}

/** The configuration's attributes (those a configuration sets). */
export interface NodePoolConfig {
  service_name: string;
  kube_id: string;
  flavor_name: string;
  name?: string;
  desired_nodes?: number;
  min_nodes?: number;
  max_nodes?: number;
  autoscale?: boolean;
  anti_affinity?: boolean;
  monthly_billed?: boolean;
  template?: NodePoolTemplate;
}

export interface NodePoolState {
  id: string;
  flavor_name: string;
  name: string;
  desired_nodes: number;
  min_nodes: number;
  max_nodes: number;
  autoscale: boolean;
  anti_affinity: boolean;
  monthly_billed: boolean;
  status: string;
  current_nodes: number;
  available_nodes: number;
  template: NodePoolTemplate | undefined;
}

const TAINT: GoType = { object: { effect: 'string', key: 'string', value: 'string' } };
const RESPONSE: GoType = {
  object: {
    autoscale: 'bool',
    antiAffinity: 'bool',
    availableNodes: 'int',
    createdAt: 'string',
    currentNodes: 'int',
    desiredNodes: 'int',
    flavor: 'string',
    id: 'string',
    maxNodes: 'int',
    minNodes: 'int',
    monthlyBilled: 'bool',
    name: 'string',
    projectId: 'string',
    sizeStatus: 'string',
    status: 'string',
    upToDateNodes: 'int',
    updatedAt: 'string',
    template: {
      object: {
        metadata: {
          object: {
            annotations: { map: 'string' },
            finalizers: { array: 'string' },
            labels: { map: 'string' },
          },
        },
        spec: { object: { taints: { array: TAINT }, unschedulable: 'bool' } },
      },
    },
  },
};

/** Go's encoding/json writes map keys sorted. */
const sortedMap = (map: Record<string, string>) =>
  `{${Object.keys(map)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${JSON.stringify(map[key])}`)
    .join(',')}}`;

function templateJson(template: NodePoolTemplate): string {
  const taints = template.spec.taints.map(
    (taint) =>
      `{"effect":${JSON.stringify(taint.effect)},"key":${JSON.stringify(taint.key)}${taint.value ? `,"value":${JSON.stringify(taint.value)}` : ''}}`,
  );
  return (
    `{"metadata":{"annotations":${sortedMap(template.metadata.annotations)},"finalizers":${JSON.stringify(template.metadata.finalizers)},"labels":${sortedMap(template.metadata.labels)}},` +
    `"spec":{"taints":[${taints.join(',')}],"unschedulable":${template.spec.unschedulable}}}`
  );
}

/** A bool is sent only when true (GetNilBoolPointerFromData uses GetOk), an int when set. */
const field = (name: string, value: unknown) =>
  value === undefined || value === false ? [] : [`"${name}":${JSON.stringify(value)}`];

/** `CloudProjectKubeNodePoolCreateOpts` as the provider marshals it. */
export function nodePoolCreateBody(config: NodePoolConfig): string {
  return `{${[
    ...field('antiAffinity', config.anti_affinity),
    ...field('autoscale', config.autoscale),
    ...field('desiredNodes', config.desired_nodes),
    `"flavorName":${JSON.stringify(config.flavor_name)}`,
    ...field('maxNodes', config.max_nodes),
    ...field('minNodes', config.min_nodes),
    ...field('monthlyBilled', config.monthly_billed),
    ...field('name', config.name),
    ...(config.template === undefined ? [] : [`"template":${templateJson(config.template)}`]),
  ].join(',')}}`;
}

/** `CloudProjectKubeNodePoolUpdateOpts` as the provider marshals it. */
export function nodePoolUpdateBody(config: NodePoolConfig): string {
  return `{${[
    ...field('autoscale', config.autoscale),
    ...field('desiredNodes', config.desired_nodes),
    ...field('maxNodes', config.max_nodes),
    ...field('minNodes', config.min_nodes),
    ...(config.template === undefined ? [] : [`"template":${templateJson(config.template)}`]),
  ].join(',')}}`;
}

/** Decode, then `ToMap` into state (template nil when everything in it is empty, as ToMap does). */
export function readNodePool(body: unknown): NodePoolState {
  goDecode(body, RESPONSE, 'CloudProjectKubeNodePoolResponse');
  const pool = body as Record<string, unknown> & { template?: Partial<NodePoolTemplate> | null };
  const template = pool.template;
  if (template === undefined || template === null || template.spec == null || template.metadata == null) {
    throw new ProviderPanic(
      'runtime error: invalid memory address or nil pointer dereference (ToMap: template)',
    );
  }
  const metadata = template.metadata;
  const spec = template.spec;
  const empty =
    Object.keys(metadata.labels ?? {}).length === 0 &&
    Object.keys(metadata.annotations ?? {}).length === 0 &&
    (metadata.finalizers ?? []).length === 0 &&
    (spec.taints ?? []).length === 0 &&
    spec.unschedulable !== true;
  return {
    id: pool.id as string,
    flavor_name: pool.flavor as string,
    name: pool.name as string,
    desired_nodes: pool.desiredNodes as number,
    min_nodes: pool.minNodes as number,
    max_nodes: pool.maxNodes as number,
    autoscale: pool.autoscale as boolean,
    anti_affinity: pool.antiAffinity as boolean,
    monthly_billed: pool.monthlyBilled as boolean,
    status: pool.status as string,
    current_nodes: pool.currentNodes as number,
    available_nodes: pool.availableNodes as number,
    template: empty
      ? undefined
      : {
          metadata: {
            annotations: metadata.annotations ?? {},
            finalizers: metadata.finalizers ?? [],
            labels: metadata.labels ?? {},
          },
          spec: {
            taints: (spec.taints ?? []).map((taint) => ({
              effect: taint.effect,
              key: taint.key,
              value: taint.value ?? '',
            })),
            unschedulable: spec.unschedulable ?? false,
          },
        },
  };
}

/** `terraform plan` over the attributes the configuration sets (Optional+Computed ones unset: no diff). */
export function nodePoolPlanDiff(config: NodePoolConfig, state: NodePoolState): string[] {
  const diffs: string[] = [];
  const compare = (name: string, wanted: unknown, actual: unknown) => {
    if (wanted !== undefined && JSON.stringify(wanted) !== JSON.stringify(actual))
      diffs.push(`${name}: ${JSON.stringify(actual)} -> ${JSON.stringify(wanted)}`);
  };
  compare('flavor_name', config.flavor_name, state.flavor_name);
  compare('name', config.name, state.name);
  compare('desired_nodes', config.desired_nodes, state.desired_nodes);
  compare('min_nodes', config.min_nodes, state.min_nodes);
  compare('max_nodes', config.max_nodes, state.max_nodes);
  compare('autoscale', config.autoscale, state.autoscale);
  compare('anti_affinity', config.anti_affinity, state.anti_affinity);
  compare('monthly_billed', config.monthly_billed, state.monthly_billed);
  const normalized = (template: NodePoolTemplate | undefined) =>
    template === undefined
      ? undefined
      : {
          ...template,
          metadata: {
            ...template.metadata,
            labels: sortedMap(template.metadata.labels),
            annotations: sortedMap(template.metadata.annotations),
          },
          spec: {
            ...template.spec,
            taints: template.spec.taints.map((taint) => ({ ...taint, value: taint.value ?? '' })),
          },
        };
  if (config.template !== undefined || state.template !== undefined)
    compare('template', normalized(config.template) ?? null, normalized(state.template) ?? null);
  return diffs;
}
