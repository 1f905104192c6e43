/**
 * The create-only kinds kube-apiserver answers without storing them: the access reviews
 * (`kubectl auth can-i`, `kubectl auth whoami`), TokenReview, and `bindings` (a pod bound to a
 * node, as a scheduler does). The kubeconfig's token is the cluster's admin (in
 * `system:masters`, which kube-apiserver allows everything without RBAC's say), so every access
 * review is allowed.
 */
import type { ObjectStore } from './object-store.ts';
import {
  badRequestError,
  invalidError,
  isObject,
  type JsonObject,
  type KubeObject,
  StatusError,
} from './objects.ts';
import { RESOURCE, type ResourceType } from './resources.ts';

/** The user every accepted token is. */
export const ADMIN_USER = {
  username: 'kubernetes-admin',
  groups: ['system:masters', 'system:authenticated'],
};

export interface ReviewContext {
  readonly cluster: ObjectStore;
  readonly namespace: string | undefined;
  /** Whether a token is one this cluster accepts (TokenReview). */
  tokenAccepted(token: string): Promise<boolean>;
}

/** Answers a create of a virtual kind: the object with its status (or a Status for `bindings`). */
export async function answerVirtual(
  resource: ResourceType,
  body: KubeObject,
  context: ReviewContext,
): Promise<JsonObject> {
  const spec = isObject(body.spec) ? body.spec : {};
  const answer = (status: JsonObject): JsonObject => ({
    kind: resource.kind,
    apiVersion: body.apiVersion,
    metadata: { ...(JSON.parse(JSON.stringify(body.metadata)) as JsonObject), creationTimestamp: null },
    ...(resource.kind === 'SelfSubjectReview' ? {} : { spec }),
    status,
  });
  switch (resource.kind) {
    case 'SubjectAccessReview':
    case 'SelfSubjectAccessReview':
    case 'LocalSubjectAccessReview': {
      const attributes = ['resourceAttributes', 'nonResourceAttributes'].filter((key) => isObject(spec[key]));
      if (attributes.length !== 1) {
        throw invalidError(resource.kind, resource.group, '', [
          'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified',
        ]);
      }
      if (resource.kind === 'SubjectAccessReview' && spec.user === undefined && spec.groups === undefined) {
        throw invalidError(resource.kind, resource.group, '', [
          'spec.user: Invalid value: "": at least one of user or group must be specified',
        ]);
      }
      if (resource.kind === 'LocalSubjectAccessReview') {
        const asked = isObject(spec.resourceAttributes) ? spec.resourceAttributes.namespace : undefined;
        if (asked !== context.namespace) {
          throw invalidError(resource.kind, resource.group, '', [
            `spec.resourceAttributes.namespace: Invalid value: "${String(asked ?? '')}": must match metadata.namespace`,
          ]);
        }
      }
      // Only the admin exists: another user's review says what RBAC-less access means for it.
      const admin =
        resource.kind !== 'SubjectAccessReview' ||
        (Array.isArray(spec.groups) && spec.groups.includes('system:masters'));
      return answer(admin ? { allowed: true } : { allowed: false, reason: 'no RBAC rules are served' });
    }
    case 'SelfSubjectRulesReview':
      return answer({
        resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }],
        nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
        incomplete: false,
      });
    case 'SelfSubjectReview':
      return answer({ userInfo: ADMIN_USER });
    case 'TokenReview': {
      if (typeof spec.token !== 'string' || spec.token === '')
        throw invalidError(resource.kind, resource.group, '', ['spec.token: Required value']);
      return answer(
        (await context.tokenAccepted(spec.token))
          ? { authenticated: true, user: ADMIN_USER, audiences: ['https://kubernetes.default.svc'] }
          : { authenticated: false, error: 'invalid bearer token' },
      );
    }
    case 'Binding':
      return bind(context.cluster, context.namespace ?? '', body);
    default:
      throw badRequestError(`${resource.kind} cannot be created`);
  }
}

/** `POST …/bindings`: binds a pending pod to a node. */
function bind(cluster: ObjectStore, namespace: string, binding: KubeObject): JsonObject {
  const target = isObject(binding.target) ? binding.target : {};
  const podName = binding.metadata.name ?? '';
  const nodeName = typeof target.name === 'string' ? target.name : '';
  if (nodeName === '')
    throw invalidError('Binding', '', podName, ['target.name: Required value: the node to bind to']);
  const pod = cluster.mustGet(RESOURCE.pods, namespace, podName);
  const spec = (pod.spec ?? {}) as JsonObject;
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') {
    throw new StatusError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on pods/binding "${podName}": pod ${podName} is already assigned to node "${spec.nodeName}"`,
      { name: podName, kind: 'pods/binding' },
    );
  }
  cluster.update(RESOURCE.pods, { ...pod, spec: { ...spec, nodeName } }, { owned: true });
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
}
