/** Path parameters shared by the project-scoped routes. */

/** Route prefix of everything scoped to one project (its owner is checked once, here). */
export const PROJECT_PREFIX = '/1.0/cloud/project/:serviceName';

export const projectParams = {
  type: 'object',
  properties: { serviceName: { type: 'string', description: 'Project id (service name)' } },
  required: ['serviceName'],
} as const;

export const kubeParams = {
  type: 'object',
  properties: { ...projectParams.properties, kubeId: { type: 'string', description: 'Cluster id' } },
  required: ['serviceName', 'kubeId'],
} as const;

export interface KubeParams {
  serviceName: string;
  kubeId: string;
}

export const nodePoolParams = {
  type: 'object',
  properties: { ...kubeParams.properties, nodePoolId: { type: 'string', description: 'Node pool id' } },
  required: ['serviceName', 'kubeId', 'nodePoolId'],
} as const;

export interface NodePoolParams extends KubeParams {
  nodePoolId: string;
}

export const nodeParams = {
  type: 'object',
  properties: { ...kubeParams.properties, nodeId: { type: 'string', description: 'Node id' } },
  required: ['serviceName', 'kubeId', 'nodeId'],
} as const;

export interface NodeParams extends KubeParams {
  nodeId: string;
}
