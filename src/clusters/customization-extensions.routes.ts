/**
 * mks extensions beside OVH's customization calls (DESIGN.md §2): preview a change (or a reset)
 * before making it, read the history of changes, revert to an earlier one, follow a rollout node by node. Marked `x-mks-extension` in the
 * OpenAPI document; OVH's calls answer as before.
 */
import type { FastifyInstance } from 'fastify';
import { type CustomizationInput, customizationSchema } from '../customization/customization.model.ts';
import { IPTABLES_FIELDS, IPVS_FIELDS } from '../customization/customization.ts';
import { actorOf } from '../http/actor.ts';
import type { AppDeps } from '../http/deps.ts';
import { type KubeParams, kubeParams } from '../http/params.ts';
import { sendJson } from '../http/responses.ts';
import type { KubeProxyObserver } from './cluster-rollout.ts';
import { type CreationInput, resetSchema } from './clusters.model.ts';
import { refuseKubeProxyMode } from './customization.routes.ts';

const effectiveValueSchema = {
  type: 'object',
  properties: {
    value: { type: 'string', description: 'As kube-proxy runs it (durations in Go form)' },
    defaulted: { type: 'boolean', description: "kube-proxy's default applies" },
    set: { type: 'string', description: 'As set (ISO 8601 for durations); absent when not set' },
  },
} as const;

const effectiveSection = (fields: readonly string[]) => ({
  type: 'object',
  properties: Object.fromEntries(fields.map((field) => [field, effectiveValueSchema])),
});

/** A preview's answer; `disruption` is one of `disruptions` (or null when invalid). */
const previewSchema = <const D extends readonly string[]>(disruptions: D, description: string) => ({
  type: 'object',
  properties: {
    valid: { type: 'boolean' },
    errors: { type: 'array', items: { type: 'string' } },
    warnings: { type: 'array', items: { type: 'string' } },
    effective: {
      type: ['object', 'null'],
      properties: {
        kubeProxy: {
          type: 'object',
          properties: {
            mode: { type: 'string', enum: ['iptables', 'ipvs'] },
            iptables: effectiveSection(IPTABLES_FIELDS),
            ipvs: effectiveSection(IPVS_FIELDS),
          },
        },
        apiServer: {
          type: 'object',
          properties: {
            admissionPlugins: {
              type: 'object',
              properties: {
                enabled: { type: 'array', items: { type: 'string' } },
                disabled: { type: 'array', items: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    configConf: {
      type: 'object',
      properties: {
        current: { type: 'string' },
        next: { type: ['string', 'null'] },
        diff: { type: ['string', 'null'], description: "Unified diff current → next ('' when equal)" },
      },
    },
    disruption: { type: ['string', 'null'], enum: [...disruptions, null], description },
  },
});

const nullableString = { type: ['string', 'null'] } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;

const historySchema = {
  type: 'array',
  description: 'Newest first',
  items: {
    type: 'object',
    properties: {
      generation: { type: 'integer' },
      action: {
        type: 'string',
        enum: [
          'create',
          'customize',
          'reset',
          'revert',
          'drift',
          'rollback',
          'delete',
          'nodepool',
          'upgrade',
          'restart',
        ],
        description:
          'rollback: kube-proxy failed on a node and the nodes changed went back to rolledBackTo (the desired customization is unchanged)',
      },
      at: { type: 'string', format: 'date-time' },
      applicationId: { ...nullableInteger, description: 'null for changes recorded before mks kept it' },
      applicationName: nullableString,
      credentialId: nullableInteger,
      sourceIp: nullableString,
      queryId: { ...nullableString, description: 'The X-Ovh-QueryID of the request that made it' },
      revertOf: { ...nullableInteger, description: "A revert's restored generation" },
      rolledBackTo: {
        ...nullableInteger,
        description: "The generation a rollback's nodes went back to: the last one healthy everywhere",
      },
      note: {
        ...nullableString,
        description:
          'What a drift repair restored (action drift), or why a rollout was rolled back (rollback)',
      },
      kubeProxyMode: { type: 'string', enum: ['iptables', 'ipvs'] },
      version: { type: 'string' },
      customization: customizationSchema,
      diff: {
        type: 'array',
        description: 'What the change changed against the one before (everything set, for the first)',
        items: {
          type: 'object',
          properties: { field: { type: 'string' }, from: nullableString, to: nullableString },
        },
      },
      outcome: {
        type: ['object', 'null'],
        description: 'How applying it ended; null while applied, or when a later change replaced it first',
        properties: {
          status: { type: 'string', enum: ['READY', 'ERROR'] },
          message: nullableString,
          at: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
} as const;

const revertBody = {
  type: 'object',
  properties: { generation: { type: 'integer', minimum: 1, description: 'A generation of the history' } },
  required: ['generation'],
  additionalProperties: false,
} as const;

const rolloutSchema = {
  type: 'object',
  properties: {
    generation: { type: 'integer', description: 'The generation being applied (or last applied)' },
    observedGeneration: { type: 'integer' },
    status: { type: 'string' },
    statusMessage: nullableString,
    configHash: { type: 'string', description: "The hash of the generation's config.conf" },
    phase: {
      type: ['string', 'null'],
      enum: ['pending', 'config-applied', 'rolling', 'done', 'failed', 'rolled-back', null],
      description:
        'pending: the ConfigMap lacks the config; config-applied: kube-proxy not restarted yet; rolling: node by node; ' +
        'done; failed: see statusMessage; rolled-back: failed on a node, whose changed nodes went back to the last ' +
        "config healthy everywhere (see statusMessage). null when the cluster's Kubernetes API cannot be read (see message)",
    },
    message: nullableString,
    desired: { type: 'integer' },
    updated: { type: 'integer' },
    available: { type: 'integer' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          node: nullableString,
          pod: { type: 'string' },
          configHash: nullableString,
          generation: { ...nullableInteger, description: 'The newest generation whose config has that hash' },
          ready: { type: 'boolean' },
          restarts: { type: 'integer' },
          message: nullableString,
        },
      },
    },
  },
} as const;

/** Without a Kubernetes client (an API built alone, e.g. for the OpenAPI document). */
const NO_OBSERVER: KubeProxyObserver = {
  observe: async () => ({ unreachable: 'this process does not reach the clusters' }),
};

export function registerCustomizationExtensionRoutes(
  app: FastifyInstance,
  deps: Pick<AppDeps, 'clusters' | 'kubeProxyObserver'>,
): void {
  app.get(
    '/kube/:kubeId/rollout',
    {
      schema: {
        'x-mks-extension': true,
        tags: ['kube'],
        summary: "The kube-proxy rollout node by node: each node's pod, config, readiness (mks extension)",
        params: kubeParams,
        response: { 200: rolloutSchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(
        reply,
        await deps.clusters.rollout(serviceName, kubeId, deps.kubeProxyObserver ?? NO_OBSERVER),
      );
    },
  );

  app.post(
    '/kube/:kubeId/customization/preview',
    {
      preValidation: refuseKubeProxyMode,
      schema: {
        'x-mks-extension': true,
        tags: ['kube'],
        summary:
          'Preview a customization update (mks extension): the body a PUT …/customization takes; nothing is stored',
        params: kubeParams,
        body: customizationSchema,
        response: {
          200: previewSchema(
            ['none', 'rolling-restart'] as const,
            'none: kube-proxy keeps running as is; rolling-restart: kube-proxy restarts node by node',
          ),
        },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(
        reply,
        await deps.clusters.previewCustomization(
          serviceName,
          kubeId,
          (request.body ?? {}) as CustomizationInput,
        ),
      );
    },
  );

  app.post(
    '/kube/:kubeId/reset/preview',
    {
      schema: {
        'x-mks-extension': true,
        tags: ['kube'],
        summary:
          'Preview a reset (mks extension): the body a POST …/reset takes; what it changes (kubeProxyMode, version), ' +
          'the config.conf it installs; nothing is stored',
        params: kubeParams,
        body: resetSchema,
        response: {
          200: previewSchema(
            ['reset-required'] as const,
            "reset-required: the cluster's Kubernetes data is erased and kube-proxy reinstalled (the only way to change kubeProxyMode)",
          ),
        },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(
        reply,
        await deps.clusters.previewReset(serviceName, kubeId, (request.body ?? {}) as CreationInput),
      );
    },
  );

  app.get(
    '/kube/:kubeId/customization/history',
    {
      schema: {
        'x-mks-extension': true,
        tags: ['kube'],
        summary:
          'Every change of the cluster, newest first: who, when, the diff and the outcome (mks extension)',
        params: kubeParams,
        response: { 200: historySchema },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      return sendJson(reply, await deps.clusters.history(serviceName, kubeId));
    },
  );

  app.post(
    '/kube/:kubeId/customization/revert',
    {
      schema: {
        'x-mks-extension': true,
        tags: ['kube'],
        summary:
          "Make an earlier generation's customization the desired one again, as a new generation (mks extension)",
        params: kubeParams,
        body: revertBody,
        response: { 200: { type: 'object', properties: { message: { type: 'string' } } } },
      },
    },
    async (request, reply) => {
      const { serviceName, kubeId } = request.params as KubeParams;
      const { generation } = request.body as { generation: number };
      return sendJson(
        reply,
        await deps.clusters.revertCustomization(serviceName, kubeId, generation, actorOf(request)),
      );
    },
  );
}
